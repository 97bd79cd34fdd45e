/**
 * CLI of the noise package (Nx target noise:apply):
 *   apply [--experiment=FILE] [--workers=N]   ensure ingest (cache hit when unchanged), then build
 *                                             the noise stage; prints the sets it wrote
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultExperimentFile, ensurePipeline, loadExperiment, parseFlags, publishNxOutput, runMain, stringFlag, UserError } from '@mri-robust/core';
import { dataSchemaPart, ingestRunner } from '@mri-robust/data';
import { noiseSchemaPart } from './schema.ts';
import { runNoise, SETS_FILE, type NoiseSets } from './stage.ts';

runMain(async () => {
  const usage = 'usage: cli.ts apply [--experiment=FILE] [--workers=N] [--nx-output]';
  const args = parseFlags(process.argv.slice(2), { experiment: 'string', workers: 'string', 'nx-output': 'boolean' });
  const [cmd] = args._;
  if (cmd !== 'apply') throw new UserError(`${usage} (got "${cmd ?? ''}")`);
  const file = stringFlag(args, 'experiment') ?? defaultExperimentFile();
  const experiment = loadExperiment(file, [dataSchemaPart, noiseSchemaPart]);
  const workers = stringFlag(args, 'workers');
  if (workers !== undefined && !/^\d+$/.test(workers)) throw new UserError(`--workers must be a whole number, got "${workers}"`);
  const t = Date.now();
  const stages = await ensurePipeline(experiment, 'noise', {
    ingest: ingestRunner,
    noise: (exp, up, ctx) => runNoise(exp, up.ingest!, { log: ctx.log, ...(workers === undefined ? {} : { workers: Number(workers) }) }),
  });
  const res = stages.noise!;
  if (args.nxOutput) await publishNxOutput({ stage: 'noise', experimentArg: file, runsDir: experiment.runsDir, paths: [res.dir] });
  const sets = JSON.parse(await readFile(path.join(res.dir, SETS_FILE), 'utf8')) as NoiseSets;
  const lines = [
    `train: ${sets.train.count} images (${sets.train.noisy} with noise, mode ${sets.train.mode})`,
    ...sets.eval.map((e) => `eval ${e.id}: ${e.count} images (${e.kind} ${e.snr !== null ? `snr ${e.snr}` : `severity ${e.severity}`})`),
    `${res.hit ? 'cache hit' : 'built'}: ${res.dir} (${((Date.now() - t) / 1000).toFixed(1)} s)`,
    `contact sheet: ${path.join(res.dir, 'contact-sheet.png')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
});
