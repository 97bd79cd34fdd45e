/**
 * CLI of the tuning package (used by its Nx targets):
 *   sweep [--experiment=experiments/default.yaml] [--max-parallel=N] [--verify]
 *   best  [--experiment=<file> | --sweep=<id>]   (default: the latest sweep)
 *   doctor [--runs=DIR] [--repair] [--verify]    checks tracking file, trial records, stage caches, models
 *   import [--runs=DIR]                          completes tracking.duckdb from the trial-folder records
 *   sweep --queue=redis://HOST:PORT/DB           trials run on tuning:worker processes (also MRI_QUEUE, sweep.queue)
 *   worker --queue=redis://… [--concurrency=N] [--runs=DIR]   runs queued trials (see queue/agent.ts)
 * `--verify` (sweep, doctor) checks every stage cache file's sha256 (as MRI_VERIFY=1 does).
 * Flags are strict (core's parseFlags): an unknown or misspelt flag is a one-line error naming the allowed ones.
 * Exit codes of sweep: 0 every trial finished or pruned; 3 (EXIT_TRIALS_FAILED) some trial failed —
 * everything else is recorded and the summary names each failed trial and why; 1 bad input or error.
 */
import path from 'node:path';
import { defaultExperimentFile, parseFlags, runMain, stringFlag, UserError, workspaceRoot, type FlagSpec, type ParsedArgs } from '@mri-robust/core';
import { bestTrialReport, EXIT_TRIALS_FAILED, failedTrialsLine } from './summary.ts';
import { loadSweep, runSweep } from './sweep.ts';
import { runDoctor } from './doctor.ts';
import { workerCommand } from './queue/index.ts';
import { importSweepFolder, listSweepFolders } from './import.ts';
import { openTracking } from '@mri-robust/tracking';
import { getSweep, latestSweep, listSweeps, openTrackingReader, TRACKING_FILE } from '@mri-robust/tracking';

function experimentFile(args: ParsedArgs): string {
  const e = stringFlag(args, 'experiment');
  return e ? path.resolve(process.cwd(), e) : defaultExperimentFile();
}

async function sweep(args: ParsedArgs): Promise<number> {
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

async function best(args: ParsedArgs): Promise<number> {
  let sweepId = stringFlag(args, 'sweep');
  let runsDir = path.join(workspaceRoot(), 'runs');
  if (!sweepId && stringFlag(args, 'experiment') !== undefined) {
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

/** A switch (`--repair`; Nx's `--repair=true` is normalized before parsing). */
const isOn = (v: unknown): boolean => v === true;

function runsDirOf(args: ParsedArgs): string {
  const r = stringFlag(args, 'runs');
  return r ? path.resolve(process.cwd(), r) : path.join(workspaceRoot(), 'runs');
}

async function doctor(args: ParsedArgs): Promise<number> {
  const r = await runDoctor({ runsDir: runsDirOf(args), repair: isOn(args.repair), verify: isOn(args.verify) });
  return r.ok ? 0 : 1;
}

async function importRecords(args: ParsedArgs): Promise<number> {
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

/** The flags of each command (strict: a misspelt flag is a one-line error naming these). */
const FLAGS: Record<string, FlagSpec> = {
  sweep: { experiment: 'string', 'max-parallel': 'string', verify: 'boolean', queue: 'string' },
  best: { experiment: 'string', sweep: 'string', tracking: 'string' },
  doctor: { runs: 'string', repair: 'boolean', verify: 'boolean' },
  import: { runs: 'string' },
};

/** Nx forwards a switch as `--repair=true`: written as `--repair` (and `=false` / `=0` dropped) before the strict parse. */
function normalizeSwitches(argv: readonly string[], spec: FlagSpec): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const m = /^--([^=]+)=(true|false|1|0)$/.exec(a);
    if (m && spec[m[1]] === 'boolean') {
      if (m[2] === 'true' || m[2] === '1') out.push(`--${m[1]}`);
    } else out.push(a);
  }
  return out;
}

runMain(async () => {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'worker') return workerCommand(rest);
  const spec = cmd === undefined ? undefined : FLAGS[cmd];
  if (!spec) {
    throw new UserError(
      `unknown command ${cmd ?? '(none)'}; use: sweep [--experiment=FILE] [--max-parallel=N] [--queue=URL] [--verify] | best [--experiment=FILE | --sweep=ID] [--tracking=FILE] | doctor [--runs=DIR] [--repair] [--verify] | import [--runs=DIR] | worker --queue=URL [--concurrency=N] [--runs=DIR]`,
    );
  }
  const args = parseFlags(normalizeSwitches(rest, spec), spec);
  if (args._.length > 0) throw new UserError(`${cmd}: unexpected argument ${args._[0]} (flags are written --name=value)`);
  switch (cmd) {
    case 'sweep':
      return sweep(args);
    case 'best':
      return best(args);
    case 'doctor':
      return doctor(args);
    default:
      return importRecords(args);
  }
});
