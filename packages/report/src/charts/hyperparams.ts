/**
 * Hyper-parameter effects: learning rate (log axis), dropout and batch size against the clean test
 * accuracy (top row) and the mean accuracy over the noisy test sets (bottom row), one point per trial
 * with test evaluations, coloured by status. Robustness is the point of the project, so the noisy row
 * is as prominent as the clean one.
 */
import type { TopLevelSpec } from 'vega-lite';
import { byTrial, cleanOf, meanNoisyOf, testEvaluations } from '../rows.ts';
import type { EvaluationInfo, TrialInfo } from '../types.ts';
import { round, VL_SCHEMA } from './common.ts';

export interface ParamRow {
  trial: string;
  status: string;
  learningRate: number | null;
  dropout: number | null;
  batchSize: number | null;
  objective: number | null;
  cleanAcc: number | null;
  meanNoisyAcc: number | null;
}

/** One row per trial with a clean or noisy test evaluation. */
export function paramRows(trials: readonly TrialInfo[], evaluations: readonly EvaluationInfo[]): ParamRow[] {
  const groups = byTrial(testEvaluations(evaluations));
  return trials
    .map((t) => {
      const evals = groups.get(t.trialId) ?? [];
      return {
        trial: t.trialId,
        status: t.status,
        learningRate: round(t.learningRate),
        dropout: round(t.dropout),
        batchSize: t.batchSize,
        objective: round(t.objective),
        cleanAcc: round(cleanOf(evals)?.accuracy),
        meanNoisyAcc: round(meanNoisyOf(evals)),
      };
    })
    .filter((r) => r.cleanAcc !== null || r.meanNoisyAcc !== null);
}

const METRICS = [
  { field: 'cleanAcc', title: 'clean test accuracy' },
  { field: 'meanNoisyAcc', title: 'mean noisy test accuracy' },
] as const;

export function hyperparamChart(trials: readonly TrialInfo[], evaluations: readonly EvaluationInfo[]): TopLevelSpec {
  const rows = paramRows(trials, evaluations);
  const color = { field: 'status', type: 'nominal' as const, title: 'status' };
  const tooltip = [
    { field: 'trial', type: 'nominal' as const },
    { field: 'status', type: 'nominal' as const },
    { field: 'learningRate', type: 'quantitative' as const, format: '.2e', title: 'learning rate' },
    { field: 'dropout', type: 'quantitative' as const, format: '.3f' },
    { field: 'batchSize', type: 'ordinal' as const, title: 'batch size' },
    { field: 'cleanAcc', type: 'quantitative' as const, format: '.3f', title: 'clean acc.' },
    { field: 'meanNoisyAcc', type: 'quantitative' as const, format: '.3f', title: 'mean noisy acc.' },
  ];
  const mark = { type: 'point' as const, filled: true, size: 60, opacity: 0.8 };
  const row = (m: (typeof METRICS)[number]) => {
    const y = { field: m.field, type: 'quantitative' as const, scale: { zero: false, padding: 8 }, title: m.title };
    const valid = `isValid(datum.${m.field})`;
    return {
      resolve: { scale: { y: 'shared' as const } },
      hconcat: [
        {
          name: `hp_lr_${m.field}`,
          width: 230,
          height: 170,
          transform: [{ filter: `${valid} && isValid(datum.learningRate) && datum.learningRate > 0` }],
          mark,
          encoding: {
            x: {
              field: 'learningRate',
              type: 'quantitative' as const,
              scale: { type: 'log' as const, padding: 10, nice: false },
              title: 'learning rate (log)',
              axis: { format: '.0e', tickCount: 4 },
            },
            y,
            color,
            tooltip,
          },
        },
        {
          name: `hp_dropout_${m.field}`,
          width: 230,
          height: 170,
          transform: [{ filter: `${valid} && isValid(datum.dropout)` }],
          mark,
          encoding: { x: { field: 'dropout', type: 'quantitative' as const, title: 'dropout', scale: { padding: 10 } }, y, color, tooltip },
        },
        {
          name: `hp_batch_${m.field}`,
          width: 150,
          height: 170,
          transform: [{ filter: `${valid} && isValid(datum.batchSize)` }],
          mark,
          encoding: {
            x: { field: 'batchSize', type: 'ordinal' as const, title: 'batch size', sort: 'ascending' as const },
            xOffset: { field: 'trial', type: 'nominal' as const },
            y,
            color,
            tooltip,
          },
        },
      ],
    };
  };
  return {
    $schema: VL_SCHEMA,
    description: 'Learning rate, dropout and batch size against clean and mean noisy test accuracy',
    data: { values: rows },
    vconcat: METRICS.map(row),
  } as TopLevelSpec;
}
