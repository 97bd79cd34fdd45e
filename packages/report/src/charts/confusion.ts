/**
 * Confusion matrices of the best trial: the clean test set and its worst noisy test set side by
 * side; colour is the share of the true class (row-normalised), text the count.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ConfusionCell } from '../types.ts';
import { roundFinite, VL_SCHEMA } from './common.ts';

export interface ConfusionRow {
  panel: string;
  set: string;
  trueLabel: string;
  predLabel: string;
  count: number;
  share: number;
}

export interface ConfusionPanel {
  /** The test set id in the confusion table. */
  set: string;
  /** The panel title, e.g. "clean: test". */
  title: string;
}

export function confusionRows(cells: readonly ConfusionCell[], panels: readonly ConfusionPanel[]): ConfusionRow[] {
  const rows: ConfusionRow[] = [];
  for (const p of panels) {
    const mine = cells.filter((c) => c.testSet === p.set);
    const totals = new Map<string, number>();
    for (const c of mine) totals.set(c.trueLabel, (totals.get(c.trueLabel) ?? 0) + c.count);
    for (const c of mine) {
      const total = totals.get(c.trueLabel) ?? 0;
      rows.push({
        panel: p.title,
        set: p.set,
        trueLabel: c.trueLabel,
        predLabel: c.predLabel,
        count: c.count,
        share: total > 0 ? roundFinite(c.count / total, 4) : 0,
      });
    }
  }
  return rows;
}

export function confusionChart(cells: readonly ConfusionCell[], panels: readonly ConfusionPanel[], classes?: readonly string[]): TopLevelSpec {
  const rows = confusionRows(cells, panels);
  const labels = classes?.length ? [...classes] : [...new Set(rows.flatMap((r) => [r.trueLabel, r.predLabel]))].sort();
  const size = Math.max(160, Math.min(320, labels.length * 44));
  return {
    $schema: VL_SCHEMA,
    description: 'Confusion matrices of the best trial on the clean and the worst noisy test set',
    data: { values: rows },
    facet: { column: { field: 'panel', type: 'nominal', sort: panels.map((p) => p.title), title: null } },
    spec: {
      width: size,
      height: size,
      encoding: {
        x: { field: 'predLabel', type: 'nominal', sort: labels, title: 'predicted', axis: { labelAngle: -30 } },
        y: { field: 'trueLabel', type: 'nominal', sort: labels, title: 'true' },
      },
      layer: [
        {
          name: 'conf_cells',
          mark: { type: 'rect' },
          encoding: {
            color: { field: 'share', type: 'quantitative', scale: { scheme: 'blues', domain: [0, 1] }, title: 'share of true class' },
            tooltip: [
              { field: 'set', type: 'nominal', title: 'test set' },
              { field: 'trueLabel', type: 'nominal', title: 'true' },
              { field: 'predLabel', type: 'nominal', title: 'predicted' },
              { field: 'count', type: 'quantitative' },
              { field: 'share', type: 'quantitative', format: '.1%' },
            ],
          },
        },
        {
          mark: { type: 'text', fontSize: 11 },
          encoding: {
            text: { field: 'count', type: 'quantitative' },
            color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' },
          },
        },
      ],
    },
  };
}
