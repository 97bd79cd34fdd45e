import { describe, expect, it } from 'vitest';
import { compile, type TopLevelSpec } from 'vega-lite';
import { parseExperiment } from '@mri-robust/core';
import {
  buildCharts,
  cleanVsNoisyChart,
  confusionChart,
  confusionRows,
  curveRows,
  hyperparamChart,
  learningCurvesChart,
  pairRows,
  parallelChart,
  parallelRows,
  paramRows,
  rankTrials,
  reportSchemaPart,
  reportSettings,
  robustnessChart,
  robustnessRows,
  setsByDifficulty,
  type ConfusionCell,
  type EpochInfo,
  type EvaluationInfo,
  type SweepData,
  type TrialInfo,
} from '../src/index.ts';

function trial(id: string, i: number, over: Partial<TrialInfo> = {}): TrialInfo {
  return {
    trialId: id, trialIndex: i, learningRate: 1e-3 * (i + 1), dropout: 0.1 * i, batchSize: 32, status: 'finished', error: null,
    backend: 'cpu', seed: i, bestEpoch: 1, objective: 0.5 + i / 10, startedAt: null, endedAt: null, gitCommit: null, ...over,
  };
}

function ev(trialId: string, testSet: string, noiseKind: string, severity: number, accuracy: number): EvaluationInfo {
  return { trialId, testSet, noiseKind, severity, n: 100, accuracy, ciLow: accuracy - 0.05, ciHigh: accuracy + 0.05, macroF1: accuracy, ece: 0.1, eceCalibrated: 0.05 };
}

const trials = [trial('a', 0), trial('b', 1), trial('c', 2, { status: 'failed', objective: null, learningRate: null })];
const evals = [
  ev('a', 'test', 'none', 0, 0.9),
  ev('a', 'test-gaussian-s1', 'gaussian', 1, 0.8),
  ev('a', 'test-gaussian-s2', 'gaussian', 2, 0.7),
  ev('a', 'test-rician-s1', 'rician', 1, 0.6),
  ev('b', 'test', 'none', 0, 0.95),
  ev('b', 'test-gaussian-s1', 'gaussian', 1, 0.85),
  ev('b', 'test-gaussian-s2', 'gaussian', 2, 0.75),
  ev('b', 'test-rician-s1', 'rician', 1, 0.5),
  // a validation set must not be mistaken for a test set
  ev('b', 'val-gaussian-s1', 'gaussian', 1, 0.1),
];
const epochs: EpochInfo[] = [0, 1, 2].flatMap((epoch) =>
  ['a', 'b'].map((trialId) => ({ trialId, epoch, trainLoss: 1 - epoch / 5, trainAccuracy: 0.5 + epoch / 10, valLoss: 1.1 - epoch / 5, valAccuracy: 0.45 + epoch / 10, valNoisyAccuracy: trialId === 'a' ? null : 0.4, objective: 0.5, learningRate: 1e-3, seconds: 1 })),
);

/** Compiles a Vega-Lite spec to Vega (throws on an invalid spec) and returns the data values. */
function compiles(spec: TopLevelSpec): void {
  const vg = compile(spec).spec;
  expect(vg.marks?.length ?? 0).toBeGreaterThan(0);
}

function values(spec: TopLevelSpec): unknown[] {
  const d = (spec as { data?: { values?: unknown[] } }).data;
  return d?.values ?? [];
}

describe('ranking', () => {
  it('orders by objective in the sweep direction, finished first, without null objectives', () => {
    const ts = [trial('x', 0, { objective: 0.7 }), trial('y', 1, { objective: 0.9, status: 'pruned' }), trial('z', 2, { objective: 0.8 }), trial('w', 3, { objective: null })];
    expect(rankTrials(ts, 'maximize')).toEqual(['z', 'x', 'y']);
    expect(rankTrials(ts, 'minimize')).toEqual(['x', 'z', 'y']);
  });
});

describe('clean vs noisy chart', () => {
  it('pairs each trial with every noisy test set and orders sets hardest first', () => {
    const rows = pairRows(evals, ['b', 'a', 'c']);
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => r.trial === 'b').map((r) => r.set)).toEqual(['test-gaussian-s1', 'test-gaussian-s2', 'test-rician-s1']);
    expect(rows.find((r) => r.trial === 'a' && r.set === 'test-rician-s1')).toMatchObject({ clean: 0.9, noisy: 0.6, rank: 2, cleanLow: 0.85 });
    expect(setsByDifficulty(rows)).toEqual(['test-rician-s1', 'test-gaussian-s2', 'test-gaussian-s1']);
  });

  it('binds a select of the noisy sets, defaulting to the hardest, and compiles', () => {
    const spec = cleanVsNoisyChart(evals, ['b', 'a', 'c']);
    const param = (spec as { params: { name: string; value: string; bind: { input: string; options: string[] } }[] }).params[0];
    expect(param).toMatchObject({ name: 'noisy_set', value: 'test-rician-s1', bind: { input: 'select' } });
    expect(param.bind.options).toHaveLength(3);
    expect((spec as { layer: unknown[] }).layer).toHaveLength(5);
    expect(values(spec)).toHaveLength(6);
    compiles(spec);
  });
});

describe('robustness chart', () => {
  it('starts every noise kind at the clean accuracy (severity 0), severities ascending', () => {
    const rows = robustnessRows(evals, ['b']);
    expect(rows.map((r) => [r.kind, r.severity, r.accuracy])).toEqual([
      ['gaussian', 0, 0.95],
      ['gaussian', 1, 0.85],
      ['gaussian', 2, 0.75],
      ['rician', 0, 0.95],
      ['rician', 1, 0.5],
    ]);
    const spec = robustnessChart(evals, ['b', 'a']);
    expect((spec as { facet: { column: { sort: string[] } } }).facet.column.sort).toEqual(['b', 'a']);
    compiles(spec);
  });
});

describe('learning curves chart', () => {
  it('has a row per recorded metric value, skipping missing ones', () => {
    const rows = curveRows(epochs);
    expect(rows.filter((r) => r.trial === 'a')).toHaveLength(3 * 4);
    expect(rows.filter((r) => r.trial === 'b')).toHaveLength(3 * 5);
  });
  it('selects trials best first, labels the best, and compiles', () => {
    const spec = learningCurvesChart(epochs, trials, ['b', 'a', 'c']);
    const bind = (spec as { params: { value: string; bind: { options: string[]; labels: string[] } }[] }).params[0];
    expect(bind.value).toBe('b');
    expect(bind.bind.options).toEqual(['b', 'a']);
    expect(bind.bind.labels[0]).toBe('b (best)');
    expect((spec as { hconcat: unknown[] }).hconcat).toHaveLength(2);
    compiles(spec);
  });
});

describe('hyper-parameter charts', () => {
  it('plots trials with an objective on a log learning-rate axis', () => {
    expect(paramRows(trials).map((r) => r.trial)).toEqual(['a', 'b']);
    const spec = hyperparamChart(trials, 'val_accuracy', 'maximize');
    const first = (spec as { hconcat: { encoding: { x: { field: string; scale?: { type: string } } } }[] }).hconcat[0];
    expect(first.encoding.x).toMatchObject({ field: 'learningRate', scale: { type: 'log' } });
    expect((spec as { hconcat: unknown[] }).hconcat).toHaveLength(3);
    compiles(spec);
  });
  it('parallel coordinates: one row per trial, log10 learning rate, worst noisy accuracy', () => {
    const rows = parallelRows(trials, evals);
    expect(rows).toHaveLength(3);
    expect(rows[0].lr_log10).toBeCloseTo(-3, 6);
    expect(rows[1].worst_noisy_acc).toBe(0.5);
    expect(rows[2]).toMatchObject({ lr_log10: null, objective: null, clean_acc: null });
    const spec = parallelChart(trials, evals, 'val_accuracy', 'maximize');
    expect((spec as { transform: { fold?: string[] }[] }).transform[0].fold).toContain('worst_noisy_acc');
    compiles(spec);
  });
});

describe('confusion chart', () => {
  const cells: ConfusionCell[] = [
    { testSet: 'test', trueLabel: 'x', predLabel: 'x', count: 8 },
    { testSet: 'test', trueLabel: 'x', predLabel: 'y', count: 2 },
    { testSet: 'test', trueLabel: 'y', predLabel: 'y', count: 5 },
    { testSet: 'test-rician-s1', trueLabel: 'x', predLabel: 'y', count: 4 },
  ];
  it('normalises each true class row to shares', () => {
    const rows = confusionRows(cells, [{ set: 'test', title: 'clean' }]);
    expect(rows.map((r) => r.share)).toEqual([0.8, 0.2, 1]);
    const spec = confusionChart(cells, [{ set: 'test', title: 'clean' }, { set: 'test-rician-s1', title: 'worst' }]);
    expect(values(spec)).toHaveLength(4);
    compiles(spec);
  });
});

describe('buildCharts', () => {
  const sweep = {
    sweepId: 's', name: 's', experimentPath: null, experimentYaml: null, strategy: 'grid', objective: 'val_accuracy', direction: 'maximize' as const,
    seed: 1, status: 'finished', gitCommit: null, backend: null, createdAt: null, finishedAt: null, nTrials: 3, dataSummary: null, noiseSettings: null, stages: {},
  };
  it('draws every chart when there is data; best trial confusion uses its worst noisy set', () => {
    const data: SweepData = {
      sweep, trials, epochs, evaluations: evals, ranked: rankTrials(trials, 'maximize'),
      bestConfusion: [
        { testSet: 'test', trueLabel: 'x', predLabel: 'x', count: 3 },
        { testSet: 'test-rician-s1', trueLabel: 'x', predLabel: 'x', count: 1 },
        { testSet: 'test-gaussian-s1', trueLabel: 'x', predLabel: 'x', count: 2 },
      ],
    };
    const charts = buildCharts(data, { bestTrials: 2 });
    expect(charts.map((c) => c.id)).toEqual(['chart-clean-vs-noisy', 'chart-robustness', 'chart-learning-curves', 'chart-hyperparams', 'chart-parallel', 'chart-confusion']);
    expect(charts.every((c) => c.spec !== null)).toBe(true);
    const conf = charts.find((c) => c.id === 'chart-confusion')!.spec!;
    expect((conf as { facet: { column: { sort: string[] } } }).facet.column.sort).toEqual(['clean: test (acc 0.950)', 'worst noisy: test-rician-s1 (acc 0.500)']);
  });
  it('says why a chart is empty instead of drawing nothing', () => {
    const data: SweepData = { sweep, trials: [], epochs: [], evaluations: [], ranked: [], bestConfusion: [] };
    const charts = buildCharts(data, { bestTrials: 3 });
    expect(charts.every((c) => c.spec === null && !!c.empty)).toBe(true);
  });
});

describe('report schema part', () => {
  it('fills the default and rejects out-of-range values with file/line', () => {
    const ok = parseExperiment('name: x\nreport: {}\n', 'x.yaml', [reportSchemaPart]);
    expect(reportSettings(ok.config)).toEqual({ best_trials: 3 });
    const five = parseExperiment('name: x\nreport:\n  best_trials: 5\n', 'x.yaml', [reportSchemaPart]);
    expect(reportSettings(five.config).best_trials).toBe(5);
    expect(() => parseExperiment('name: x\nreport:\n  best_trials: 0\n', 'x.yaml', [reportSchemaPart])).toThrow(/x\.yaml:3.*best_trials/s);
    expect(() => parseExperiment('name: x\nreport:\n  colour: red\n', 'x.yaml', [reportSchemaPart])).toThrow(/unknown key "colour"/);
  });
});
