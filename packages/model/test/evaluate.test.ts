import { describe, expect, it } from 'vitest';
import { evaluateProbabilities } from '../src/evaluate.ts';

describe('evaluateProbabilities', () => {
  // 8 samples, 3 classes. Predictions (argmax): 0,0,1,1,2,2,0,1; labels: 0,0,1,2,2,2,1,1
  const probs = Float32Array.from([0.9, 0.05, 0.05, 0.6, 0.3, 0.1, 0.2, 0.7, 0.1, 0.1, 0.5, 0.4, 0.1, 0.1, 0.8, 0.3, 0.2, 0.5, 0.5, 0.4, 0.1, 0.2, 0.6, 0.2]);
  const labels = Int32Array.from([0, 0, 1, 2, 2, 2, 1, 1]);
  const base = {
    testSet: 'test-rician-snr5',
    noiseKind: 'rician',
    severity: 5,
    probs,
    labels,
    classes: ['a', 'b', 'c'],
    bootstrapSamples: 500,
    eceBins: 15,
    seed: 9,
  };

  it('matches the hand-computed confusion matrix, accuracy, per-class metrics and ECE', () => {
    const r = evaluateProbabilities({ ...base, temperature: 1 });
    expect(r.confusion).toEqual([
      [2, 0, 0],
      [1, 2, 0],
      [0, 1, 2],
    ]);
    expect(r.accuracy).toBeCloseTo(6 / 8, 12);
    expect(r.n).toBe(8);
    // a: P 2/3 R 1; b: P 2/3 R 2/3; c: P 1 R 2/3
    expect(r.perClass.map((c) => [c.precision, c.recall, c.support])).toEqual([
      [2 / 3, 1, 2],
      [2 / 3, 2 / 3, 3],
      [1, 2 / 3, 3],
    ]);
    const f1 = [0.8, 2 / 3, 0.8];
    expect(r.macroF1).toBeCloseTo((f1[0] + f1[1] + f1[2]) / 3, 6);
    // each confidence lies in its own 1/15 bin except 0.5 (×2, one right one wrong) and 0.6 (×2, one right one wrong):
    // confidences 0.9✓ 0.6✓ 0.7✓ 0.5✗ 0.8✓ 0.5✓ 0.5✗ 0.6✓ → bins: {0.9}:|1-.9| ; {0.6,0.6}:|1-.6|·2 ; {0.7}:.3 ; {0.5,0.5,0.5}: |1/3-.5|·3 ; {0.8}: .2
    const expected = (0.1 + 0.4 * 2 + 0.3 + (0.5 - 1 / 3) * 3 + 0.2) / 8;
    expect(r.ece).toBeCloseTo(expected, 5);
    expect(r.eceCalibrated).toBeCloseTo(r.ece, 5); // T = 1 changes nothing
    expect(r.ciLow).toBeLessThanOrEqual(r.accuracy);
    expect(r.ciHigh).toBeGreaterThanOrEqual(r.accuracy);
    expect(r).toMatchObject({ testSet: 'test-rician-snr5', noiseKind: 'rician', severity: 5, classes: ['a', 'b', 'c'] });
  });

  it('keeps predictions (and so accuracy) under temperature scaling but changes calibration', () => {
    const r1 = evaluateProbabilities({ ...base, temperature: 1 });
    const r2 = evaluateProbabilities({ ...base, temperature: 3 });
    expect(r2.accuracy).toBe(r1.accuracy);
    expect(r2.confusion).toEqual(r1.confusion);
    expect(r2.eceCalibrated).not.toBeCloseTo(r1.eceCalibrated, 3);
    expect(evaluateProbabilities({ ...base, temperature: 3 })).toEqual(r2); // seeded bootstrap
  });
});
