/**
 * CLI of the tuning package (used by its Nx targets):
 *   sweep [--experiment=experiments/default.yaml] [--max-parallel=N]
 *   best  [--experiment=<file> | --sweep=<id>]   (default: the latest sweep)
 *   doctor [--runs=DIR] [--repair] [--verify]    checks tracking file, trial records, stage caches, models
 *   import [--runs=DIR]                          completes tracking.duckdb from the trial-folder records
 *   sweep --queue=redis://HOST:PORT/DB           trials run on tuning:worker processes (also MRI_QUEUE, sweep.queue)
 *   worker --queue=redis://… [--concurrency=N] [--runs=DIR]   runs queued trials (see queue/agent.ts)
 * `--verify` (sweep, doctor) checks every stage cache file's sha256 (as MRI_VERIFY=1 does).
 * Exit codes of sweep: 0 every trial finished or pruned; 3 (EXIT_TRIALS_FAILED) some trial failed —
 * everything else is recorded and the summary names each failed trial and why; 1 bad input or error.
 */
import path from 'node:path';
import { defaultExperimentFile, parseArgs, runMain, stringFlag, UserError, workspaceRoot } from '@mri-robust/core';
import { bestTrialReport, EXIT_TRIALS_FAILED, failedTrialsLine } from './summary.ts';
import { loadSweep, runSweep } from './sweep.ts';
import { runDoctor } from './doctor.ts';
import { workerCommand } from './queue/index.ts';
import { importSweepFolder, listSweepFolders } from './import.ts';
import { openTracking } from '@mri-robust/tracking';
import { getSweep, latestSweep, listSweeps, openTrackingReader, TRACKING_FILE } from '@mri-robust/tracking';

function experimentFile(args: ReturnType<typeof parseArgs>): string {
  const e = stringFlag(args, 'experiment');
  return e ? path.resolve(process.cwd(), e) : defaultExperimentFile();
}

async function sweep(args: ReturnType<typeof parseArgs>): Promise<number> {
  const mp = stringFlag(args, 'maxParallel');
  const maxParallel = mp === undefined ? undefined : Number(mp);
  if (maxParallel !== undefined && !(Number.isInteger(maxParallel) && maxParallel >= 1)) {
    throw new UserError(`--max-parallel must be an integer ≥ 1, got ${mp}`);
  }
  if (isOn(args.verify)) process.env.MRI_VERIFY = '1';
  const r = await runSweep({ experimentFile: experimentFile(args), maxParallel, queue: stringFlag(args, 'queue') });
  process.stderr.write(
    `next: npx nx run report:build --sweep=${r.sweepId}   (HTML report)\n` +
      `      npx nx run tuning:best --sweep=${r.sweepId}    (best trial)\n` +
      `      npx nx run serve:start                         (predict page with the best model)\n`,
  );
  if (r.failedTrials.length === 0) return 0;
  process.stderr.write(`${failedTrialsLine(r.sweepId, r.failedTrials)}\n`);
  return EXIT_TRIALS_FAILED;
}

async function best(args: ReturnType<typeof parseArgs>): Promise<number> {
  let sweepId = stringFlag(args, 'sweep');
  let runsDir = path.join(workspaceRoot(), 'runs');
  if (!sweepId && args.experiment !== undefined) {
    const plan = await loadSweep(experimentFile(args));
    sweepId = plan.sweepId;
    runsDir = plan.experiment.runsDir;
  }
  const file = stringFlag(args, 'tracking') ?? path.join(runsDir, TRACKING_FILE);
  const t = await openTrackingReader(file);
  try {
    if (!sweepId) {
      const latest = await latestSweep(t);
      if (!latest) throw new UserError(`${file} holds no sweep yet: run npx nx run tuning:sweep`);
      sweepId = latest.sweep_id;
    } else if (!(await getSweep(t, sweepId))) {
      const known = (await listSweeps(t)).map((s) => s.sweep_id);
      const shown = known.slice(0, 20).join(', ') || '(none)';
      throw new UserError(
        `--sweep ${sweepId}: no such sweep in ${file}; known sweeps, newest first: ${shown}${known.length > 20 ? `, … (${known.length} in all)` : ''}`,
      );
    }
    const { text, best } = await bestTrialReport(t, sweepId);
    process.stdout.write(text);
    return best ? 0 : 1;
  } finally {
    await t.close();
  }
}

/** A boolean flag as given directly (`--repair`) or through Nx, which forwards it as `--repair=true`. */
const isOn = (v: unknown): boolean => v === true || v === 'true' || v === '1';

function runsDirOf(args: ReturnType<typeof parseArgs>): string {
  const r = stringFlag(args, 'runs');
  return r ? path.resolve(process.cwd(), r) : path.join(workspaceRoot(), 'runs');
}

async function doctor(args: ReturnType<typeof parseArgs>): Promise<number> {
  const r = await runDoctor({ runsDir: runsDirOf(args), repair: isOn(args.repair), verify: isOn(args.verify) });
  return r.ok ? 0 : 1;
}

async function importRecords(args: ReturnType<typeof parseArgs>): Promise<number> {
  const runsDir = runsDirOf(args);
  const folders = listSweepFolders(runsDir);
  if (folders.length === 0) throw new UserError(`${path.join(runsDir, 'trials')}: no sweep folder with a record (sweep.jsonl) to import`);
  const t = await openTracking(path.join(runsDir, TRACKING_FILE));
  try {
    for (const f of folders) {
      const r = await importSweepFolder(t, f, { mode: 'missing' });
      process.stdout.write(
        `${r.sweepId}: sweep row ${r.sweepRow}, ${r.imported.length} trial(s) imported${r.imported.length ? ` (${r.imported.join(', ')})` : ''}` +
          `${r.skipped.length ? `; skipped ${r.skipped.map((s) => `${s.trialId}: ${s.why}`).join('; ')}` : ''}\n`,
      );
      for (const p of r.problems) process.stderr.write(`warning: ${p}\n`);
    }
  } finally {
    await t.close();
  }
  return 0;
}

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const cmd = args._[0];
  switch (cmd) {
    case 'sweep':
      return sweep(args);
    case 'best':
      return best(args);
    case 'doctor':
      return doctor(args);
    case 'import':
      return importRecords(args);
    case 'worker':
      return workerCommand(process.argv.slice(3));
    default:
      throw new UserError(
        `unknown command ${cmd ?? '(none)'}; use: sweep [--experiment=FILE] [--verify] | best [--experiment=FILE | --sweep=ID] | doctor [--runs=DIR] [--repair] [--verify] | import [--runs=DIR] | worker --queue=URL [--concurrency=N] [--runs=DIR]`,
      );
  }
});
