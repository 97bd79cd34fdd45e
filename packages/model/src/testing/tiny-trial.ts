/**
 * A small but complete trial for the provenance tests and screenshots: writes an experiment file
 * into `dir` and runs the real pipeline (ingest → noise → augment → embed, cached under
 * `<dir>/runs`) and `trainTrial`, so the model folder carries exactly what a sweep's does
 * (metadata.json `summary`: data sources, clean and mean-noisy test accuracy).
 * - 'phantom': synthetic phantom slices (the quick start's source), 16 per class.
 * - 'real': a Kaggle-layout folder of symbolic links to `perClass` real scans per class from
 *   ../shared/datasets/sartaj (Training and Testing), so ingest reads real files.
 * MobileNetV2-0.35 head at 96 px, two noisy test sets (Rician SNR 5, Gaussian severity 3).
 */
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadExperiment } from '@mri-robust/core';
import { openEmbedOutput } from '../io/embed-output.ts';
import { EMBED_SCHEMA_PARTS, ensureEmbed } from '../stage-embed.ts';
import { trainTrial, type TrialResult } from '../trial.ts';

const SARTAJ = { glioma: 'glioma_tumor', meningioma: 'meningioma_tumor', notumor: 'no_tumor', pituitary: 'pituitary_tumor' } as const;

export interface TinyTrialOptions {
  dir: string;
  kind: 'phantom' | 'real';
  /** Folder holding `datasets/` and `weights/` (core's `sharedDir()`). */
  sharedDir: string;
  /** Real scans per class and split folder (default 16 Training + 6 Testing). */
  perClass?: [number, number];
  name?: string;
  epochs?: number;
}

async function linkRealScans(root: string, sharedDir: string, perClass: [number, number]): Promise<void> {
  for (const [split, n] of [
    ['Training', perClass[0]],
    ['Testing', perClass[1]],
  ] as const) {
    for (const [label, folder] of Object.entries(SARTAJ)) {
      const from = path.join(sharedDir, 'datasets', 'sartaj', split, folder);
      const to = path.join(root, split, label);
      await mkdir(to, { recursive: true });
      const names = (await readdir(from))
        .filter((f) => /\.jpe?g$/i.test(f))
        .sort()
        .slice(0, n);
      for (const f of names) await symlink(path.join(from, f), path.join(to, f));
    }
  }
}

/** Writes the experiment, runs the pipeline and one trial; returns the trial result and the experiment file. */
export async function trainTinyTrial(opts: TinyTrialOptions): Promise<TrialResult & { experimentFile: string }> {
  await mkdir(opts.dir, { recursive: true });
  const name = opts.name ?? (opts.kind === 'phantom' ? 'tiny-phantom' : 'tiny-real');
  let source: string;
  if (opts.kind === 'real') {
    await linkRealScans(path.join(opts.dir, 'scans'), opts.sharedDir, opts.perClass ?? [16, 6]);
    source = '{ name: sartaj, kind: kaggle, root: scans }';
  } else source = '{ name: phantom, kind: phantom, count_per_class: 16, size: 96 }';
  const file = path.join(opts.dir, `${name}.yaml`);
  await writeFile(
    file,
    [
      `name: ${name}`,
      `description: ${opts.kind === 'phantom' ? 'synthetic phantoms' : 'real scans'} for the provenance tests`,
      'seed: 5',
      'runs: runs',
      'data:',
      '  root: .',
      `  sources: [${source}]`,
      '  image: { size: 96, channels: 1, fit: pad }',
      '  split: { mode: fractions, train: 0.6, val: 0.15, test: 0.25 }',
      '  min_per_class: 2',
      'noise:',
      '  eval:',
      '    splits: [test]',
      '    kinds: [{ kind: rician, snr: [5] }, { kind: gaussian, severities: [3] }]',
      'model:',
      '  backbone: mobilenet_v2',
      `  weights: ${JSON.stringify(path.join(opts.sharedDir, 'weights', 'mobilenet_v2_0.35_224'))}`,
      '  input_size: 96',
      '  mode: head',
      `train: { epochs: ${opts.epochs ?? 6}, batch_size: 16, learning_rate: 0.003 }`,
      'evaluate: { bootstrap_samples: 300 }',
      '',
    ].join('\n'),
  );
  const experiment = loadExperiment(file, EMBED_SCHEMA_PARTS);
  const embed = await ensureEmbed(experiment);
  const features = await openEmbedOutput(embed.dir);
  const r = await trainTrial({
    experiment,
    features,
    params: { learningRate: 0.003, dropout: 0.2, batchSize: 16 },
    seed: experiment.seed,
    outDir: path.join(opts.dir, 'trial'),
    provenance: { sweep: `${name}-sweep`, trial: 't0001', experimentHash: experiment.hash },
  });
  return { ...r, experimentFile: file };
}
