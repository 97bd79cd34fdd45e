// `npm run bench`: runs every packages/*/bench/*.ts in turn (each writes runs/bench/<name>.json),
// then writes runs/bench/summary.json with what each one reported. Heavy measurement lives here,
// never in tests. `npm run bench -- noise sweep` runs only the benches whose file name matches.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isUserFacingError, parseFlags, workspaceRoot } from '@mri-robust/core';

const root = workspaceRoot();
let only: string[];
try {
  only = parseFlags(process.argv.slice(2), {})._; // names only: any --flag is an error naming the allowed (none)
} catch (e) {
  process.stderr.write(`error: ${isUserFacingError(e) ? e.message : String(e)}\n`);
  process.exit(1);
}
const benchDir = path.join(root, 'runs', 'bench');
mkdirSync(benchDir, { recursive: true });

const files = readdirSync(path.join(root, 'packages'))
  .flatMap((pkg) => {
    const dir = path.join(root, 'packages', pkg, 'bench');
    return existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.ts'))
          .map((f) => path.join(dir, f))
      : [];
  })
  .sort();
const unmatched = only.filter((o) => !files.some((f) => path.basename(f).includes(o)));
if (unmatched.length > 0) {
  const names = files.map((f) => path.relative(root, f)).join(', ');
  process.stderr.write(`error: no bench file name contains ${unmatched.map((o) => JSON.stringify(o)).join(', ')}; benches: ${names}\n`);
  process.exit(1);
}
const chosen = files.filter((f) => only.length === 0 || only.some((o) => path.basename(f).includes(o)));

const results: Record<string, { ok: boolean; seconds: number; error?: string }> = {};
for (const file of chosen) {
  const name = path.relative(root, file);
  process.stderr.write(`\n=== bench ${name}\n`);
  const t0 = Date.now();
  try {
    execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: 'inherit' });
    results[name] = { ok: true, seconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    results[name] = { ok: false, seconds: (Date.now() - t0) / 1000, error: (e as Error).message.split('\n')[0] };
  }
}
const outputs = Object.fromEntries(
  readdirSync(benchDir)
    .filter((f) => f.endsWith('.json') && f !== 'summary.json')
    .map((f) => [f, JSON.parse(readFileSync(path.join(benchDir, f), 'utf8')) as unknown]),
);
writeFileSync(path.join(benchDir, 'summary.json'), JSON.stringify({ runAt: new Date().toISOString(), results, outputs }, null, 2));
process.stderr.write(`\nbench: ${Object.values(results).filter((r) => r.ok).length}/${chosen.length} ok; figures in runs/bench/\n`);
if (Object.values(results).some((r) => !r.ok)) process.exitCode = 1;
