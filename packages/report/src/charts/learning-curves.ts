/**
 * Learning curves: train/val loss and accuracy per epoch for one trial, chosen with a select (default
 * the best trial); a ring marks the trial's best epoch.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { EpochInfo, TrialInfo } from '../types.ts';
import { round, VL_SCHEMA } from './common.ts';

export interface CurveRow {
  trial: string;
  epoch: number;
  metric: 'loss' | 'accuracy';
  series: 'train' | 'val' | 'val noisy';
  value: number;
  /** True at the trial's best epoch (marked with a ring). */
  best: boolean;
}

/** @param bestEpochs best epoch per trial id (trials without one get no ring). */
export function curveRows(epochs: readonly EpochInfo[], bestEpochs: ReadonlyMap<string, number> = new Map()): CurveRow[] {
  const rows: CurveRow[] = [];
  const push = (e: EpochInfo, metric: CurveRow['metric'], series: CurveRow['series'], v: number | null) => {
    const value = round(v);
    if (value !== null) rows.push({ trial: e.trialId, epoch: e.epoch, metric, series, value, best: bestEpochs.get(e.trialId) === e.epoch });
  };
  for (const e of epochs) {
    push(e, 'loss', 'train', e.trainLoss);
    push(e, 'loss', 'val', e.valLoss);
    push(e, 'accuracy', 'train', e.trainAccuracy);
    push(e, 'accuracy', 'val', e.valAccuracy);
    push(e, 'accuracy', 'val noisy', e.valNoisyAccuracy);
  }
  return rows;
}

/**
 * @param order trial ids for the selector, best first; the first is selected initially. Trials
 *   without epochs are left out of the selector.
 */
export function learningCurvesChart(epochs: readonly EpochInfo[], trials: readonly TrialInfo[], order: readonly string[]): TopLevelSpec {
  const bestEpochs = new Map(trials.filter((t) => t.bestEpoch !== null).map((t) => [t.trialId, t.bestEpoch as number]));
  const rows = curveRows(epochs, bestEpochs);
  const withEpochs = new Set(rows.map((r) => r.trial));
  const options = order.filter((t) => withEpochs.has(t));
  const labels = options.map((t, i) => {
    const tr = trials.find((x) => x.trialId === t);
    return `${t}${i === 0 ? ' (best)' : ''}${tr && tr.status !== 'finished' ? ` [${tr.status}]` : ''}`;
  });
  const panel = (metric: CurveRow['metric']) => ({
    width: 340,
    height: 220,
    layer: [
      {
        transform: [{ filter: `datum.trial === trial_sel && datum.metric === '${metric}'` }],
        mark: { type: 'line' as const, point: { size: 16 } },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { format: 'd', tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative' as const, title: metric, scale: { zero: false } },
          color: { field: 'series', type: 'nominal' as const, scale: { domain: ['train', 'val', 'val noisy'] }, title: 'series' },
          tooltip: [
            { field: 'epoch', type: 'quantitative' as const },
            { field: 'series', type: 'nominal' as const },
            { field: 'value', type: 'quantitative' as const, format: '.4f', title: metric },
          ],
        },
      },
      {
        // a ring on the best epoch: same rows as the line (never an empty layer), shown where best
        transform: [{ filter: `datum.trial === trial_sel && datum.metric === '${metric}'` }],
        mark: { type: 'point' as const, size: 110, strokeWidth: 2, filled: false },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' as const },
          y: { field: 'value', type: 'quantitative' as const },
          color: { value: '#222' },
          opacity: { condition: { test: 'datum.best', value: 1 }, value: 0 },
        },
      },
    ],
  });
  return {
    $schema: VL_SCHEMA,
    description: 'Train and validation loss and accuracy per epoch for the selected trial',
    data: { values: rows },
    params: [
      {
        name: 'trial_sel',
        value: options[0] ?? '',
        bind: { input: 'select', options, labels, name: 'trial ' },
      },
    ],
    hconcat: [panel('loss'), panel('accuracy')],
  };
}
