import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '@mri-robust/core';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { arraySource, buildClassifier, crossEntropy, softCrossEntropy, trainLoop, type LoopOptions } from '../src/train/index.ts';
import { drawMixup, mixRows, sampleBeta, sampleGamma, smoothTargets } from '../src/train/regularize.ts';

const meanVar = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { m, v: xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length };
};

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('regularisers (pure)', () => {
  it('samples Gamma and Beta with the right moments, seeded', () => {
    for (const shape of [0.3, 1, 4.5]) {
      const rng = createRng(`gamma${shape}`);
      const { m, v } = meanVar(Array.from({ length: 40000 }, () => sampleGamma(rng, shape)));
      expect(Math.abs(m - shape) / shape).toBeLessThan(0.03); // mean = k
      expect(Math.abs(v - shape) / shape).toBeLessThan(0.08); // var = k
    }
    const a = 0.4;
    const rng = createRng('beta');
    const xs = Array.from({ length: 40000 }, () => sampleBeta(rng, a, a));
    const { m, v } = meanVar(xs);
    expect(m).toBeCloseTo(0.5, 2);
    expect(v).toBeCloseTo((a * a) / ((2 * a) ** 2 * (2 * a + 1)), 2); // 1 / (4(2α+1))
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(1);
    const again = createRng('beta');
    expect(Array.from({ length: 5 }, () => sampleBeta(again, a, a))).toEqual(xs.slice(0, 5));
    expect(() => sampleGamma(createRng(1), 0)).toThrow(/shape/);
  });

  it('smooths targets as Keras: (1 − ε)·onehot + ε/k, rows sum to 1', () => {
    const t = smoothTargets([2, 0], 4, 0.1);
    expect(Array.from(t)).toEqual(Array.from(Float32Array.from([0.025, 0.025, 0.925, 0.025, 0.925, 0.025, 0.025, 0.025])));
    expect(Array.from(smoothTargets([1], 3, 0))).toEqual([0, 1, 0]);
    expect(() => smoothTargets([0], 2, 1)).toThrow(/smoothing/);
  });

  it('mixes rows with a permutation and λ ≥ 0.5', () => {
    const rng = createRng(7);
    for (let i = 0; i < 50; i++) {
      const d = drawMixup(rng, 6, 0.3);
      expect(d.lambda).toBeGreaterThanOrEqual(0.5);
      expect(d.lambda).toBeLessThanOrEqual(1);
      expect([...d.partner].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    }
    const draw = { lambda: 0.75, partner: Int32Array.from([1, 0]) };
    expect(Array.from(mixRows(Float32Array.from([1, 0, 0, 1]), 2, draw))).toEqual([0.75, 0.25, 0.25, 0.75]);
  });

  it('soft cross-entropy with one-hot targets equals the hard one; smoothing adds the expected term', () => {
    const probs = tf.tensor2d([0.7, 0.1, 0.1, 0.1, 0.2, 0.5, 0.2, 0.1], [2, 4]);
    const labels = tf.tensor1d([0, 1], 'int32');
    const hard = crossEntropy(probs, labels, 4).dataSync()[0];
    const soft = softCrossEntropy(probs, tf.tensor2d(smoothTargets([0, 1], 4, 0), [2, 4])).dataSync()[0];
    expect(soft).toBeCloseTo(hard, 6);
    expect(hard).toBeCloseTo(-(Math.log(0.7) + Math.log(0.5)) / 2, 6);
    const eps = 0.2;
    const smoothed = softCrossEntropy(probs, tf.tensor2d(smoothTargets([0, 1], 4, eps), [2, 4])).dataSync()[0];
    const p = [
      [0.7, 0.1, 0.1, 0.1],
      [0.2, 0.5, 0.2, 0.1],
    ];
    const expected = p.reduce((acc, row, i) => acc - row.reduce((s, q, j) => s + ((j === i ? 1 - eps : 0) + eps / 4) * Math.log(q), 0), 0) / 2;
    expect(smoothed).toBeCloseTo(expected, 6);
  });
});

describe('training loop with label smoothing and mixup', () => {
  const rng = createRng(3);
  const make = (n: number) => {
    const d = 8;
    const x = new Float32Array(n * d);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 4;
      for (let j = 0; j < d; j++) x[i * d + j] = (j % 4 === y[i] ? 2 : 0) + 1.2 * rng.normal();
    }
    return arraySource(x, [n, d], y);
  };
  const train = make(256);
  const val = make(128);
  const opts: LoopOptions = {
    epochs: 6,
    learningRate: 0.01,
    batchSize: 16,
    earlyStopping: { monitor: 'val_accuracy', patience: 50, restoreBest: false },
    reduceLr: { factor: 0.5, patience: 50, minLr: 1e-5 },
    seed: 5,
  };
  const run = (extra: Partial<LoopOptions>) =>
    trainLoop(buildClassifier({ inputShape: [8], numClasses: 4, dropout: 0.1, seed: 11 }), train, val, { ...opts, ...extra });

  it('still learns, is deterministic, and changes the run', async () => {
    const plain = await run({});
    const mixed = await run({ mixupAlpha: 0.4, labelSmoothing: 0.1 });
    expect(mixed.epochs.at(-1)!.valAccuracy).toBeGreaterThan(0.6);
    expect(mixed.epochs.at(-1)!.trainLoss).toBeLessThan(mixed.epochs[0].trainLoss);
    const again = await run({ mixupAlpha: 0.4, labelSmoothing: 0.1 });
    expect(again.epochs.map((e) => e.trainLoss)).toEqual(mixed.epochs.map((e) => e.trainLoss));
    expect(mixed.epochs.map((e) => e.trainLoss)).not.toEqual(plain.epochs.map((e) => e.trainLoss));
    // smoothing alone keeps the loss above the entropy floor of the smoothed target
    const smooth = await run({ labelSmoothing: 0.2, epochs: 10 });
    const floor = -(0.85 * Math.log(0.85) + 3 * 0.05 * Math.log(0.05));
    for (const e of smooth.epochs) expect(e.trainLoss).toBeGreaterThan(floor - 1e-6);
  });

  it('leaves no tensors behind', async () => {
    const clf = buildClassifier({ inputShape: [8], numClasses: 4, dropout: 0.1, seed: 11 });
    const before = tf.memory().numTensors;
    await trainLoop(clf, train, val, { ...opts, epochs: 2, mixupAlpha: 0.3, labelSmoothing: 0.1 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
