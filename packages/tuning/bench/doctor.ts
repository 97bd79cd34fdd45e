/**
 * Bench (not a test): what storage integrity costs.
 * 1. Stage-cache checks of experiments/brain-mri.yaml's four stage folders (ensured first; a cold
 *    cache builds them): `full` (every sha256: `--verify`, MRI_VERIFY=1, doctor --verify, adopting an
 *    Nx replica), `auto` (what every cache hit does) and `size`. Page cache warm (the folders were
 *    just read or written; dropping caches would disturb the other users of the machine).
 * 2. Rebuilding the tracking file from the trial-folder records of a real sweep: by default the
 *    quick-start experiment (experiments/default.yaml, 6 trials), run fresh into a temp folder;
 *    BENCH_DOCTOR_RUNS=<runs folder> rebuilds from an existing one instead. Rows are checked equal.
 * BENCH_REPEATS runs (default 3) of each measurement, medians and every run in runs/bench/doctor.json.
 * BENCH_DOCTOR_SKIP_STAGES=1 skips part 1 (no brain-mri build). BENCH_DOCTOR_STAGE_DIRS=stage=dir,… checks
 * those brain-mri folders as they are instead of ensuring them (stage keys hash the source code, so on a
 * tree others are editing, folders built a few minutes earlier may no longer be this code's hit).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autoHashLimitBytes, median, verifyStageDir, workspaceRoot, type VerifyMode } from '@mri-robust/core';
import { openTracking, TRACKING_FILE, TRACKING_TABLES } from '@mri-robust/tracking';
import { rebuildTracking } from '../src/doctor.ts';
import { listSweepFolders } from '../src/import.ts';
import { ensureStages, loadSweep, runSweep } from '../src/sweep.ts';

const root = workspaceRoot();
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const out: Record<string, unknown> = { date: new Date().toISOString(), repeats: REPEATS, cpus: os.cpus().length, loadavg: os.loadavg() };

// ---- 1. stage caches of brain-mri ----
if (process.env.BENCH_DOCTOR_SKIP_STAGES !== '1') {
  const given = process.env.BENCH_DOCTOR_STAGE_DIRS;
  let dirs: { stage: string; dir: string; built: boolean }[];
  let ensureS: number | null = null;
  if (given) {
    dirs = given.split(',').map((kv) => {
      const [stage, dir] = kv.split('=');
      return { stage, dir: path.resolve(dir), built: false };
    });
  } else {
    const plan = await loadSweep(path.join(root, 'experiments', 'brain-mri.yaml'));
    const t0 = performance.now();
    const stages = await ensureStages(plan.experiment);
    ensureS = (performance.now() - t0) / 1000;
    dirs = Object.entries(stages).map(([stage, ref]) => ({ stage, dir: ref.dir, built: !ref.hit }));
  }
  process.stderr.write(
    `brain-mri stages ready${ensureS === null ? ' (given)' : ` in ${ensureS.toFixed(1)} s`}: ${dirs.map((d) => `${d.stage}${d.built ? ' (built)' : ''}`).join(', ')}\n`,
  );
  const modes: Record<string, unknown> = {};
  for (const mode of ['full', 'auto', 'size'] as VerifyMode[]) {
    const runs: { seconds: number; bytes: number; hashedBytes: number; files: number; ok: boolean; perStage: Record<string, number> }[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const r = { seconds: 0, bytes: 0, hashedBytes: 0, files: 0, ok: true, perStage: {} as Record<string, number> };
      for (const d of dirs) {
        const ts = performance.now();
        const v = await verifyStageDir(d.dir, mode);
        const s = (performance.now() - ts) / 1000;
        r.perStage[d.stage] = s;
        r.seconds += s;
        r.bytes += v.bytes;
        r.hashedBytes += v.hashedBytes;
        r.files += v.files;
        r.ok &&= v.ok;
      }
      runs.push(r);
      process.stderr.write(
        `verify ${mode}: ${r.seconds.toFixed(2)} s, ${(r.hashedBytes / 2 ** 20).toFixed(0)} of ${(r.bytes / 2 ** 20).toFixed(0)} MiB hashed, ${r.files} files\n`,
      );
    }
    const med = median(runs.map((r) => r.seconds));
    modes[mode] = {
      medianSeconds: med,
      MiBPerSecond: runs[0].hashedBytes ? runs[0].hashedBytes / 2 ** 20 / med : null,
      runs,
    };
  }
  out.stages = {
    experiment: 'experiments/brain-mri.yaml',
    ensureSeconds: ensureS,
    folders: dirs,
    autoHashLimitMiB: autoHashLimitBytes() / 2 ** 20,
    modes,
  };
}

// ---- 2. rebuilding tracking.duckdb from trial folders ----
let runsDir = process.env.BENCH_DOCTOR_RUNS ? path.resolve(process.env.BENCH_DOCTOR_RUNS) : '';
let sweepSeconds: number | null = null;
if (!runsDir) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-doctor-'));
  runsDir = path.join(tmp, 'runs');
  const src = path.join(root, 'experiments', 'default.yaml');
  const text = fs.readFileSync(src, 'utf8').replace(/\.\.\/\.\.\/shared/g, path.join(root, '..', 'shared'));
  const file = path.join(tmp, 'default.yaml');
  fs.writeFileSync(file, /^runs:/m.test(text) ? text.replace(/^runs:.*$/m, 'runs: ./runs') : `${text}\nruns: ./runs\n`);
  const t0 = performance.now();
  await runSweep({ experimentFile: file, gallery: false, out: () => undefined });
  sweepSeconds = (performance.now() - t0) / 1000;
}
const original = path.join(runsDir, TRACKING_FILE);
async function counts(file: string): Promise<Record<string, number>> {
  const t = await openTracking(file, { readOnly: true });
  try {
    const c: Record<string, number> = {};
    for (const table of TRACKING_TABLES) c[table] = (await t.all(`SELECT * FROM ${table}`)).length;
    return c;
  } finally {
    await t.close();
  }
}
async function rowsOf(file: string): Promise<string> {
  const t = await openTracking(file, { readOnly: true });
  try {
    const parts: unknown[] = [];
    for (const table of TRACKING_TABLES) parts.push(await t.all(`SELECT * FROM ${table} ORDER BY ALL`));
    return JSON.stringify(parts);
  } finally {
    await t.close();
  }
}
const rebuildRuns: { seconds: number; equal: boolean }[] = [];
const ref = await rowsOf(original);
for (let i = 0; i < REPEATS; i++) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rebuild-'));
  // The rebuilt file lives beside a copy of the records' runs folder layout: rebuildTracking reads <runs>/trials.
  const file = path.join(dir, TRACKING_FILE);
  fs.symlinkSync(path.join(runsDir, 'trials'), path.join(dir, 'trials'));
  const t0 = performance.now();
  await rebuildTracking(dir, file);
  const seconds = (performance.now() - t0) / 1000;
  rebuildRuns.push({ seconds, equal: (await rowsOf(file)) === ref });
  fs.rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`rebuild: ${seconds.toFixed(2)} s, rows equal: ${rebuildRuns.at(-1)!.equal}\n`);
}
const rebuildMedian = median(rebuildRuns.map((r) => r.seconds));
const c = await counts(original);
out.rebuild = {
  runsDir,
  sweeps: listSweepFolders(runsDir).length,
  rows: c,
  sweepSeconds,
  medianSeconds: rebuildMedian,
  secondsPerTrial: c.trials ? rebuildMedian / c.trials : null,
  runs: rebuildRuns,
};

const benchDir = path.join(root, 'runs', 'bench');
fs.mkdirSync(benchDir, { recursive: true });
fs.writeFileSync(path.join(benchDir, 'doctor.json'), JSON.stringify(out, null, 2) + '\n');
process.stderr.write(`wrote ${path.join(benchDir, 'doctor.json')}\n`);
