/**
 * Parallel coordinates of all trials: log10 learning rate, dropout, batch size, objective, clean
 * test accuracy and worst noisy test accuracy, each axis scaled to its own min..max (the min and max
 * are written at the axis ends). Lines are coloured by the objective.
 */
import type { TopLevelSpec } from 'vega-lite';
import { byTrial, cleanOf, testEvaluations, worstNoisyOf } from '../rows.ts';
import type { Direction, EvaluationInfo, TrialInfo } from '../types.ts';
import { objectiveTitle, round, VL_SCHEMA } from './common.ts';

const PARALLEL_AXES = [
  { key: 'lr_log10', label: 'log10 learning rate' },
  { key: 'dropout', label: 'dropout' },
  { key: 'batch_size', label: 'batch size' },
  { key: 'objective', label: 'objective' },
  { key: 'clean_acc', label: 'clean test acc.' },
  { key: 'worst_noisy_acc', label: 'worst noisy test acc.' },
] as const;

export type ParallelRow = { trial: string; status: string } & Record<(typeof PARALLEL_AXES)[number]['key'], number | null>;

export function parallelRows(trials: readonly TrialInfo[], evaluations: readonly EvaluationInfo[]): ParallelRow[] {
  const groups = byTrial(testEvaluations(evaluations));
  return trials.map((t) => {
    const evals = groups.get(t.trialId) ?? [];
    return {
      trial: t.trialId,
      status: t.status,
      lr_log10: t.learningRate !== null && t.learningRate > 0 ? round(Math.log10(t.learningRate)) : null,
      dropout: round(t.dropout),
      batch_size: t.batchSize,
      objective: round(t.objective),
      clean_acc: round(cleanOf(evals)?.accuracy),
      worst_noisy_acc: round(worstNoisyOf(evals)?.accuracy),
    };
  });
}

export function parallelChart(
  trials: readonly TrialInfo[],
  evaluations: readonly EvaluationInfo[],
  objective: string | null,
  direction: Direction,
): TopLevelSpec {
  const rows = parallelRows(trials, evaluations);
  const axes = PARALLEL_AXES.filter((a) => rows.some((r) => r[a.key] !== null));
  const keys = axes.map((a) => a.key);
  const labelExpr = `{${axes.map((a) => `'${a.key}': '${a.label}'`).join(', ')}}[datum.value]`;
  const x = {
    field: 'key',
    type: 'nominal' as const,
    sort: keys,
    title: null,
    axis: { labelExpr, labelAngle: 0, domain: false, ticks: false, labelPadding: 20, labelFontSize: 11 },
  };
  return {
    $schema: VL_SCHEMA,
    description: 'Parallel coordinates of all trials',
    data: { values: rows },
    width: 760,
    height: 260,
    transform: [
      { fold: keys, as: ['key', 'value'] },
      { filter: 'isValid(datum.value) && isFinite(datum.value)' },
      {
        joinaggregate: [
          { op: 'min', field: 'value', as: 'min' },
          { op: 'max', field: 'value', as: 'max' },
        ],
        groupby: ['key'],
      },
      { calculate: 'datum.max === datum.min ? 0.5 : (datum.value - datum.min) / (datum.max - datum.min)', as: 'norm' },
    ],
    layer: [
      { mark: { type: 'rule', color: '#ccc' }, encoding: { x, detail: { aggregate: 'count' } } },
      {
        name: 'par_lines',
        mark: { type: 'line', opacity: 0.55, strokeWidth: 1.5 },
        encoding: {
          x,
          y: { field: 'norm', type: 'quantitative', axis: null },
          detail: { field: 'trial', type: 'nominal' },
          color: {
            field: 'objective',
            type: 'quantitative',
            title: 'objective',
            legend: { description: objectiveTitle(objective, direction) },
            scale: { scheme: 'viridis', reverse: direction === 'minimize' },
          },
          tooltip: [
            { field: 'trial', type: 'nominal' },
            { field: 'status', type: 'nominal' },
            { field: 'key', type: 'nominal' },
            { field: 'value', type: 'quantitative', format: '.4g' },
          ],
        },
      },
      {
        transform: [{ aggregate: [{ op: 'max', field: 'max', as: 'max' }], groupby: ['key'] }],
        mark: { type: 'text', dy: -8, style: 'label' },
        encoding: { x, y: { value: 0 }, text: { field: 'max', type: 'quantitative', format: '.3~g' } },
      },
      {
        transform: [{ aggregate: [{ op: 'min', field: 'min', as: 'min' }], groupby: ['key'] }],
        mark: { type: 'text', dy: 10, style: 'label' },
        encoding: { x, y: { value: 260 }, text: { field: 'min', type: 'quantitative', format: '.3~g' } },
      },
    ],
  };
}
