/**
 * report CLI (used by the Nx targets):
 *   build [--sweep <id>] [--all] [--experiment <file>] [--runs <dir>] [--tracking <file>] [--best-trials <n>] [--no-baseline]
 *   compare --sweeps <A,B[,…]> [--runs <dir>] [--tracking <file>]
 * The runs folder is --runs, else the experiment's, else <workspace>/runs.
 */
import path from 'node:path';
import { loadExperiment, parseFlags, runMain, stringFlag, UserError, workspaceRoot, type ParsedArgs } from '@mri-robust/core';
import { experimentBaseline } from './baseline.ts';
import { buildComparison, buildReport } from './build.ts';
import { reportSchemaPart, reportSettings, type ReportSettings } from './schema.ts';

/** The flags of each command (kebab-case); anything else is a one-line error naming these (core's parseFlags). */
const BUILD_FLAGS = {
  sweep: 'string',
  all: 'boolean',
  experiment: 'string',
  runs: 'string',
  tracking: 'string',
  'best-trials': 'string',
  'no-baseline': 'boolean',
} as const;
const COMPARE_FLAGS = { sweeps: 'string', runs: 'string', tracking: 'string' } as const;

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'compare' || command === 'build') {
    const args = parseFlags(rest, command === 'build' ? BUILD_FLAGS : COMPARE_FLAGS);
    if (args._.length) throw new UserError(`report ${command}: unexpected argument ${args._[0]} (flags are --name=value)`);
    return command === 'build' ? build(args) : compare(args);
  }
  process.stderr.write(
    'usage: report build [--sweep <id>] [--all] [--experiment <file>] [--runs <dir>] [--tracking <file>] [--best-trials <n>] [--no-baseline]\n' +
      '       report compare --sweeps <A,B[,…]> [--runs <dir>] [--tracking <file>]\n',
  );
  return 2;
}

async function build(args: ParsedArgs): Promise<number> {
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
    all: args.all === true,
    settings,
    baseline: args.noBaseline === true ? undefined : experimentBaseline(),
  });
  for (const r of result.reports) {
    const base = 'name' in r.baseline ? `CE relative to ${r.baseline.name}` : `no CE (${r.baseline.note})`;
    process.stdout.write(
      `${r.sweepId}: ${r.trials} trials, ${r.charts.length} charts, ${base}, ${(r.bytes / 1e6).toFixed(2)} MB → ${path.relative(process.cwd(), r.file) || r.file}\n`,
    );
  }
  process.stdout.write(`index → ${path.relative(process.cwd(), result.indexFile) || result.indexFile} (${((performance.now() - t0) / 1000).toFixed(2)} s)\n`);
  return 0;
}

async function compare(args: ParsedArgs): Promise<number> {
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
