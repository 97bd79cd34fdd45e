/**
 * Robustness curve: test accuracy against noise severity, one line per noise kind (each starting at
 * the clean accuracy, severity 0), one panel per trial, for the best trials; bands are the 95 %
 * intervals.
 */
import type { TopLevelSpec } from 'vega-lite';
import { byTrial, cleanOf, isClean, testEvaluations } from '../rows.ts';
import type { EvaluationInfo } from '../types.ts';
import { round, VL_SCHEMA } from './common.ts';

export interface RobustnessRow {
  trial: string;
  kind: string;
  severity: number;
  set: string;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
}

export function robustnessRows(evaluations: readonly EvaluationInfo[], trials: readonly string[]): RobustnessRow[] {
  const groups = byTrial(testEvaluations(evaluations));
  const rows: RobustnessRow[] = [];
  for (const trial of trials) {
    const evals = groups.get(trial) ?? [];
    const clean = cleanOf(evals);
    const noisy = evals.filter((e) => !isClean(e) && Number.isFinite(e.accuracy));
    const kinds = [...new Set(noisy.map((e) => e.noiseKind))].sort();
    for (const kind of kinds) {
      if (clean && Number.isFinite(clean.accuracy)) {
        rows.push({ trial, kind, severity: 0, set: clean.testSet, accuracy: round(clean.accuracy)!, ciLow: round(clean.ciLow)!, ciHigh: round(clean.ciHigh)! });
      }
      for (const e of noisy.filter((x) => x.noiseKind === kind).sort((a, b) => a.severity - b.severity)) {
        rows.push({ trial, kind, severity: e.severity, set: e.testSet, accuracy: round(e.accuracy)!, ciLow: round(e.ciLow)!, ciHigh: round(e.ciHigh)! });
      }
    }
  }
  return rows;
}

/** @param trials the trial ids to show, best first (one panel each). */
export function robustnessChart(evaluations: readonly EvaluationInfo[], trials: readonly string[]): TopLevelSpec {
  const rows = robustnessRows(evaluations, trials);
  const shown = trials.filter((t) => rows.some((r) => r.trial === t));
  const x = { field: 'severity', type: 'quantitative' as const, title: 'noise severity (0 = clean)' };
  const color = {
    field: 'kind',
    type: 'nominal' as const,
    title: 'noise kind',
    legend: { symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
  };
  return {
    $schema: VL_SCHEMA,
    description: 'Accuracy against noise severity, one line per noise kind, for the best trials',
    data: { values: rows },
    facet: { column: { field: 'trial', type: 'nominal', sort: shown, title: 'trial (best first)' } },
    spec: {
      width: 260,
      height: 220,
      encoding: { x, color },
      layer: [
        {
          mark: { type: 'area', opacity: 0.15 },
          encoding: { y: { field: 'ciLow', type: 'quantitative', title: 'test accuracy' }, y2: { field: 'ciHigh' } },
        },
        {
          mark: { type: 'line', point: true },
          encoding: {
            y: { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'test accuracy' },
            tooltip: [
              { field: 'set', type: 'nominal', title: 'test set' },
              { field: 'kind', type: 'nominal' },
              { field: 'severity', type: 'quantitative' },
              { field: 'accuracy', type: 'quantitative', format: '.3f' },
              { field: 'ciLow', type: 'quantitative', format: '.3f', title: 'CI low' },
              { field: 'ciHigh', type: 'quantitative', format: '.3f', title: 'CI high' },
            ],
          },
        },
      ],
    },
  };
}
