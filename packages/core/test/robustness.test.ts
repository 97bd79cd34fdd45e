// Robustness metrics against hand-computed examples.
import { describe, expect, it } from 'vitest';
import { corruptionSummary, levelAtDrop, mcnemarExact, pairedComparison } from '../src/index.ts';

describe('corruption error', () => {
  it('CE, mCE, relative CE and relative mCE of a worked example', () => {
    // kind A: model errors 0.1 + 0.2 = 0.3, baseline 0.2 + 0.4 = 0.6 → CE 0.5
    // kind B: model 0.3, baseline 0.5 → CE 0.6; mCE 0.55
    // relative (model clean error 0.05, baseline 0.1): A (0.05 + 0.15) / (0.1 + 0.3) = 0.5;
    //   B 0.25 / 0.4 = 0.625; relative mCE 0.5625
    const s = corruptionSummary(
      {
        clean: 0.95,
        corrupted: [
          { kind: 'A', severity: 1, accuracy: 0.9 },
          { kind: 'A', severity: 2, accuracy: 0.8 },
          { kind: 'B', severity: 3, accuracy: 0.7 },
        ],
      },
      {
        clean: 0.9,
        corrupted: [
          { kind: 'A', severity: 1, accuracy: 0.8 },
          { kind: 'A', severity: 2, accuracy: 0.6 },
          { kind: 'B', severity: 3, accuracy: 0.5 },
        ],
      },
    );
    expect(s.ce.A).toBeCloseTo(0.5, 12);
    expect(s.ce.B).toBeCloseTo(0.6, 12);
    expect(s.mce).toBeCloseTo(0.55, 12);
    expect(s.relativeCe.A).toBeCloseTo(0.5, 12);
    expect(s.relativeCe.B).toBeCloseTo(0.625, 12);
    expect(s.relativeMce).toBeCloseTo(0.5625, 12);
    expect(s.skipped).toEqual([]);
  });

  it('the baseline scores itself at CE 1; kinds the baseline lacks are skipped, not guessed', () => {
    const m = {
      clean: 0.9,
      corrupted: [
        { kind: 'A', severity: 1, accuracy: 0.7 },
        { kind: 'C', severity: 1, accuracy: 0.5 },
      ],
    };
    const s = corruptionSummary(m, { clean: 0.9, corrupted: [{ kind: 'A', severity: 1, accuracy: 0.7 }] });
    expect(s.ce).toEqual({ A: 1 });
    expect(s.relativeCe).toEqual({ A: 1 });
    expect(s.skipped).toEqual(['C']);
    expect(s.relativeSkipped).toEqual([]);
  });

  it('no relative CE for a kind that costs the baseline under 1 point on average (its ratio is noise)', () => {
    // Baseline clean 0.9. Kind D raises its accuracy (0.91, 0.90: mean degradation −0.5 point) and kind
    // E costs it 0.5 point: both keep a CE but get no relative CE. Kind F costs exactly 1 point
    // (0.89): model (clean 0.95, F at 0.93) → relative CE 0.02 / 0.01 = 2, the relative mCE.
    const s = corruptionSummary(
      {
        clean: 0.95,
        corrupted: [
          { kind: 'D', severity: 1, accuracy: 0.94 },
          { kind: 'D', severity: 2, accuracy: 0.92 },
          { kind: 'E', severity: 1, accuracy: 0.9 },
          { kind: 'F', severity: 1, accuracy: 0.93 },
        ],
      },
      {
        clean: 0.9,
        corrupted: [
          { kind: 'D', severity: 1, accuracy: 0.91 },
          { kind: 'D', severity: 2, accuracy: 0.9 },
          { kind: 'E', severity: 1, accuracy: 0.895 },
          { kind: 'F', severity: 1, accuracy: 0.89 },
        ],
      },
    );
    // CE D = (0.06 + 0.08) / (0.09 + 0.1); E = 0.1 / 0.105; F = 0.07 / 0.11
    expect(s.ce.D).toBeCloseTo(0.14 / 0.19, 12);
    expect(s.ce.E).toBeCloseTo(0.1 / 0.105, 12);
    expect(s.ce.F).toBeCloseTo(0.07 / 0.11, 12);
    expect(Object.keys(s.relativeCe)).toEqual(['F']);
    expect(s.relativeCe.F).toBeCloseTo(2, 9);
    expect(s.relativeMce).toBeCloseTo(2, 9);
    expect(s.relativeSkipped).toEqual(['D', 'E']);
  });
});

describe('McNemar exact test', () => {
  it('matches the binomial tail by hand', () => {
    // n = 12, P[X ≤ 2] = (1 + 12 + 66) / 4096
    expect(mcnemarExact(10, 2)).toBeCloseTo((2 * 79) / 4096, 12);
    expect(mcnemarExact(2, 10)).toBeCloseTo((2 * 79) / 4096, 12);
    expect(mcnemarExact(5, 5)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
    // n = 20, b = 0: 2 · 2^-20
    expect(mcnemarExact(0, 20)).toBeCloseTo(2 / 2 ** 20, 15);
  });

  it('paired comparison: verdicts and a bootstrap CI around the observed difference', () => {
    const n = 400;
    const a = Array.from({ length: n }, (_, i) => i % 10 !== 0); // 90 %
    const b = Array.from({ length: n }, (_, i) => i % 10 !== 0 && i % 7 !== 0); // fewer right, all B-right are A-right
    const r = pairedComparison(a, b, { seed: 3 });
    expect(r.b).toBe(a.filter((x, i) => x && !b[i]).length);
    expect(r.c).toBe(0);
    expect(r.difference).toBeCloseTo(r.accuracyA - r.accuracyB, 12);
    expect(r.ciLow).toBeGreaterThan(0);
    expect(r.ciLow).toBeLessThanOrEqual(r.difference);
    expect(r.ciHigh).toBeGreaterThanOrEqual(r.difference);
    expect(r.verdict).toBe('better');
    expect(pairedComparison(b, a, { seed: 3 }).verdict).toBe('worse');
    expect(pairedComparison(a, a).verdict).toBe('not distinguishable');
    expect(pairedComparison(a, b, { seed: 3 })).toEqual(r);
    expect(() => pairedComparison([true], [true, false])).toThrow(/1 vs 2/);
  });
});

describe('level at a drop', () => {
  it('interpolates between the measured levels around the crossing', () => {
    const curve = [
      { level: 1, accuracy: 0.9 },
      { level: 2, accuracy: 0.86 },
      { level: 3, accuracy: 0.8 },
    ];
    expect(levelAtDrop(0.9, curve, 0.05)).toBeCloseTo(2 + 1 / 6, 12);
    expect(levelAtDrop(0.9, curve, 0.2)).toBeNull();
    // SNR axis, mild to severe: 30 → 3
    expect(
      levelAtDrop(
        0.95,
        [
          { level: 30, accuracy: 0.95 },
          { level: 10, accuracy: 0.93 },
          { level: 5, accuracy: 0.85 },
        ],
        0.05,
      ),
    ).toBeCloseTo(10 - 5 * (0.03 / 0.08), 12);
  });
});
