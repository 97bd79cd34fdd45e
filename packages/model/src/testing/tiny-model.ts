/**
 * A tiny but real model for the predict server's tests, benchmark and demos: the project's `cnn`
 * backbone (two conv blocks) under the classifier head, trained a few epochs on a seeded handful of real
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
import { loadMobileNetV2 } from '../nets/mobilenet.ts';
import { buildCnn } from '../nets/cnn.ts';
import { PREPROCESSING } from '../nets/preprocess.ts';
import { buildClassifier } from '../train/classifier.ts';
import { arraySource } from '../train/data.ts';
import { lossAndAccuracy, predictSource, trainLoop } from '../train/loop.ts';
import { fitTemperature, logitsFromProbabilities } from '../metrics/calibration.ts';
import { saveModel, type ModelMetadata, type Preprocessing } from '../save.ts';
import { prepareImage } from '../prepare-image.ts';

export const TINY_CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'] as const;

export interface TinyModelOptions {
  outDir: string;
  /** Folder holding `datasets/` (core's `sharedDir()`). */
  sharedDir: string;
  /** Training images per class (default 12) plus `perClass / 2` held out for the temperature. */
  perClass?: number;
  /** Square input side (default 48), grey. */
  size?: number;
  /**
   * 'cnn' (default): the small CNN trained from scratch on `size` px grey images. 'mobilenet_v2':
   * the frozen shared MobileNetV2 (`weights`) at 224 px with a head trained on its embeddings, saved
   * composed (image → backbone → head) as `model:train` saves head-mode predictors.
   */
  backbone?: 'cnn' | 'mobilenet_v2';
  /** MobileNetV2 weights folder (default <sharedDir>/weights/mobilenet_v2_0.35_224). */
  weights?: string;
  /** Adam learning rate (default 0.03 for cnn, 0.01 for the mobilenet head). */
  learningRate?: number;
  /** Training epochs (default 15; batches of 16). */
  epochs?: number;
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
  const size = opts.backbone === 'mobilenet_v2' ? 224 : (opts.size ?? 48);
  const perClass = opts.perClass ?? 12;
  const held = Math.max(1, Math.floor(perClass / 2));
  const epochs = opts.epochs ?? 15;
  const mobilenet = opts.backbone === 'mobilenet_v2';
  const seed = opts.seed ?? 7;
  const backend = await selectBackend('auto');
  const root = path.join(opts.sharedDir, 'datasets', 'nickparvar', 'Training');
  const channels = mobilenet ? 3 : 1;
  const preprocessing: Preprocessing = {
    decode: { size, channels: 1, fit: 'pad' },
    inputSize: size,
    inputChannels: channels,
    scaling: PREPROCESSING,
  };
  const weights = opts.weights ?? path.join(opts.sharedDir, 'weights', 'mobilenet_v2_0.35_224');
  const backboneNet = mobilenet ? await loadMobileNetV2(weights, { inputSize: size }) : null;
  const picked = await pickFiles(root, perClass + held, seed);
  const train: typeof picked = [];
  const holdout: typeof picked = [];
  for (const p of picked) (train.filter((t) => t.label === p.label).length < perClass ? train : holdout).push(p);
  // Inputs of the trained part: images (cnn) or backbone embeddings (mobilenet_v2).
  const sampleShape = backboneNet ? [backboneNet.model.outputs[0].shape[1] as number] : [size, size, channels];
  const load = async (set: typeof picked) => {
    const row = sampleShape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(set.length * row);
    for (const [i, p] of set.entries()) {
      const prepared = await prepareImage(await readFile(p.file), preprocessing, 50_000_000);
      const feats = backboneNet ? (backboneNet.model.predict(prepared.input) as Tensor) : prepared.input;
      data.set(feats.dataSync() as Float32Array, i * row);
      tf.dispose([prepared.input, feats]);
    }
    return arraySource(
      data,
      [set.length, ...sampleShape],
      Int32Array.from(set, (p) => p.label),
    );
  };
  const tr = await load(train);
  const ho = await load(holdout);
  const k = TINY_CLASSES.length;
  const trunk = backboneNet ? null : buildCnn({ inputShape: [size, size, 1], widths: [8, 16], seed: deriveSeed(seed, 'tiny-model', 'trunk') });
  const clf = buildClassifier({ inputShape: sampleShape, numClasses: k, dropout: 0.1, seed: deriveSeed(seed, 'tiny-model', 'head'), trunk });
  let model = clf.model;
  try {
    await trainLoop(clf, tr, ho, {
      epochs,
      learningRate: opts.learningRate ?? (mobilenet ? 0.01 : 0.03),
      batchSize: 16,
      earlyStopping: { monitor: 'val_loss', patience: epochs, restoreBest: false },
      reduceLr: { factor: 0.5, patience: epochs, minLr: 1e-4 },
      seed,
      trunkTraining: false,
    });
    const trainAccuracy = lossAndAccuracy(predictSource(clf, tr, 64), tr.labels, k).accuracy;
    const temperature = fitTemperature(logitsFromProbabilities(predictSource(clf, ho, 64)), ho.labels, k);
    if (backboneNet) {
      const image = tf.input({ shape: [size, size, channels], name: 'predictor_image' });
      const out = clf.model.apply(backboneNet.model.apply(image) as SymbolicTensor) as SymbolicTensor;
      model = tf.model({ inputs: image, outputs: out, name: 'predictor' });
    }
    const metadata = await saveModel(opts.outDir, model, {
      classes: [...TINY_CLASSES],
      preprocessing,
      backbone: backboneNet
        ? { name: 'mobilenet_v2', mode: 'head', cutLayer: null, weights: { location: weights, hash: backboneNet.hash } }
        : { name: 'cnn', mode: 'full', cutLayer: null, weights: null },
      temperature,
      experiment: { name: 'tiny-model', hash: 'none', file: 'none' },
      backend: backend.name,
      seed,
      createdAt: new Date().toISOString(),
    });
    return { dir: opts.outDir, metadata, trainAccuracy, files: picked.map((p) => path.relative(path.join(opts.sharedDir, 'datasets'), p.file)) };
  } finally {
    clf.model.dispose();
    backboneNet?.model.dispose();
  }
}
