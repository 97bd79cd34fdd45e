import { describe, expect, it } from 'vitest';
import {
  accuracy,
  argmaxRows,
  bootstrapMeanInterval,
  confusionMatrix,
  expectedCalibrationError,
  fitTemperature,
  logitsFromProbabilities,
  macroF1,
  nllWithTemperature,
  perClassMetrics,
  softmaxRows,
} from '../src/metrics/index.ts';

/** Small deterministic generator for test data only (mulberry32). */
function lcg(seed: number) {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

describe('classification metrics', () => {
  const yTrue = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3];
  const yPred = [0, 0, 1, 1, 2, 2, 2, 2, 0, 3];
  const classes = ['a', 'b', 'c', 'd'];

  it('builds the hand-computed confusion matrix and accuracy', () => {
    expect(confusionMatrix(yTrue, yPred, 4)).toEqual([
      [2, 1, 0, 0],
      [0, 1, 1, 0],
      [1, 0, 3, 0],
      [0, 0, 0, 1],
    ]);
    expect(accuracy(yTrue, yPred)).toBeCloseTo(0.7, 12);
  });

  it('computes per-class precision/recall/F1 and macro-F1 by hand', () => {
    const pc = perClassMetrics(confusionMatrix(yTrue, yPred, 4), classes);
    expect(pc.map((c) => c.precision)).toEqual([2 / 3, 1 / 2, 3 / 4, 1]);
    expect(pc.map((c) => c.recall)).toEqual([2 / 3, 1 / 2, 3 / 4, 1]);
    expect(pc.map((c) => c.support)).toEqual([3, 2, 4, 1]);
    expect(macroF1(pc)).toBeCloseTo((2 / 3 + 0.5 + 0.75 + 1) / 4, 12);
  });

  it('handles a class that is never predicted (precision 0, not NaN)', () => {
    const pc = perClassMetrics(confusionMatrix([0, 1, 1], [0, 0, 1], 2), ['x', 'y']);
    // class x: tp 1, predicted 2, support 1 → P 1/2, R 1, F1 2/3; class y: tp 1, predicted 1, support 2
    expect(pc[0]).toMatchObject({ precision: 0.5, recall: 1, support: 1 });
    expect(pc[0].f1).toBeCloseTo(2 / 3, 12);
    expect(pc[1]).toMatchObject({ precision: 1, recall: 0.5, support: 2 });
    const none = perClassMetrics(confusionMatrix([0, 1], [0, 0], 2), ['x', 'y']);
    expect(none[1]).toEqual({ label: 'y', precision: 0, recall: 0, f1: 0, support: 1 });
    expect(macroF1(none)).toBeCloseTo(1 / 3, 12);
  });

  it('rejects out-of-range labels and mismatched lengths', () => {
    expect(() => confusionMatrix([0, 4], [0, 1], 4)).toThrow(/out of range/);
    expect(() => accuracy([0, 1], [0])).toThrow(/length/);
  });

  it('takes the argmax of each row', () => {
    expect(Array.from(argmaxRows([0.1, 0.7, 0.2, 0.5, 0.2, 0.3], 3))).toEqual([1, 0]);
  });
});

describe('bootstrap interval', () => {
  it('is seeded, contains the mean and has the normal-approximation width', () => {
    const n = 400;
    const scores = Array.from({ length: n }, (_, i) => (i % 10 < 9 ? 1 : 0)); // accuracy 0.9
    const a = bootstrapMeanInterval(scores, 2000, lcg(7));
    const b = bootstrapMeanInterval(scores, 2000, lcg(7));
    expect(a).toEqual(b);
    expect(a.low).toBeLessThan(0.9);
    expect(a.high).toBeGreaterThan(0.9);
    const halfWidth = 1.96 * Math.sqrt((0.9 * 0.1) / n); // ≈ 0.0294
    expect((a.high - a.low) / 2).toBeGreaterThan(halfWidth * 0.8);
    expect((a.high - a.low) / 2).toBeLessThan(halfWidth * 1.2);
  });

  it('collapses to a point when every sample is correct', () => {
    expect(bootstrapMeanInterval([1, 1, 1, 1], 100, lcg(1))).toEqual({ low: 1, high: 1 });
  });
});

describe('calibration', () => {
  it('computes ECE for hand-checked examples', () => {
    const probs = [0.9, 0.1, 0.85, 0.15, 0.62, 0.38, 0.3, 0.7];
    const labels = [0, 1, 0, 1];
    // 15 bins: every sample in its own bin → mean of |correct − confidence|
    expect(expectedCalibrationError(probs, labels, 2, 15).ece).toBeCloseTo((0.1 + 0.85 + 0.38 + 0.3) / 4, 12);
    // 5 bins: {0.9, 0.85} share bin 4 (acc 0.5, conf 0.875), {0.62, 0.7} share bin 3 (acc 1, conf 0.66)
    const r = expectedCalibrationError(probs, labels, 2, 5);
    expect(r.ece).toBeCloseTo(0.5 * 0.375 + 0.5 * 0.34, 12);
    expect(r.bins[4].count).toBe(2);
    expect(r.bins[4].accuracy).toBe(0.5);
    expect(expectedCalibrationError([1, 0, 0, 1], [0, 1], 2).ece).toBe(0);
  });

  it('softmax with temperature and NLL agree', () => {
    const logits = [2, 0, -1, 0.5, 0.5, 0.5];
    const p = softmaxRows(logits, 3, 2);
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 6);
    expect(p[3]).toBeCloseTo(1 / 3, 6);
    expect(nllWithTemperature(logits, [0, 1], 3, 2)).toBeCloseTo((-Math.log(p[0]) - Math.log(p[4])) / 2, 6);
    // log-probabilities are logits up to a per-row shift
    const back = softmaxRows(logitsFromProbabilities(softmaxRows(logits, 3)), 3, 2);
    for (let i = 0; i < 6; i++) expect(back[i]).toBeCloseTo(p[i], 5);
  });

  it('fits the temperature that generated the labels and lowers ECE of overconfident logits', () => {
    const k = 4;
    const n = 4000;
    const rng = lcg(3);
    const trueT = 2.5;
    const logits = new Float32Array(n * k);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < k; j++) logits[i * k + j] = (rng.next() - 0.5) * 12;
      const p = softmaxRows(logits.subarray(i * k, i * k + k), k, trueT);
      let u = rng.next();
      let y = 0;
      while (y < k - 1 && u >= p[y]) u -= p[y++];
      labels[i] = y;
    }
    const t = fitTemperature(logits, labels, k);
    expect(t).toBeGreaterThan(2.2);
    expect(t).toBeLessThan(2.8);
    // the golden-section optimum matches a brute-force grid minimum
    let bestT = 0;
    let bestNll = Infinity;
    for (let g = 1.5; g <= 3.5; g += 0.01) {
      const v = nllWithTemperature(logits, labels, k, g);
      if (v < bestNll) [bestNll, bestT] = [v, g];
    }
    expect(Math.abs(t - bestT)).toBeLessThan(0.011);
    const before = expectedCalibrationError(softmaxRows(logits, k, 1), labels, k).ece;
    const after = expectedCalibrationError(softmaxRows(logits, k, t), labels, k).ece;
    expect(after).toBeLessThan(before / 3);
  });
});
