import { describe, expect, it } from 'vitest';
import { flattenSettings, sameTestImages, settingDifferences, type ComparedSweep } from '../src/compare/data.ts';
import { unpairedDiff, unpairedVerdict, verdictSentence } from '../src/compare/stats.ts';

describe('comparison statistics beyond core', () => {
  it('unpaired: combines the two intervals as independent normal errors', () => {
    const u = unpairedDiff({ accuracy: 0.8, ciLow: 0.76, ciHigh: 0.84 }, { accuracy: 0.9, ciLow: 0.87, ciHigh: 0.93 });
    expect(u.diff).toBeCloseTo(0.1, 12);
    expect(u.low).toBeCloseTo(0.05, 4);
    expect(u.high).toBeCloseTo(0.15, 4);
  });
  it('unpaired verdict: better / worse only when the interval excludes 0', () => {
    expect(unpairedVerdict({ low: 0.01, high: 0.2 })).toBe('better');
    expect(unpairedVerdict({ low: -0.2, high: -0.001 })).toBe('worse');
    expect(unpairedVerdict({ low: -0.01, high: 0.2 })).toBe('not distinguishable');
    expect(unpairedVerdict({ low: 0, high: 0.2 })).toBe('not distinguishable');
  });
  it('says the verdicts in one sentence: clean, then counts over the corrupted sets', () => {
    expect(
      verdictSentence([
        { clean: true, verdict: 'better' },
        { clean: false, verdict: 'better' },
        { clean: false, verdict: 'not distinguishable' },
        { clean: false, verdict: 'better' },
        { clean: false, verdict: 'worse' },
      ]),
    ).toBe('better on clean; on the 4 corrupted sets: better on 2, not distinguishable on 1, worse on 1');
    expect(verdictSentence([{ clean: false, verdict: 'worse' }])).toBe('on the 1 corrupted set: worse on 1');
    expect(verdictSentence([])).toBe('no test set in common');
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
