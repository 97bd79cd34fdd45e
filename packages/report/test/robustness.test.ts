/** The report's robustness data steps (grid, CE / mCE against a baseline, drops, per-class) and the heat map spec, against hand-computed values. */
import { describe, expect, it } from 'vitest';
import { compile, type TopLevelSpec } from 'vega-lite';
import { CLEAN_LEVEL, heatmapChart, heatmapKindOrder, heatmapRows } from '../src/charts/heatmap.ts';
import { classRobustness, corruptionGrid, kindDrops, trialRobustness } from '../src/robustness.ts';
import { robustnessByTrial } from '../src/page.ts';
import type { BaselineScores, EvaluationInfo, SweepData } from '../src/types.ts';

function ev(testSet: string, noiseKind: string, severity: number, accuracy: number, recalls?: [number, number], trialId = 't1'): EvaluationInfo {
  return {
    trialId,
    testSet,
    noiseKind,
    severity,
    n: 100,
    accuracy,
    ciLow: accuracy - 0.05,
    ciHigh: accuracy + 0.05,
    macroF1: null,
    ece: null,
    eceCalibrated: null,
    perClass: recalls
      ? [
          { label: 'a', recall: recalls[0], support: 50 },
          { label: 'b', recall: recalls[1], support: 50 },
        ]
      : [],
  };
}

/** Clean 0.90; mri-c gaussian 0.80 / 0.70, blur 0.88 / 0.78, motion 0.88 at s1; an ad-hoc gaussian s1 set and a Rician SNR set. */
const EVALS: EvaluationInfo[] = [
  ev('test', 'none', 0, 0.9, [0.95, 0.85]),
  ev('test-mri-c-gaussian-s1', 'gaussian', 1, 0.8, [0.94, 0.7]),
  ev('test-mri-c-gaussian-s2', 'gaussian', 2, 0.7, [0.94, 0.5]),
  ev('test-gaussian-s1', 'gaussian', 1, 0.5, [0.5, 0.5]),
  ev('test-mri-c-blur-s1', 'blur', 1, 0.88, [0.94, 0.8]),
  ev('test-mri-c-blur-s2', 'blur', 2, 0.78, [0.94, 0.6]),
  ev('test-mri-c-motion-s1', 'motion', 1, 0.88, [0.94, 0.8]),
  ev('test-rician-snr5', 'rician', 4, 0.6),
];

/** Baseline: clean 0.80; gaussian 0.60 / 0.50, blur 0.70 / 0.60; no motion. */
const BASELINE: BaselineScores = {
  name: 'linear head',
  description: 'linear head on frozen features',
  key: 'k0',
  clean: 0.8,
  corrupted: [
    { testSet: 'test-mri-c-gaussian-s1', kind: 'gaussian', severity: 1, accuracy: 0.6 },
    { testSet: 'test-mri-c-gaussian-s2', kind: 'gaussian', severity: 2, accuracy: 0.5 },
    { testSet: 'test-mri-c-blur-s1', kind: 'blur', severity: 1, accuracy: 0.7 },
    { testSet: 'test-mri-c-blur-s2', kind: 'blur', severity: 2, accuracy: 0.6 },
    { testSet: 'test-rician-snr5', kind: 'rician', severity: 4, accuracy: 0.3 },
  ],
};

describe('corruption grid', () => {
  it('one set per kind and severity, the mri-c set preferred; SNR sets and clean left out', () => {
    const grid = corruptionGrid(EVALS);
    expect(grid.map((c) => [c.kind, c.severity, c.testSet, c.benchmark])).toEqual([
      ['blur', 1, 'test-mri-c-blur-s1', true],
      ['blur', 2, 'test-mri-c-blur-s2', true],
      ['gaussian', 1, 'test-mri-c-gaussian-s1', true],
      ['gaussian', 2, 'test-mri-c-gaussian-s2', true],
      ['motion', 1, 'test-mri-c-motion-s1', true],
    ]);
    // without the benchmark, the ad-hoc set takes the cell
    const adHoc = corruptionGrid(EVALS.filter((e) => !e.testSet.includes('mri-c')));
    expect(adHoc.map((c) => [c.testSet, c.benchmark])).toEqual([['test-gaussian-s1', false]]);
  });
});

describe('CE, mCE and relative mCE against the baseline', () => {
  it('matches the hand-computed ImageNet-C numbers', () => {
    const r = trialRobustness(EVALS, BASELINE);
    expect(r).not.toBeNull();
    if (!r) return;
    // gaussian: errors 0.2 + 0.3 = 0.5 vs 0.4 + 0.5 = 0.9; relative (0.1 + 0.2) / (0.2 + 0.3)
    expect(r.summary.ce.gaussian).toBeCloseTo(0.5 / 0.9, 12);
    expect(r.summary.relativeCe.gaussian).toBeCloseTo(0.3 / 0.5, 12);
    // blur: 0.12 + 0.22 = 0.34 vs 0.3 + 0.4 = 0.7; relative (0.02 + 0.12) / (0.1 + 0.2)
    expect(r.summary.ce.blur).toBeCloseTo(0.34 / 0.7, 12);
    expect(r.summary.relativeCe.blur).toBeCloseTo(0.14 / 0.3, 12);
    expect(r.summary.mce).toBeCloseTo((0.5 / 0.9 + 0.34 / 0.7) / 2, 12);
    expect(r.summary.relativeMce).toBeCloseTo((0.3 / 0.5 + 0.14 / 0.3) / 2, 12);
    // motion: the baseline lacks it; the Rician SNR set is not a severity cell
    expect(r.kinds).toEqual(['blur', 'gaussian']);
    expect([r.cells, r.source]).toEqual([4, 'mri-c']);
  });
  it('takes the baseline value of the same kind and severity when it scored another set there', () => {
    const base: BaselineScores = {
      ...BASELINE,
      corrupted: [
        { testSet: 'test-gaussian-s1', kind: 'gaussian', severity: 1, accuracy: 0.6 },
        { testSet: 'test-gaussian-s2', kind: 'gaussian', severity: 2, accuracy: 0.5 },
      ],
    };
    const r = trialRobustness(EVALS, base);
    expect(r?.kinds).toEqual(['gaussian']);
    expect(r?.summary.mce).toBeCloseTo(0.5 / 0.9, 12);
  });
  it('null without a clean test set or without a kind in common', () => {
    expect(trialRobustness(EVALS.slice(1), BASELINE)).toBeNull();
    expect(trialRobustness(EVALS, { ...BASELINE, corrupted: [] })).toBeNull();
    expect(trialRobustness([EVALS[0], EVALS[7]], BASELINE)).toBeNull();
  });
  it('per trial of a sweep: only trials with a summary (no empty column for the others)', () => {
    const other = [ev('test', 'none', 0, 0.8, undefined, 't2'), ev('test-rician-snr5', 'rician', 4, 0.5, undefined, 't2')];
    const data = { evaluations: [...EVALS, ...other] } as SweepData;
    expect([...robustnessByTrial(data, BASELINE).keys()]).toEqual(['t1']);
    expect(robustnessByTrial(data, null).size).toBe(0);
    expect(robustnessByTrial({ evaluations: other } as SweepData, BASELINE).size).toBe(0);
  });
});

describe('where accuracy falls 5 points below clean', () => {
  it('per kind, mild to severe, interpolated; SNR sets on their own panel', () => {
    const drops = new Map(kindDrops(EVALS).map((d) => [d.panel, d]));
    // blur: 0.90 → 0.88 (s1) → 0.78 (s2): crosses 0.85 at 1 + (0.88 − 0.85) / (0.88 − 0.78) = 1.3
    expect(drops.get('blur')?.levelAtDrop).toBeCloseTo(1.3, 12);
    // gaussian: already 0.80 at s1 (the mri-c set, not the ad-hoc 0.50)
    expect(drops.get('gaussian')?.levels.map((l) => [l.level, l.accuracy])).toEqual([
      [1, 0.8],
      [2, 0.7],
    ]);
    expect(drops.get('gaussian')?.levelAtDrop).toBe(1);
    expect(drops.get('motion')?.levelAtDrop).toBeNull();
    expect(drops.get('rician (SNR)')).toMatchObject({ scale: 'snr', levelAtDrop: 5 });
  });
});

describe('per-class robustness', () => {
  it('orders classes by the severity at which their recall collapses', () => {
    const classes = classRobustness(EVALS);
    expect(classes.map((c) => c.label)).toEqual(['b', 'a']);
    const [b, a] = classes;
    // b: s1 mean of gaussian 0.7, blur 0.8, motion 0.8; s2 mean of 0.5 and 0.6; clean 0.85 → below 0.80 already at s1
    expect(b.bySeverity[0].recall).toBeCloseTo((0.7 + 0.8 + 0.8) / 3, 12);
    expect(b.bySeverity[1].recall).toBeCloseTo(0.55, 12);
    expect(b.severityAtDrop).toBe(1);
    expect(b.meanCorrupted).toBeCloseTo((0.7 + 0.5 + 0.8 + 0.6 + 0.8) / 5, 12);
    expect(a.severityAtDrop).toBeNull();
    expect(a.clean - a.meanCorrupted).toBeCloseTo(0.01, 12);
  });
  it('empty without per-class metrics', () => {
    expect(classRobustness(EVALS.map((e) => ({ ...e, perClass: [] })))).toEqual([]);
  });
});

describe('heat map', () => {
  const evals = [...EVALS, ev('test', 'none', 0, 0.7, undefined, 't2'), ev('test-rician-snr5', 'rician', 4, 0.5, undefined, 't2')];
  it('rows: a cell per grid set and a clean cell per kind, for trials with grid cells only', () => {
    const rows = heatmapRows(evals, ['t2', 't1']);
    expect(new Set(rows.map((r) => r.trial))).toEqual(new Set(['t1']));
    expect(rows.filter((r) => r.level === CLEAN_LEVEL).map((r) => [r.kind, r.accuracy])).toEqual([
      ['blur', 0.9],
      ['gaussian', 0.9],
      ['motion', 0.9],
    ]);
    expect(rows.filter((r) => r.level !== CLEAN_LEVEL).map((r) => `${r.kind}-${r.level}:${r.accuracy}`)).toEqual([
      'blur-1:0.88',
      'blur-2:0.78',
      'gaussian-1:0.8',
      'gaussian-2:0.7',
      'motion-1:0.88',
    ]);
    // hardest first: gaussian (mean 0.75), blur (0.83), motion (0.88)
    expect(heatmapKindOrder(rows)).toEqual(['gaussian', 'blur', 'motion']);
  });
  it('compiles, with a select of the trials that have cells', () => {
    const spec = heatmapChart(evals, ['t1', 't2']) as TopLevelSpec & { params: { value: string; bind: { options: string[] } }[] };
    expect(spec.params[0].value).toBe('t1');
    expect(spec.params[0].bind.options).toEqual(['t1']);
    expect(() => compile(spec)).not.toThrow();
  });
});
