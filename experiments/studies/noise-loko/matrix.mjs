// Run from the repository root after the sweeps of gen.mjs. Reads runs/tracking.duckdb (read-only) and prints the head-mode noise study: per variant clean
// accuracy, mean accuracy per mri-c kind (severities 1-5), CE/mCE/relative mCE against ONE fixed
// baseline (the baseline.json of the `none` variant), and the held-out-kind cell of each LOKO run.
import { DuckDBInstance } from '@duckdb/node-api';
import { corruptionSummary } from '../../../packages/core/src/robustness.ts';
import { NOISE_KINDS } from '../../../packages/noise/src/models/types.ts';
import { readFileSync, readdirSync } from 'node:fs';
const KINDS = NOISE_KINDS;
const db = await DuckDBInstance.create(process.env.DB ?? 'runs/tracking.duckdb', { access_mode: 'READ_ONLY' });
const con = await db.connect();
const rows = await (
  await con.run(`select s.name, e.test_set, e.noise_kind, e.severity, e.accuracy from evaluations e join sweeps s using (sweep_id) where s.name like 'hm-%'`)
).getRowObjects();
const by = new Map();
for (const r of rows) {
  const v = r.name.replace(/^hm-/, '');
  if (!by.has(v)) by.set(v, { clean: null, acc: {} });
  const o = by.get(v);
  if (r.test_set === 'test') o.clean = r.accuracy;
  else {
    o.acc[r.noise_kind] ??= {};
    o.acc[r.noise_kind][r.severity] = r.accuracy;
  }
}
// Fixed baseline: BASE_KEY=<runs/cache/baseline key> picks it (the `none` variant's, built by report:build of that sweep); else the first found.
const bdir = 'runs/cache/baseline';
let base = null;
for (const k of readdirSync(bdir)) {
  try {
    const b = JSON.parse(readFileSync(`${bdir}/${k}/baseline.json`, 'utf8'));
    const _meta = JSON.parse(readFileSync(`${bdir}/${k}/stage.json`, 'utf8'));
    if (process.env.BASE_KEY ? k === process.env.BASE_KEY : true) {
      base ??= { key: k, ...b };
    }
  } catch {}
}
const out = [];
for (const [v, o] of [...by].sort()) {
  const per = {};
  const corrupted = [];
  for (const k of KINDS) {
    const a = o.acc[k] ?? {};
    const sev = Object.keys(a);
    if (sev.length !== 5) continue;
    per[k] = sev.reduce((s, x) => s + a[x], 0) / 5;
    for (const x of sev) corrupted.push({ kind: k, severity: Number(x), accuracy: a[x] });
  }
  // CE / mCE / relative mCE exactly as model:evaluate and the report compute them (core).
  const s = corruptionSummary({ clean: o.clean, corrupted }, { clean: base.clean, corrupted: base.corrupted });
  out.push({ v, clean: o.clean, mce: s.mce, rmce: s.relativeMce, per });
}
console.log(`baseline ${base.key} (${base.name}): clean ${base.clean.toFixed(3)}`);
const pct = (x) => (x == null ? '  -  ' : (100 * x).toFixed(1).padStart(5));
console.log(`${'variant'.padEnd(20)} clean   mCE  relmCE | ${KINDS.map((k) => k.slice(0, 6).padStart(6)).join('')}`);
for (const r of out)
  console.log(
    r.v.padEnd(20) +
      pct(r.clean) +
      ' ' +
      r.mce.toFixed(3) +
      ' ' +
      r.rmce.toFixed(3) +
      ' | ' +
      KINDS.map((k) => {
        const s = pct(r.per[k]);
        return (r.v === `loko-${k}` ? `[${s.trim()}]` : s).padStart(6);
      }).join(''),
  );
// held-out summary
console.log('\nheld-out kind k: acc(LOKO-k on k) vs all12 (k seen) vs none (never noise)');
const f = (v) => out.find((r) => r.v === v);
for (const k of KINDS) {
  const l = f(`loko-${k}`);
  if (!l) continue;
  console.log(k.padEnd(14), pct(l.per[k]), pct(f('all12')?.per[k]), pct(f('none')?.per[k]));
}
if (process.env.MD) {
  const label = {
    none: 'no training noise',
    former: 'former: sartaj duplicate groups (77 %), 3 kinds',
    shipped: 'shipped: all sources, 100 %, 3 kinds',
    all12: 'all sources, 50 %, 12 kinds, one per image',
    'all12-chain': 'all sources, 50 %, 12 kinds, chains 1–3',
  };
  const order = ['none', 'former', 'shipped', 'all12', 'all12-chain', ...KINDS.map((k) => `loko-${k}`)];
  const md = [`| training noise (head mode) | clean | mCE | ${KINDS.join(' | ')} |`, `|${'---|'.repeat(3 + KINDS.length)}`];
  for (const v of order) {
    const r = out.find((x) => x.v === v);
    const lab = label[v] ?? `all but ${v.slice(5)}`;
    if (!r) {
      md.push(`| ${lab} | not run (time) |${' |'.repeat(KINDS.length + 1)}`);
      continue;
    }
    md.push(
      `| ${lab} | ${(100 * r.clean).toFixed(1)} | ${r.mce.toFixed(3)} | ` +
        KINDS.map((k) => {
          const s = (100 * r.per[k]).toFixed(1);
          return v === `loko-${k}` ? `**${s}**` : s;
        }).join(' | ') +
        ' |',
    );
  }
  console.log(md.join('\n'));
}
