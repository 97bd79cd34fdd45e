/**
 * CLI of the augment stage (Nx target data:augment):
 *   augment [--experiment=FILE] [--input=DIR] [--workers=N]
 * Input: the noise output recorded by `noise:apply` for this experiment (runs/cache/noise/pointers/),
 * or --input: a noise output folder (its train/ set is read) or any image-set folder.
 */
import path from 'node:path';
import { defaultExperimentFile, loadExperiment, parseArgs, publishNxOutput, readStageMeta, runMain, stringFlag, UserError } from '@mri-robust/core';
import { readNoisePointer, recoverNoisePointer } from './augment/pointer.ts';
import { augmentSchemaPart } from './augment/schema.ts';
import { dataSchemaPart } from './schema.ts';
import { runAugment } from './stage-augment.ts';

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const [cmd] = args._;
  if (cmd !== 'augment') throw new UserError(`usage: cli-augment.ts augment [--experiment=FILE] [--input=DIR] [--workers=N] (got "${cmd ?? ''}")`);
  const file = stringFlag(args, 'experiment') ?? defaultExperimentFile();
  // The noise section is validated by noise:apply, which wrote the pointer; here it is only an object.
  const experiment = loadExperiment(file, [dataSchemaPart, augmentSchemaPart]);
  const input = stringFlag(args, 'input');
  let upstream: { key: string; dir: string } | null;
  if (input) {
    const dir = path.resolve(input);
    const meta = await readStageMeta(dir).catch(() => null);
    upstream = { key: meta?.key ?? path.basename(dir), dir };
  } else {
    // After an Nx cache restore the pointer and the noise folder may only exist in noise:apply's
    // Nx output replica: put them back first.
    await recoverNoisePointer(experiment, file);
    upstream = readNoisePointer(experiment);
    if (!upstream) {
      throw new UserError(
        `${file}: no up-to-date noise output for experiment "${experiment.name}"; run \`npx nx run noise:apply --experiment=${file}\` first (or pass --input=DIR)`,
      );
    }
  }
  const workers = stringFlag(args, 'workers');
  const t = Date.now();
  const res = await runAugment(experiment, upstream, workers === undefined ? {} : { workers: Number(workers) });
  if (args.nxOutput) await publishNxOutput({ stage: 'augment', experimentArg: file, runsDir: experiment.runsDir, paths: [res.dir] });
  process.stdout.write(`${res.hit ? 'cache hit' : 'built'}: ${res.dir} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
  process.stdout.write(`contact sheet: ${path.join(res.dir, 'contact-sheet.png')}\n`);
});
