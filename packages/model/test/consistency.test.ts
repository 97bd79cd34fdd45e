import { createRng } from '@mri-robust/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareWasm, selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { batchGroups, consistencyLoss, groupBatches, groupIndex, pairGroups } from '../src/train/consistency.ts';
import { arraySource, predictSource, trainLoop } from '../src/train/index.ts';
import { blobClassifier, fixedEpochs } from './blobs.ts';

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('clean/noisy groups', () => {
  it("pairs an id with its '~noise' copy, augmented copies with theirs, and leaves the rest alone", () => {
    const ids = ['a', 'a~aug1', 'a~noise', 'a~noise~aug1', 'b', 'c~noise', 'd~noisefree', 'd'];
    expect(pairGroups(ids)).toEqual([[0, 2], [1, 3], [4], [5], [6], [7]]);
    expect(Array.from(groupIndex(pairGroups(ids), ids.length))).toEqual([0, 1, 0, 1, 2, 3, 4, 5]);
  });

  it('cuts batches on group boundaries, in the given group order', () => {
    const groups = [[0, 1], [2, 3], [4], [5, 6], [7, 8, 9, 10, 11]];
    expect(groupBatches(groups, [3, 0, 2, 1, 4], 4)).toEqual([
      [5, 6, 0, 1],
      [4, 2, 3],
      [7, 8, 9, 10, 11],
    ]);
    expect(groupBatches(groups, [0, 1, 2, 3, 4], 100).flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('finds the positions of each multi-member group in a batch', () => {
    const groupOf = Int32Array.from([0, 0, 1, 1, 2]);
    expect(batchGroups([3, 4, 0, 2, 1], groupOf)).toEqual([
      [0, 3],
      [2, 4],
    ]);
  });
});

describe('consistency loss', () => {
  it('is the Jensen-Shannon divergence of each group, averaged over groups (worked example)', () => {
    // p = [0.5, 0.5], q = [0.9, 0.1], m = [0.7, 0.3]: JS = ½ KL(p‖m) + ½ KL(q‖m)
    const kl = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * Math.log(ai / b[i]), 0);
    const js = 0.5 * kl([0.5, 0.5], [0.7, 0.3]) + 0.5 * kl([0.9, 0.1], [0.7, 0.3]);
    const probs = tf.tensor2d([0.5, 0.5, 0.2, 0.8, 0.9, 0.1, 0.2, 0.8], [4, 2]);
    // group 1: rows 0 and 2 (JS above); group 2: rows 1 and 3, identical (JS 0)
    const loss = consistencyLoss(
      probs,
      [
        [0, 2],
        [1, 3],
      ],
      4,
    );
    expect(loss.dataSync()[0]).toBeCloseTo(js / 2, 6);
    expect(consistencyLoss(probs, [], 4).dataSync()[0]).toBe(0);
    tf.dispose([probs, loss]);
  });

  it('has the gradient of its definition (finite differences through a softmax)', () => {
    const rng = createRng(3);
    const logits = Array.from({ length: 12 }, () => rng.normal());
    const groups = [
      [0, 2],
      [1, 3],
    ];
    const f = (z: Tensor) => consistencyLoss(tf.softmax(z), groups, 4);
    const grad = tf
      .grad(f)(tf.tensor2d(logits, [4, 3]))
      .dataSync();
    const h = 1e-2;
    for (const j of [0, 4, 7, 11]) {
      const up = logits.slice();
      const down = logits.slice();
      up[j] += h;
      down[j] -= h;
      const numeric = (f(tf.tensor2d(up, [4, 3])).dataSync()[0] - f(tf.tensor2d(down, [4, 3])).dataSync()[0]) / (2 * h);
      expect(grad[j]).toBeCloseTo(numeric, 3);
    }
  });

  it("trains on wasm: its gradient there equals the cpu backend's", async () => {
    const rng = createRng(4);
    const logits = Array.from({ length: 15 }, () => rng.normal());
    const gradOn = async (backend: 'cpu' | 'wasm') => {
      expect(await tf.setBackend(backend)).toBe(true);
      const z = tf.tensor2d(logits, [5, 3]);
      const g = tf.grad((t: Tensor) =>
        consistencyLoss(
          tf.softmax(t),
          [
            [0, 3],
            [1, 2, 4],
          ],
          5,
        ),
      )(z);
      const out = g.dataSync().slice();
      tf.dispose([z, g]);
      return out;
    };
    await prepareWasm();
    const wasm = await gradOn('wasm');
    const cpu = await gradOn('cpu');
    for (let i = 0; i < cpu.length; i++) expect(Math.abs(wasm[i] - cpu[i])).toBeLessThanOrEqual(1e-5);
    expect(cpu.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });
});

/** Four blobs, each clean sample followed by a noisy copy (`<id>~noise`, extra Gaussian noise). */
function pairedBlobs(n: number, d: number, seed: number, noise: number) {
  const rng = createRng(seed);
  const x = new Float32Array(2 * n * d);
  const y = new Int32Array(2 * n);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    for (let j = 0; j < d; j++) {
      const v = (j % 4 === c ? 2 : 0) + 1.2 * rng.normal();
      x[2 * i * d + j] = v;
      x[(2 * i + 1) * d + j] = v + noise * rng.normal();
    }
    y[2 * i] = c;
    y[2 * i + 1] = c;
    ids.push(`s${i}`, `s${i}~noise`);
  }
  return arraySource(x, [2 * n, d], y, ids);
}

/** Mean JS divergence between the predictions for each clean sample and its noisy copy. */
function meanPairDivergence(probs: Float32Array, k: number): number {
  let sum = 0;
  const n = probs.length / k / 2;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const p = probs[2 * i * k + j];
      const q = probs[(2 * i + 1) * k + j];
      const m = (p + q) / 2;
      sum += 0.5 * (p * Math.log(p / m) + q * Math.log(q / m));
    }
  }
  return sum / n;
}

describe('training loop with the consistency term', () => {
  const train = pairedBlobs(192, 8, 21, 1.5);
  const val = pairedBlobs(96, 8, 22, 1.5);
  const opts = fixedEpochs(6);
  const clf = blobClassifier;

  it('makes the predictions for a sample and its noisy copy agree more, and reruns identically', async () => {
    const plain = clf();
    await trainLoop(plain, train, val, opts);
    const paired = clf();
    const first = await trainLoop(paired, train, val, { ...opts, consistency: 5 });
    const again = await trainLoop(clf(), train, val, { ...opts, consistency: 5 });
    expect(again.epochs.map((e) => [e.trainLoss, e.valLoss])).toEqual(first.epochs.map((e) => [e.trainLoss, e.valLoss]));
    const divergence = (c: ReturnType<typeof clf>) => meanPairDivergence(predictSource(c, val, 64), 4);
    expect(divergence(paired)).toBeLessThan(0.5 * divergence(plain));
    expect(first.epochs.at(-1)!.valAccuracy).toBeGreaterThan(0.6);
    plain.model.dispose();
    paired.model.dispose();
  });

  it('refuses a training set without ids or without noisy copies, and mixup beside it', async () => {
    const noIds = arraySource(new Float32Array(16), [2, 8], Int32Array.from([0, 1]));
    const unpaired = arraySource(new Float32Array(16), [2, 8], Int32Array.from([0, 1]), ['a', 'b']);
    const c = clf();
    await expect(trainLoop(c, noIds, val, { ...opts, consistency: 1 })).rejects.toThrow(/record ids/);
    await expect(trainLoop(c, unpaired, val, { ...opts, consistency: 1 })).rejects.toThrow(/noisy copies/);
    await expect(trainLoop(c, train, val, { ...opts, consistency: 1, mixupAlpha: 0.4 })).rejects.toThrow(/mixup/);
    c.model.dispose();
  });
});
