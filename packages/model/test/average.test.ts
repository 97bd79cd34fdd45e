import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { predictSource, trainLoop } from '../src/train/index.ts';
import { createWeightAverage, emaDecayAt } from '../src/train/average.ts';
import { blobClassifier, blobs, fixedEpochs } from './blobs.ts';

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('exponential moving average of the weights', () => {
  it('warms the decay up as TensorFlow does: min(decay, (1 + t) / (10 + t))', () => {
    expect(emaDecayAt(0.998, 1)).toBeCloseTo(2 / 11, 12);
    expect(emaDecayAt(0.998, 90)).toBeCloseTo(91 / 100, 12);
    expect(emaDecayAt(0.9, 1000)).toBe(0.9);
    expect(() => emaDecayAt(1, 1)).toThrow(/\[0, 1\)/);
  });

  it('averages a variable step by step, swaps the average in and out, and ends with it', () => {
    const v = tf.variable(tf.tensor1d([0, 10]));
    const avg = createWeightAverage([v], 0.5);
    // worked example: d_1 = min(0.5, 2/11) = 2/11, d_2 = min(0.5, 3/12) = 0.25
    v.assign(tf.tensor1d([11, 21]));
    avg.update(); // (2/11)·[0, 10] + (9/11)·[11, 21] = [9, 19]
    v.assign(tf.tensor1d([1, 3]));
    avg.update(); // 0.25·[9, 19] + 0.75·[1, 3] = [3, 7]
    avg.swapIn();
    expect(Array.from(v.dataSync())).toEqual([3, 7]);
    avg.swapOut();
    expect(Array.from(v.dataSync())).toEqual([1, 3]);
    expect(() => avg.swapOut()).toThrow(/not swapped in/);
    avg.finish();
    expect(Array.from(v.dataSync())).toEqual([3, 7]);
    avg.dispose();
    v.dispose();
  });
});

describe('training loop with a weight average', () => {
  const train = blobs(256, 8, 8);
  const val = blobs(128, 8, 9);
  const opts = fixedEpochs(5);
  const clf = blobClassifier;

  it('leaves the training curve alone, validates the average and ends holding it', async () => {
    const plainClf = clf();
    const plain = await trainLoop(plainClf, train, val, opts);
    const avgClf = clf();
    const averaged = await trainLoop(avgClf, train, val, { ...opts, ema: 0.9 });
    // the optimiser steps the raw weights: same losses and accuracies on the training batches
    expect(averaged.epochs.map((e) => [e.trainLoss, e.trainAccuracy])).toEqual(plain.epochs.map((e) => [e.trainLoss, e.trainAccuracy]));
    // validation sees the average, which is not the raw weights
    expect(averaged.epochs.map((e) => e.valLoss)).not.toEqual(plain.epochs.map((e) => e.valLoss));
    expect(averaged.epochs.at(-1)!.valAccuracy).toBeGreaterThan(0.6);
    // the model ends with the weights its last validation scored (the average)
    const probs = predictSource(avgClf, val, 64);
    let loss = 0;
    for (let i = 0; i < val.n; i++) loss -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, probs[i * 4 + val.labels[i]])));
    expect(loss / val.n).toBeCloseTo(averaged.epochs.at(-1)!.valLoss, 5);
    const again = await trainLoop(clf(), train, val, { ...opts, ema: 0.9 });
    expect(again.epochs.map((e) => e.valLoss)).toEqual(averaged.epochs.map((e) => e.valLoss));
  });

  it('restores the best epoch of the average and leaves no tensors behind', async () => {
    const c = clf();
    const before = tf.memory().numTensors;
    const r = await trainLoop(c, train, val, { ...opts, epochs: 6, ema: 0.95, earlyStopping: { monitor: 'val_accuracy', patience: 50, restoreBest: true } });
    expect(tf.memory().numTensors).toBe(before);
    const probs = predictSource(c, val, 64);
    let correct = 0;
    for (let i = 0; i < val.n; i++) {
      let best = 0;
      for (let j = 1; j < 4; j++) if (probs[i * 4 + j] > probs[i * 4 + best]) best = j;
      if (best === val.labels[i]) correct++;
    }
    expect(correct / val.n).toBe(r.epochs[r.bestEpoch - 1].valAccuracy);
  });
});
