import { describe, expect, it } from 'vitest';
import { flattenSettings, sameTestImages, settingDifferences, type ComparedSweep } from '../src/compare/data.ts';
import { mcnemarExact, pairedComparison, unpairedDiff } from '../src/compare/stats.ts';

describe('McNemar exact test', () => {
  it('doubles the binomial(½) tail of the smaller discordant count', () => {
    // b = 10, c = 2: P(X ≤ 2 | n = 12) = (1 + 12 + 66) / 4096
    expect(mcnemarExact(10, 2)).toBeCloseTo((2 * 79) / 4096, 12);
    expect(mcnemarExact(2, 10)).toBeCloseTo((2 * 79) / 4096, 12);
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(5, 5)).toBe(1);
    expect(mcnemarExact(0, 6)).toBeCloseTo(2 / 64, 12);
    // large counts stay finite (log space): 300 vs 200
    const p = mcnemarExact(300, 200);
    expect(p).toBeGreaterThan(1e-6);
    expect(p).toBeLessThan(1e-4);
  });
});

describe('paired comparison', () => {
  it('counts discordant images, and its seeded bootstrap interval holds the difference', () => {
    const a = Array.from({ length: 200 }, (_, i) => i % 5 !== 0); // 80 %
    const b = Array.from({ length: 200 }, (_, i) => i % 10 !== 0); // 90 %, right wherever a is, and more
    const r = pairedComparison(a, b, 1000, 'seed');
    expect(r).toMatchObject({ n: 200, accuracyA: 0.8, accuracyB: 0.9, onlyA: 0, onlyB: 20 });
    expect(r.diff).toBeCloseTo(0.1, 12);
    expect(r.low).toBeGreaterThan(0);
    expect(r.low).toBeLessThan(0.1);
    expect(r.high).toBeGreaterThan(0.1);
    expect(r.pMcNemar).toBeCloseTo(2 * 0.5 ** 20, 15);
    expect(pairedComparison(a, b, 1000, 'seed')).toEqual(r);
    const same = pairedComparison(a, a, 200, 1);
    expect([same.diff, same.low, same.high, same.pMcNemar]).toEqual([0, 0, 0, 1]);
    expect(() => pairedComparison(a, b.slice(1), 10, 1)).toThrow(/200 vs 199/);
  });
  it('unpaired: combines the two intervals as independent normal errors', () => {
    const u = unpairedDiff({ accuracy: 0.8, ciLow: 0.76, ciHigh: 0.84 }, { accuracy: 0.9, ciLow: 0.87, ciHigh: 0.93 });
    expect(u.diff).toBeCloseTo(0.1, 12);
    expect(u.low).toBeCloseTo(0.05, 4);
    expect(u.high).toBeCloseTo(0.15, 4);
  });
});

describe('what makes test sets the same images', () => {
  const sweep = (over: Partial<ComparedSweep>): ComparedSweep =>
    ({ ingestKey: 'k1', seed: 7, noiseEval: '{"kinds":[]}', predictions: null, settings: {}, ...over }) as ComparedSweep;
  it('clean: the ingest key; noisy: also the seed and noise.eval; saved ids must agree', () => {
    const a = sweep({});
    expect(sameTestImages(a, sweep({}), 'test-x', false).same).toBe(true);
    expect(sameTestImages(a, sweep({ ingestKey: 'k2' }), 'test', true)).toMatchObject({ same: false, why: expect.stringMatching(/ingest/) });
    expect(sameTestImages(a, sweep({ seed: 8 }), 'test', true).same).toBe(true);
    expect(sameTestImages(a, sweep({ seed: 8 }), 'test-x', false)).toMatchObject({ same: false, why: expect.stringMatching(/seed/) });
    expect(sameTestImages(a, sweep({ noiseEval: '{}' }), 'test-x', false)).toMatchObject({ same: false, why: expect.stringMatching(/noise\.eval/) });
    const preds = (ids: string[]) => ({ file: 'p', classes: [], sets: { test: { ids, labels: ids.map(() => 0), predicted: ids.map(() => 0) } } });
    expect(sameTestImages(sweep({ predictions: preds(['a', 'b']) }), sweep({ predictions: preds(['a', 'c']) }), 'test', true).same).toBe(false);
    expect(sameTestImages(sweep({ predictions: preds(['a', 'b']) }), sweep({ predictions: preds(['a', 'b']) }), 'test', true).same).toBe(true);
  });
  it('lists the experiment settings that differ', () => {
    const a = flattenSettings({ noise: { train: { mode: 'replace', kinds: [1, 2] } }, seed: 1 });
    expect(a).toEqual({ 'noise.train.mode': '"replace"', 'noise.train.kinds': '[1,2]', seed: '1' });
    const b = flattenSettings({ noise: { train: { mode: 'copies', kinds: [1, 2] } }, seed: 1, extra: true });
    expect(settingDifferences([{ settings: a }, { settings: b }])).toEqual([
      { key: 'extra', values: [null, 'true'] },
      { key: 'noise.train.mode', values: ['"replace"', '"copies"'] },
    ]);
  });
});
