/**
 * Learning curves: train/val loss and accuracy per epoch for one trial, chosen with a select (default
 * the best trial); a ring marks the trial's best epoch.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { EpochInfo, TrialInfo } from '../types.ts';
import { paddedDomain, round, VL_SCHEMA } from './common.ts';

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

const SERIES_ORDER: CurveRow['series'][] = ['train', 'val', 'val noisy'];

/**
 * @param order trial ids for the selector, best first; the first is selected initially. Trials
 *   without epochs are left out of the selector. Every trial's validation curve is drawn in grey
 *   behind the selected trial's train / val / noisy-val curves (only series with values are listed).
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
  const present = new Set(rows.map((r) => r.series));
  const domain = SERIES_ORDER.filter((s) => present.has(s));
  const x = { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { format: 'd', tickMinStep: 1 } };
  // a fixed y range per panel (every trial's values), so the axis stays put when the highlight changes
  const yScale = (metric: CurveRow['metric']) => {
    const domain = paddedDomain(
      rows.filter((r) => r.metric === metric).map((r) => r.value),
      0.03,
      metric === 'accuracy' ? 1 : Number.POSITIVE_INFINITY,
    );
    return domain ? { domain } : { zero: false };
  };
  const panel = (metric: CurveRow['metric']) => ({
    width: 340,
    height: 220,
    layer: [
      {
        name: `lc_all_${metric}`,
        transform: [{ filter: `datum.metric === '${metric}' && datum.series === 'val'` }],
        mark: { type: 'line' as const, color: '#9aa3ad', opacity: 0.35, strokeWidth: 1 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative' as const, title: metric, scale: yScale(metric) },
          detail: { field: 'trial', type: 'nominal' as const },
          tooltip: [
            { field: 'trial', type: 'nominal' as const },
            { field: 'epoch', type: 'quantitative' as const },
            { field: 'value', type: 'quantitative' as const, format: '.4f', title: `val ${metric}` },
          ],
        },
      },
      {
        name: `lc_sel_${metric}`,
        transform: [{ filter: `datum.trial === trial_sel && datum.metric === '${metric}'` }],
        mark: { type: 'line' as const, point: { size: 16 }, strokeWidth: 2.2 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative' as const, title: metric, scale: yScale(metric) },
          color: { field: 'series', type: 'nominal' as const, scale: { domain }, title: 'selected trial' },
          tooltip: [
            { field: 'trial', type: 'nominal' as const },
            { field: 'epoch', type: 'quantitative' as const },
            { field: 'series', type: 'nominal' as const },
            { field: 'value', type: 'quantitative' as const, format: '.4f', title: metric },
          ],
        },
      },
      {
        // a ring on the best epoch: same rows as the line (never an empty layer), shown where best
        name: `lc_best_${metric}`,
        transform: [{ filter: `datum.trial === trial_sel && datum.metric === '${metric}'` }],
        mark: { type: 'point' as const, size: 110, strokeWidth: 2, filled: false },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative' as const },
          color: { value: '#222' },
          opacity: { condition: { test: 'datum.best', value: 1 }, value: 0 },
        },
      },
    ],
  });
  return {
    $schema: VL_SCHEMA,
    description: 'Validation curves of every trial (grey) and train/validation curves of the selected trial',
    data: { values: rows },
    params: [
      {
        name: 'trial_sel',
        value: options[0] ?? '',
        bind: { input: 'select', options, labels, name: 'highlighted trial ' },
      },
    ],
    hconcat: [panel('loss'), panel('accuracy')],
  };
}
