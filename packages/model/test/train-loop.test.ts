import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { blobs } from './blobs.ts';
import { balancedClassWeights, buildClassifier, trainLoop, type LoopOptions } from '../src/train/index.ts';

const base: Omit<LoopOptions, 'seed'> = {
  epochs: 6,
  learningRate: 0.01,
  batchSize: 16,
  earlyStopping: { monitor: 'val_accuracy', patience: 50, restoreBest: true },
  reduceLr: { factor: 0.5, patience: 50, minLr: 1e-5 },
};

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('training loop', () => {
  const train = blobs(256, 8, 1);
  const val = blobs(128, 8, 2);

  it('lowers the loss, reports every epoch and is deterministic for a seed', async () => {
    const run = async (seed: number) => {
      const clf = buildClassifier({ inputShape: [8], numClasses: 4, dropout: 0.3, seed: 11 });
      return trainLoop(clf, train, val, { ...base, seed });
    };
    const a = await run(5);
    expect(a.epochs).toHaveLength(6);
    expect(a.epochs[5].trainLoss).toBeLessThan(a.epochs[0].trainLoss * 0.8);
    expect(a.epochs.at(-1)!.valAccuracy).toBeGreaterThan(0.6);
    for (const e of a.epochs) {
      expect(e.learningRate).toBe(0.01);
      expect(e.seconds).toBeGreaterThanOrEqual(0);
      expect(e.trainAccuracy).toBeGreaterThanOrEqual(0);
    }
    const b = await run(5);
    expect(b.epochs.map((e) => [e.trainLoss, e.valLoss])).toEqual(a.epochs.map((e) => [e.trainLoss, e.valLoss]));
    const c = await run(6);
    expect(c.epochs.map((e) => e.trainLoss)).not.toEqual(a.epochs.map((e) => e.trainLoss));
  });

  it('stops early, reduces the learning rate on plateaus and restores the best weights', async () => {
    const clf = buildClassifier({ inputShape: [8], numClasses: 4, dropout: 0, seed: 3 });
    // lr so high that val loss bounces; patience 1 for the LR, 3 for stopping
    const r = await trainLoop(clf, train, val, {
      ...base,
      epochs: 40,
      learningRate: 0.5,
      seed: 1,
      earlyStopping: { monitor: 'val_loss', patience: 3, restoreBest: true },
      reduceLr: { factor: 0.1, patience: 1, minLr: 0.004 },
    });
    expect(r.stoppedBy).toBe('early_stopping');
    const lrs = r.epochs.map((e) => e.learningRate);
    expect(new Set(lrs).size).toBeGreaterThan(1);
    expect(Math.min(...lrs)).toBeGreaterThanOrEqual(0.004);
    const bestLoss = Math.min(...r.epochs.map((e) => e.valLoss));
    expect(r.epochs[r.bestEpoch - 1].valLoss).toBe(bestLoss);
    expect(r.epochs.length - r.bestEpoch).toBe(3);
    // the model now holds the best epoch's weights: its val loss is the best one
    const probs = clf.model.predict(val.batch(Array.from({ length: val.n }, (_, i) => i))) as import('@tensorflow/tfjs-core').Tensor;
    const p = probs.dataSync();
    let loss = 0;
    for (let i = 0; i < val.n; i++) loss -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, p[i * 4 + val.labels[i]])));
    expect(loss / val.n).toBeCloseTo(bestLoss, 4);
  });

  it('stops when the epoch callback says so (pruning)', async () => {
    const clf = buildClassifier({ inputShape: [8], numClasses: 4, dropout: 0.1, seed: 3 });
    const seen: number[] = [];
    const r = await trainLoop(clf, train, val, {
      ...base,
      seed: 2,
      onEpoch: async (e) => {
        seen.push(e.epoch);
        return e.epoch === 2 ? 'stop' : 'continue';
      },
    });
    expect(seen).toEqual([1, 2]);
    expect(r.stoppedBy).toBe('callback');
    expect(r.epochs).toHaveLength(2);
  });

  it('weights classes as scikit-learn does', () => {
    const w = balancedClassWeights(Int32Array.from([0, 0, 0, 1]), 3); // n / (k · count)
    expect(w[0]).toBeCloseTo(4 / 9, 6);
    expect(w[1]).toBeCloseTo(4 / 3, 6);
    expect(w[2]).toBe(0);
  });
});
