/**
 * Corruption heat map: per trial (chosen with a select, best first), noise kind × severity of test
 * accuracy, one cell per set of the corruption grid (robustness.ts: the mri-c set where there is one,
 * else an ad-hoc set at a named severity), with a `clean` column for reference. Kinds are ordered
 * hardest first by their mean accuracy over every trial shown, so rows stay put when the select changes.
 */
import type { TopLevelSpec } from 'vega-lite';
import { corruptionGrid } from '../robustness.ts';
import { byTrial, cleanOf, testEvaluations } from '../rows.ts';
import type { EvaluationInfo } from '../types.ts';
import { paddedDomain, roundFinite, VL_SCHEMA } from './common.ts';

export interface HeatRow {
  trial: string;
  kind: string;
  /** 'clean' or the severity as text ('1'…'5'). */
  level: string;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  testSet: string;
}

export const CLEAN_LEVEL = 'clean';

/**
 * Pure: the heat-map rows of every trial in `order` that has grid cells (test sets only): a row per
 * cell and a `clean` row per kind (the trial's clean test accuracy) when it has one.
 */
export function heatmapRows(evaluations: readonly EvaluationInfo[], order: readonly string[]): HeatRow[] {
  const groups = byTrial(testEvaluations(evaluations));
  const rows: HeatRow[] = [];
  for (const trial of order) {
    const evals = groups.get(trial) ?? [];
    const grid = corruptionGrid(evals);
    if (grid.length === 0) continue;
    const clean = cleanOf(evals);
    const kinds = [...new Set(grid.map((c) => c.kind))];
    if (clean && Number.isFinite(clean.accuracy)) {
      for (const kind of kinds)
        rows.push({
          trial,
          kind,
          level: CLEAN_LEVEL,
          accuracy: roundFinite(clean.accuracy),
          ciLow: roundFinite(clean.ciLow),
          ciHigh: roundFinite(clean.ciHigh),
          testSet: clean.testSet,
        });
    }
    for (const c of grid)
      rows.push({
        trial,
        kind: c.kind,
        level: String(c.severity),
        accuracy: roundFinite(c.accuracy),
        ciLow: roundFinite(c.ciLow),
        ciHigh: roundFinite(c.ciHigh),
        testSet: c.testSet,
      });
  }
  return rows;
}

/** Pure: kinds hardest first (lowest mean accuracy over the non-clean rows), ties by name. */
export function heatmapKindOrder(rows: readonly HeatRow[]): string[] {
  const sums = new Map<string, { sum: number; n: number }>();
  for (const r of rows) {
    if (r.level === CLEAN_LEVEL) continue;
    const s = sums.get(r.kind) ?? { sum: 0, n: 0 };
    sums.set(r.kind, { sum: s.sum + r.accuracy, n: s.n + 1 });
  }
  return [...sums.entries()].sort(([ka, a], [kb, b]) => a.sum / a.n - b.sum / b.n || ka.localeCompare(kb)).map(([k]) => k);
}

/** @param order trial ids for the select, best first; trials without grid cells are left out. */
export function heatmapChart(evaluations: readonly EvaluationInfo[], order: readonly string[]): TopLevelSpec {
  const rows = heatmapRows(evaluations, order);
  const options = order.filter((t) => rows.some((r) => r.trial === t));
  const labels = options.map((t, i) => (i === 0 && t === order[0] ? `${t} (best)` : t));
  const levels = [CLEAN_LEVEL, ...[...new Set(rows.filter((r) => r.level !== CLEAN_LEVEL).map((r) => Number(r.level)))].sort((a, b) => a - b).map(String)];
  const kinds = heatmapKindOrder(rows);
  const domain = paddedDomain(
    rows.map((r) => r.accuracy),
    0,
  ) ?? [0, 1];
  return {
    $schema: VL_SCHEMA,
    description: 'Test accuracy per noise kind and severity of the selected trial',
    data: { values: rows },
    params: [{ name: 'heat_trial', value: options[0] ?? '', bind: { input: 'select', options, labels, name: 'trial ' } }],
    transform: [{ filter: 'datum.trial === heat_trial' }],
    width: { step: 46 },
    height: { step: 22 },
    encoding: {
      x: { field: 'level', type: 'ordinal', sort: levels, scale: { domain: levels }, title: 'severity', axis: { labelAngle: 0, orient: 'top' } },
      y: { field: 'kind', type: 'nominal', sort: kinds, scale: { domain: kinds }, title: 'noise kind (hardest first)' },
    },
    layer: [
      {
        name: 'heat_cells',
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          color: { field: 'accuracy', type: 'quantitative', scale: { scheme: 'redyellowgreen', domain }, title: 'test accuracy' },
          tooltip: [
            { field: 'trial', type: 'nominal' },
            { field: 'kind', type: 'nominal', title: 'noise kind' },
            { field: 'level', type: 'nominal', title: 'severity' },
            { field: 'testSet', type: 'nominal', title: 'test set' },
            { field: 'accuracy', type: 'quantitative', format: '.3f' },
            { field: 'ciLow', type: 'quantitative', format: '.3f', title: 'CI low' },
            { field: 'ciHigh', type: 'quantitative', format: '.3f', title: 'CI high' },
          ],
        },
      },
      {
        name: 'heat_text',
        mark: { type: 'text', fontSize: 10 },
        encoding: { text: { field: 'accuracy', type: 'quantitative', format: '.2f' }, color: { value: '#111' } },
      },
    ],
  } as TopLevelSpec;
}
