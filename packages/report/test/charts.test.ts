import { describe, expect, it } from 'vitest';
import { compile, type TopLevelSpec } from 'vega-lite';
import { parseExperiment } from '@mri-robust/core';
import { buildCharts } from '../src/charts/index.ts';
import { cleanVsNoisyChart, MEAN_NOISY, pairRows, setsByDifficulty } from '../src/charts/clean-vs-noisy.ts';
import { confusionChart, confusionRows } from '../src/charts/confusion.ts';
import { hyperparamChart, paramRows } from '../src/charts/hyperparams.ts';
import { curveRows, learningCurvesChart } from '../src/charts/learning-curves.ts';
import { parallelChart, parallelRows } from '../src/charts/parallel.ts';
import { robustnessChart, robustnessRows } from '../src/charts/robustness.ts';
import { noiseLevel, rankTrials } from '../src/rows.ts';
import { reportSchemaPart, reportSettings } from '../src/schema.ts';
import type { ConfusionCell, EpochInfo, EvaluationInfo, SweepData, TrialInfo } from '../src/types.ts';

function trial(id: string, i: number, over: Partial<TrialInfo> = {}): TrialInfo {
  return {
    trialId: id,
    trialIndex: i,
    learningRate: 1e-3 * (i + 1),
    dropout: 0.1 * i,
    batchSize: 32,
    status: 'finished',
    error: null,
    backend: 'cpu',
    seed: i,
    bestEpoch: 1,
    objective: 0.5 + i / 10,
    startedAt: null,
    endedAt: null,
    gitCommit: null,
    ...over,
  };
}

function ev(trialId: string, testSet: string, noiseKind: string, severity: number, accuracy: number): EvaluationInfo {
  return {
    trialId,
    testSet,
    noiseKind,
    severity,
    n: 100,
    accuracy,
    ciLow: accuracy - 0.05,
    ciHigh: accuracy + 0.05,
    macroF1: accuracy,
    ece: 0.1,
    eceCalibrated: 0.05,
  };
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
  ['a', 'b'].map((trialId) => ({
    trialId,
    epoch,
    trainLoss: 1 - epoch / 5,
    trainAccuracy: 0.5 + epoch / 10,
    valLoss: 1.1 - epoch / 5,
    valAccuracy: 0.45 + epoch / 10,
    valNoisyAccuracy: trialId === 'a' ? null : 0.4,
    objective: 0.5,
    learningRate: 1e-3,
    seconds: 1,
  })),
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
    const ts = [
      trial('x', 0, { objective: 0.7 }),
      trial('y', 1, { objective: 0.9, status: 'pruned' }),
      trial('z', 2, { objective: 0.8 }),
      trial('w', 3, { objective: null }),
    ];
    expect(rankTrials(ts, 'maximize')).toEqual(['z', 'x', 'y']);
    expect(rankTrials(ts, 'minimize')).toEqual(['x', 'z', 'y']);
  });
});

describe('clean vs noisy chart', () => {
  it('pairs each trial with every noisy test set and their mean, and orders sets hardest first', () => {
    const rows = pairRows(evals, ['b', 'a', 'c']);
    expect(rows).toHaveLength(8);
    expect(rows.filter((r) => r.trial === 'b').map((r) => r.set)).toEqual([MEAN_NOISY, 'test-gaussian-s1', 'test-gaussian-s2', 'test-rician-s1']);
    expect(rows.find((r) => r.trial === 'a' && r.set === 'test-rician-s1')).toMatchObject({ clean: 0.9, noisy: 0.6, rank: 2, cleanLow: 0.85 });
    expect(rows.find((r) => r.trial === 'a' && r.set === MEAN_NOISY)).toMatchObject({ clean: 0.9, noisy: 0.7, noisyLow: null, noisyHigh: null });
    expect(setsByDifficulty(rows)).toEqual(['test-rician-s1', 'test-gaussian-s2', 'test-gaussian-s1']);
  });

  it('binds a select starting at the mean of the noisy sets, then the hardest set, and compiles', () => {
    const spec = cleanVsNoisyChart(evals, ['b', 'a', 'c']);
    const param = (spec as { params: { name: string; value: string; bind: { input: string; options: string[] } }[] }).params[0];
    expect(param).toMatchObject({ name: 'noisy_set', value: MEAN_NOISY, bind: { input: 'select' } });
    expect(param.bind.options).toEqual([MEAN_NOISY, 'test-rician-s1', 'test-gaussian-s2', 'test-gaussian-s1']);
    expect((spec as { layer: unknown[] }).layer).toHaveLength(5);
    expect(values(spec)).toHaveLength(8);
    compiles(spec);
  });
});

describe('robustness chart', () => {
  const snrEvals = [
    ev('b', 'test', 'none', 0, 0.95),
    ev('b', 'test-rician-snr20', 'rician', 2, 0.9),
    ev('b', 'test-rician-snr5', 'rician', 4, 0.7),
    ev('b', 'test-motion-s3', 'motion', 3, 0.8),
    ev('b', 'test-gaussian-s1', 'gaussian', 1, 0.85),
    ev('b', 'test-gaussian-s2', 'gaussian', 2, 0.75),
    ev('a', 'test', 'none', 0, 0.9),
    ev('a', 'test-rician-snr20', 'rician', 2, 0.8),
    ev('a', 'test-motion-s3', 'motion', 3, 0.7),
  ];
  it('puts the real parameter on x: SNR for Rician SNR sets, the severity otherwise', () => {
    expect(noiseLevel({ testSet: 'test-rician-snr5', noiseKind: 'rician', severity: 4 })).toEqual({
      panel: 'rician (SNR)',
      kind: 'rician',
      scale: 'snr',
      x: 5,
    });
    expect(noiseLevel({ testSet: 'test-rician-s2', noiseKind: 'rician', severity: 2 })).toEqual({ panel: 'rician', kind: 'rician', scale: 'severity', x: 2 });
    const rows = robustnessRows(snrEvals, ['b', 'a']);
    expect(rows.filter((r) => r.trial === 'b' && r.panel === 'rician (SNR)').map((r) => [r.x, r.accuracy, r.levels])).toEqual([
      [5, 0.7, 2],
      [20, 0.9, 2],
    ]);
    // measured at one level only: a point (levels 1), never a line from the clean accuracy
    expect(rows.filter((r) => r.panel === 'motion').map((r) => [r.trial, r.x, r.levels])).toEqual([
      ['b', 3, 1],
      ['a', 3, 1],
    ]);
    expect(rows.find((r) => r.trial === 'a' && r.panel === 'rician (SNR)')?.levels).toBe(1);
    expect(rows.every((r) => r.x > 0)).toBe(true);
  });
  it('one panel per noise kind with the best trials overlaid; the line layer only takes trials with ≥ 2 levels; compiles', () => {
    const spec = robustnessChart(snrEvals, ['b', 'a']) as unknown as {
      concat: { title: { text: string }; layer: { name: string; transform: { filter: string }[] }[] }[];
      datasets: { clean: unknown[] };
    };
    expect(spec.concat.map((c) => c.title.text)).toEqual(['gaussian', 'motion', 'rician, by target SNR']);
    const line = spec.concat[0].layer.find((l) => l.name.startsWith('rob_line_'));
    expect(line?.transform.map((t) => t.filter)).toContain('datum.levels >= 2');
    expect(spec.datasets.clean).toEqual(expect.arrayContaining([{ trial: 'b', rank: 1, panel: 'motion', accuracy: 0.95 }]));
    compiles(spec as unknown as TopLevelSpec);
  });
});

describe('learning curves chart', () => {
  it('has a row per recorded metric value, skipping missing ones', () => {
    const rows = curveRows(epochs);
    expect(rows.filter((r) => r.trial === 'a')).toHaveLength(3 * 4);
    expect(rows.filter((r) => r.trial === 'b')).toHaveLength(3 * 5);
  });
  it('draws every trial behind the selected one, selects best first, and compiles', () => {
    const spec = learningCurvesChart(epochs, trials, ['b', 'a', 'c']);
    const bind = (spec as { params: { value: string; bind: { options: string[]; labels: string[] } }[] }).params[0];
    expect(bind.value).toBe('b');
    expect(bind.bind.options).toEqual(['b', 'a']);
    expect(bind.bind.labels[0]).toBe('b (best)');
    const panels = (spec as unknown as { hconcat: { layer: { name: string; encoding: { color?: { scale?: { domain: string[] } } } }[] }[] }).hconcat;
    expect(panels).toHaveLength(2);
    expect(panels[0].layer.map((l) => l.name)).toEqual(['lc_all_loss', 'lc_sel_loss', 'lc_best_loss']);
    expect(panels[1].layer[1].encoding.color?.scale?.domain).toEqual(['train', 'val', 'val noisy']);
    compiles(spec);
  });
  it('lists only the series that have values (no "val noisy" legend entry when none was recorded)', () => {
    const noNoisy = epochs.map((e) => ({ ...e, valNoisyAccuracy: null }));
    const spec = learningCurvesChart(noNoisy, trials, ['b', 'a']);
    const panels = (spec as unknown as { hconcat: { layer: { encoding: { color?: { scale?: { domain: string[] } } } }[] }[] }).hconcat;
    expect(panels[1].layer[1].encoding.color?.scale?.domain).toEqual(['train', 'val']);
  });
});

describe('hyper-parameter charts', () => {
  it('plots clean and mean noisy test accuracy against each parameter (log learning-rate axis)', () => {
    expect(paramRows(trials, evals).map((r) => [r.trial, r.cleanAcc, r.meanNoisyAcc])).toEqual([
      ['a', 0.9, 0.7],
      ['b', 0.95, 0.7],
    ]);
    const spec = hyperparamChart(trials, evals) as unknown as {
      vconcat: { hconcat: { encoding: { x: { field: string; scale?: { type: string } }; y: { field: string } } }[] }[];
    };
    expect(spec.vconcat.map((r) => r.hconcat[0].encoding.y.field)).toEqual(['cleanAcc', 'meanNoisyAcc']);
    expect(spec.vconcat[0].hconcat[0].encoding.x).toMatchObject({ field: 'learningRate', scale: { type: 'log' } });
    expect(spec.vconcat[1].hconcat).toHaveLength(3);
    compiles(spec as unknown as TopLevelSpec);
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
    const spec = confusionChart(cells, [
      { set: 'test', title: 'clean' },
      { set: 'test-rician-s1', title: 'worst' },
    ]);
    expect(values(spec)).toHaveLength(4);
    compiles(spec);
  });
});

describe('buildCharts', () => {
  const sweep = {
    sweepId: 's',
    name: 's',
    experimentPath: null,
    experimentYaml: null,
    strategy: 'grid',
    objective: 'val_accuracy',
    direction: 'maximize' as const,
    seed: 1,
    status: 'finished',
    gitCommit: null,
    backend: null,
    createdAt: null,
    finishedAt: null,
    nTrials: 3,
    dataSummary: null,
    noiseSettings: null,
    stages: {},
  };
  it('draws every chart when there is data; best trial confusion uses its worst noisy set', () => {
    const data: SweepData = {
      sweep,
      trials,
      epochs,
      evaluations: evals,
      ranked: rankTrials(trials, 'maximize'),
      bestConfusion: [
        { testSet: 'test', trueLabel: 'x', predLabel: 'x', count: 3 },
        { testSet: 'test-rician-s1', trueLabel: 'x', predLabel: 'x', count: 1 },
        { testSet: 'test-gaussian-s1', trueLabel: 'x', predLabel: 'x', count: 2 },
      ],
    };
    const charts = buildCharts(data, { bestTrials: 2 });
    expect(charts.map((c) => c.id)).toEqual([
      'chart-clean-vs-noisy',
      'chart-robustness',
      'chart-heatmap',
      'chart-learning-curves',
      'chart-hyperparams',
      'chart-parallel',
      'chart-confusion',
    ]);
    expect(charts.every((c) => c.spec !== null)).toBe(true);
    const conf = charts.find((c) => c.id === 'chart-confusion')?.spec;
    expect((conf as { facet: { column: { sort: string[] } } }).facet.column.sort).toEqual([
      'clean: test (acc 0.950)',
      'worst noisy: test-rician-s1 (acc 0.500)',
    ]);
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
