import { createRng } from '@mri-robust/core';
import { arraySource, buildClassifier, type LoopOptions } from '../src/train/index.ts';

/** Four Gaussian blobs in `d` dimensions (seeded), with some overlap so accuracy is not trivially 1. */
export function blobs(n: number, d: number, seed: number, spread = 1.2) {
  const rng = createRng(seed);
  const centers = Array.from({ length: 4 }, (_, c) => Array.from({ length: d }, (_, j) => (j % 4 === c ? 2 : 0)));
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let j = 0; j < d; j++) x[i * d + j] = centers[y[i]][j] + spread * rng.normal();
  }
  return arraySource(x, [n, d], y);
}

/** Loop options that train a fixed number of epochs (early stopping and LR reduction never fire). */
export function fixedEpochs(epochs: number): LoopOptions {
  return {
    epochs,
    learningRate: 0.05,
    batchSize: 16,
    earlyStopping: { monitor: 'val_loss', patience: 50, restoreBest: false },
    reduceLr: { factor: 0.5, patience: 50, minLr: 1e-5 },
    seed: 5,
  };
}

/** The same small classifier on 8 features each call (seeded). */
export const blobClassifier = () => buildClassifier({ inputShape: [8], numClasses: 4, dropout: 0.1, seed: 11 });
