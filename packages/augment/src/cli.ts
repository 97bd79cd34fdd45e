/**
 * CLI of the augment package (Nx target augment:apply):
 *   apply [--experiment=FILE] [--workers=N]   ensure ingest → noise (cache hits when unchanged), then
 *                                             build the augment stage
 */
import path from 'node:path';
import { defaultExperimentFile, ensurePipeline, loadExperiment, parseFlags, publishNxOutput, runMain, stringFlag, UserError } from '@mri-robust/core';
import { dataSchemaPart, ingestRunner } from '@mri-robust/data';
import { noiseRunner, noiseSchemaPart } from '@mri-robust/noise';
import { augmentSchemaPart } from './schema.ts';
import { runAugment } from './stage.ts';

runMain(async () => {
  const usage = 'usage: cli.ts apply [--experiment=FILE] [--workers=N] [--nx-output]';
  const args = parseFlags(process.argv.slice(2), { experiment: 'string', workers: 'string', 'nx-output': 'boolean' });
  const [cmd] = args._;
  if (cmd !== 'apply') throw new UserError(`${usage} (got "${cmd ?? ''}")`);
  const file = stringFlag(args, 'experiment') ?? defaultExperimentFile();
  const experiment = loadExperiment(file, [dataSchemaPart, noiseSchemaPart, augmentSchemaPart]);
  const workers = stringFlag(args, 'workers');
  if (workers !== undefined && !/^\d+$/.test(workers)) throw new UserError(`--workers must be a whole number, got "${workers}"`);
  const t = Date.now();
  const stages = await ensurePipeline(experiment, 'augment', {
    ingest: ingestRunner,
    noise: noiseRunner,
    augment: (exp, up, ctx) => runAugment(exp, up.noise!, { log: ctx.log, ...(workers === undefined ? {} : { workers: Number(workers) }) }),
  });
  const res = stages.augment!;
  if (args.nxOutput) await publishNxOutput({ stage: 'augment', experimentArg: file, runsDir: experiment.runsDir, paths: [res.dir] });
  process.stdout.write(`${res.hit ? 'cache hit' : 'built'}: ${res.dir} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
  process.stdout.write(`contact sheet: ${path.join(res.dir, 'contact-sheet.png')}\n`);
});
