/**
 * report CLI (used by the Nx targets):
 *   build [--sweep <id>] [--all] [--experiment <file>] [--runs <dir>] [--tracking <file>] [--best-trials <n>]
 *   compare --sweeps <A,B[,…]> [--runs <dir>] [--tracking <file>]
 * The runs folder is --runs, else the experiment's, else <workspace>/runs.
 */
import path from 'node:path';
import { loadExperiment, parseArgs, runMain, stringFlag, UserError, workspaceRoot } from '@mri-robust/core';
import { buildComparison, buildReport } from './build.ts';
import { reportSchemaPart, reportSettings, type ReportSettings } from './schema.ts';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const [command] = args._;
  if (command === 'compare') return compare(args);
  if (command !== 'build') {
    process.stderr.write(
      'usage: report build [--sweep <id>] [--all] [--experiment <file>] [--runs <dir>] [--tracking <file>] [--best-trials <n>]\n' +
        '       report compare --sweeps <A,B[,…]> [--runs <dir>] [--tracking <file>]\n',
    );
    return 2;
  }
  const experimentFile = stringFlag(args, 'experiment');
  let runsDir = path.join(workspaceRoot(), 'runs');
  let settings: Partial<ReportSettings> | undefined;
  if (experimentFile) {
    const exp = loadExperiment(experimentFile, [reportSchemaPart]);
    runsDir = exp.runsDir;
    settings = reportSettings(exp.config);
  }
  const runs = stringFlag(args, 'runs');
  if (runs) runsDir = path.resolve(runs);
  const bestTrials = stringFlag(args, 'bestTrials');
  if (bestTrials !== undefined) {
    const n = Number(bestTrials);
    if (!Number.isInteger(n) || n < 1 || n > 20) throw new UserError(`--best-trials ${bestTrials}: must be an integer 1..20`);
    settings = { ...(settings ?? {}), best_trials: n };
  }
  const t0 = performance.now();
  const result = await buildReport({
    runsDir,
    trackingFile: stringFlag(args, 'tracking'),
    sweepId: stringFlag(args, 'sweep'),
    all: args.all === true || args.all === 'true',
    settings,
  });
  for (const r of result.reports) {
    process.stdout.write(
      `${r.sweepId}: ${r.trials} trials, ${r.charts.length} charts, ${(r.bytes / 1e6).toFixed(2)} MB → ${path.relative(process.cwd(), r.file) || r.file}\n`,
    );
  }
  process.stdout.write(`index → ${path.relative(process.cwd(), result.indexFile) || result.indexFile} (${((performance.now() - t0) / 1000).toFixed(2)} s)\n`);
  return 0;
}

async function compare(args: ReturnType<typeof parseArgs>): Promise<number> {
  const list = stringFlag(args, 'sweeps');
  if (!list) throw new UserError('report compare: --sweeps=A,B[,…] is required (two or more sweep ids; the first is the baseline)');
  const sweepIds = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const runs = stringFlag(args, 'runs');
  const runsDir = runs ? path.resolve(runs) : path.join(workspaceRoot(), 'runs');
  const r = await buildComparison({ runsDir, trackingFile: stringFlag(args, 'tracking'), sweepIds });
  process.stdout.write(
    `${r.sweeps.join(' vs ')}: ${r.tests} differences (${r.paired} paired), ${(r.bytes / 1e6).toFixed(2)} MB → ${path.relative(process.cwd(), r.file) || r.file}\n` +
      `index → ${path.relative(process.cwd(), r.indexFile) || r.indexFile}\n`,
  );
  return 0;
}

runMain(main);
