/**
 * Hyper-parameter effects: learning rate (log axis), dropout and batch size against the objective,
 * one point per trial with an objective, coloured by status.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Direction, TrialInfo } from '../types.ts';
import { objectiveTitle, round, VL_SCHEMA } from './common.ts';

export interface ParamRow {
  trial: string;
  status: string;
  learningRate: number | null;
  dropout: number | null;
  batchSize: number | null;
  objective: number;
}

export function paramRows(trials: readonly TrialInfo[]): ParamRow[] {
  return trials
    .filter((t) => t.objective !== null && Number.isFinite(t.objective))
    .map((t) => ({
      trial: t.trialId,
      status: t.status,
      learningRate: round(t.learningRate),
      dropout: round(t.dropout),
      batchSize: t.batchSize,
      objective: round(t.objective)!,
    }));
}

export function hyperparamChart(trials: readonly TrialInfo[], objective: string | null, direction: Direction): TopLevelSpec {
  const rows = paramRows(trials);
  const y = { field: 'objective', type: 'quantitative' as const, scale: { zero: false, padding: 8 }, title: objectiveTitle(objective, direction) };
  const color = { field: 'status', type: 'nominal' as const, title: 'status' };
  const tooltip = [
    { field: 'trial', type: 'nominal' as const },
    { field: 'status', type: 'nominal' as const },
    { field: 'learningRate', type: 'quantitative' as const, format: '.2e', title: 'learning rate' },
    { field: 'dropout', type: 'quantitative' as const, format: '.3f' },
    { field: 'batchSize', type: 'ordinal' as const, title: 'batch size' },
    { field: 'objective', type: 'quantitative' as const, format: '.4f' },
  ];
  const mark = { type: 'point' as const, filled: true, size: 60, opacity: 0.8 };
  return {
    $schema: VL_SCHEMA,
    description: 'Learning rate, dropout and batch size against the objective',
    data: { values: rows },
    resolve: { scale: { y: 'shared' } },
    hconcat: [
      {
        width: 240,
        height: 200,
        transform: [{ filter: 'isValid(datum.learningRate) && datum.learningRate > 0' }],
        mark,
        encoding: { x: { field: 'learningRate', type: 'quantitative', scale: { type: 'log', padding: 10, nice: false }, title: 'learning rate (log)', axis: { format: '.0e', tickCount: 4 } }, y, color, tooltip },
      },
      {
        width: 240,
        height: 200,
        transform: [{ filter: 'isValid(datum.dropout)' }],
        mark,
        encoding: { x: { field: 'dropout', type: 'quantitative', title: 'dropout', scale: { padding: 10 } }, y, color, tooltip },
      },
      {
        width: 160,
        height: 200,
        transform: [{ filter: 'isValid(datum.batchSize)' }],
        mark: { ...mark, type: 'point' },
        encoding: {
          x: { field: 'batchSize', type: 'ordinal', title: 'batch size', sort: 'ascending' },
          xOffset: { field: 'trial', type: 'nominal' },
          y,
          color,
          tooltip,
        },
      },
    ],
  };
}
