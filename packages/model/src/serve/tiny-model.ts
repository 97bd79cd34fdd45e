/**
 * A tiny but real model for the predict server's tests, benchmark and demos: a small CNN (two conv
 * blocks → GAP → Dropout → Dense(softmax)) trained for a few Adam steps on a seeded handful of real
 * scans from ../shared/datasets (nickparvar Training), temperature fitted on held-out images, saved
 * with `saveModel` (tfjs model + metadata.json). Seconds to build; not meant to be accurate.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRng, deriveSeed, UserError } from '@mri-robust/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import { fitTemperature, logitsFromProbabilities } from '../metrics/calibration.ts';
import { saveModel, type ModelMetadata, type Preprocessing } from '../save.ts';
import { prepareImage } from './preprocess.ts';

export const TINY_CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'] as const;

export interface TinyModelOptions {
  outDir: string;
  /** Folder holding `datasets/` (core's `sharedDir()`). */
  sharedDir: string;
  /** Training images per class (default 12) plus `perClass / 2` held out for the temperature. */
  perClass?: number;
  /** Square input side (default 48), grey. */
  size?: number;
  /** Adam steps over the whole (small) training set (default 50). */
  steps?: number;
  seed?: number;
}

export interface TinyModel {
  dir: string;
  metadata: ModelMetadata;
  trainAccuracy: number;
  /** The files used (training then held-out), relative to the dataset folder. */
  files: string[];
}

async function pickFiles(root: string, perClass: number, seed: number): Promise<{ file: string; label: number }[]> {
  const out: { file: string; label: number }[] = [];
  for (const [label, cls] of TINY_CLASSES.entries()) {
    const dir = path.join(root, cls);
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
    } catch {
      throw new UserError(`${dir}: cannot list the images for the tiny model (is ../shared/datasets there?)`);
    }
    createRng(deriveSeed(seed, 'tiny-model', cls)).shuffle(names);
    for (const n of names.slice(0, perClass)) out.push({ file: path.join(dir, n), label });
  }
  return out;
}

export async function trainTinyModel(opts: TinyModelOptions): Promise<TinyModel> {
  const size = opts.size ?? 48;
  const perClass = opts.perClass ?? 12;
  const held = Math.max(1, Math.floor(perClass / 2));
  const steps = opts.steps ?? 50;
  const seed = opts.seed ?? 7;
  const backend = await selectBackend('auto');
  const root = path.join(opts.sharedDir, 'datasets', 'nickparvar', 'Training');
  const preprocessing: Preprocessing = {
    decode: { size, channels: 1, fit: 'pad' },
    inputSize: size,
    inputChannels: 1,
    scaling: 'scale_0_1',
  };
  const picked = await pickFiles(root, perClass + held, seed);
  const train: typeof picked = [];
  const holdout: typeof picked = [];
  for (const p of picked) (train.filter((t) => t.label === p.label).length < perClass ? train : holdout).push(p);
  const load = async (set: typeof picked) => {
    const data = new Float32Array(set.length * size * size);
    for (const [i, p] of set.entries()) data.set((await prepareImage(await readFile(p.file), preprocessing, 50_000_000)).input, i * size * size);
    return { x: tf.tensor4d(data, [set.length, size, size, 1]), y: tf.tensor1d(Int32Array.from(set, (p) => p.label), 'int32') };
  };
  const tr = await load(train);
  const ho = await load(holdout);
  const k = TINY_CLASSES.length;
  const init = (s: string) => tf.initializers.glorotUniform({ seed: deriveSeed(seed, 'tiny-model', s) });
  const input = tf.input({ shape: [size, size, 1], name: 'input' });
  let h = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init('c1'), name: 'block1_conv' }).apply(input) as SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2, name: 'block1_pool' }).apply(h) as SymbolicTensor;
  h = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', kernelInitializer: init('c2'), name: 'block2_conv' }).apply(h) as SymbolicTensor;
  h = tf.layers.batchNormalization({ momentum: 0.8, name: 'block2_bn' }).apply(h) as SymbolicTensor;
  h = tf.layers.reLU({ name: 'block2_relu' }).apply(h) as SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2, name: 'block2_pool' }).apply(h) as SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({ name: 'head_gap' }).apply(h) as SymbolicTensor;
  h = tf.layers.dropout({ rate: 0.1, name: 'head_dropout' }).apply(h) as SymbolicTensor;
  const out = tf.layers.dense({ units: k, activation: 'softmax', kernelInitializer: init('dense'), name: 'head_dense' }).apply(h) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'tiny_cnn' });

  const optimizer = tf.train.adam(0.02);
  const yOne = tf.oneHot(tr.y, k);
  try {
    for (let s = 0; s < steps; s++) {
      const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yOne, tf.log(tf.clipByValue(model.apply(tr.x, { training: true }) as Tensor, 1e-7, 1))), true);
      cost?.dispose();
    }
    const trainProbs = model.predict(tr.x) as Tensor;
    const pred = tf.argMax(trainProbs, -1);
    const trainAccuracy = (tf.mean(tf.cast(tf.equal(pred, tr.y), 'float32')).dataSync()[0] as number);
    tf.dispose([trainProbs, pred]);
    const hoProbs = model.predict(ho.x) as Tensor;
    const temperature = fitTemperature(logitsFromProbabilities(hoProbs.dataSync()), ho.y.dataSync(), k);
    hoProbs.dispose();
    const metadata = await saveModel(opts.outDir, model, {
      classes: [...TINY_CLASSES],
      preprocessing,
      backbone: { name: 'cnn', mode: 'full', cutLayer: null, weights: null },
      temperature,
      experiment: { name: 'tiny-model', hash: 'none', file: 'none' },
      backend: backend.name,
      seed,
      createdAt: new Date().toISOString(),
    });
    return { dir: opts.outDir, metadata, trainAccuracy, files: picked.map((p) => path.relative(path.join(opts.sharedDir, 'datasets'), p.file)) };
  } finally {
    optimizer.dispose();
    tf.dispose([tr.x, tr.y, ho.x, ho.y, yOne]);
    model.dispose();
  }
}
