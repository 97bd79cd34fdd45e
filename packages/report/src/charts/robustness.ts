/**
 * Robustness: test accuracy against the real noise parameter, one panel per noise kind (SNR on the
 * x axis for Rician sets given by target SNR, reversed so that noise grows to the right; the
 * documented severity 1–5 for the others), the best trials overlaid in colour with 95 % intervals,
 * each trial's clean accuracy as a dashed level. Levels are joined by a line only where a trial was
 * measured at two or more levels of that kind; a single level is a point, never a line from clean.
 */
import type { TopLevelSpec } from 'vega-lite';
import { byTrial, cleanOf, isClean, noiseLevel, testEvaluations } from '../rows.ts';
import type { EvaluationInfo } from '../types.ts';
import { paddedDomain, roundFinite, VL_SCHEMA } from './common.ts';

export interface RobustnessRow {
  trial: string;
  /** 1 = best. */
  rank: number;
  panel: string;
  kind: string;
  scale: 'snr' | 'severity';
  /** SNR or severity. */
  x: number;
  /** x nudged per trial so that overlaid intervals do not hide each other (×1.04ⁿ for SNR, ±0.08 for severity). */
  xPlot: number;
  set: string;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  /** How many levels this trial has in this panel (a line is drawn only when ≥ 2). */
  levels: number;
}

interface CleanLevelRow {
  trial: string;
  rank: number;
  panel: string;
  accuracy: number;
}

/** One row per noisy test evaluation of the given trials (best first). */
export function robustnessRows(evaluations: readonly EvaluationInfo[], trials: readonly string[]): RobustnessRow[] {
  const groups = byTrial(testEvaluations(evaluations));
  const rows: RobustnessRow[] = [];
  trials.forEach((trial, i) => {
    const noisy = (groups.get(trial) ?? []).filter((e) => !isClean(e) && Number.isFinite(e.accuracy));
    const mine = noisy.map((e) => ({ e, level: noiseLevel(e) }));
    for (const { e, level } of mine) {
      rows.push({
        trial,
        rank: i + 1,
        panel: level.panel,
        kind: level.kind,
        scale: level.scale,
        x: level.x,
        xPlot: roundFinite(level.scale === 'snr' ? level.x * 1.04 ** -(i - (trials.length - 1) / 2) : level.x + 0.08 * (i - (trials.length - 1) / 2), 5),
        set: e.testSet,
        accuracy: roundFinite(e.accuracy),
        ciLow: roundFinite(e.ciLow),
        ciHigh: roundFinite(e.ciHigh),
        levels: new Set(mine.filter((m) => m.level.panel === level.panel).map((m) => m.level.x)).size,
      });
    }
  });
  return rows.sort((a, b) => a.panel.localeCompare(b.panel) || a.rank - b.rank || a.x - b.x);
}

/** Each shown trial's clean accuracy, repeated per panel it appears in (the dashed reference level). */
function cleanLevelRows(evaluations: readonly EvaluationInfo[], rows: readonly RobustnessRow[]): CleanLevelRow[] {
  const groups = byTrial(testEvaluations(evaluations));
  const seen = new Set<string>();
  const out: CleanLevelRow[] = [];
  for (const r of rows) {
    const key = `${r.panel}\u0000${r.trial}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const c = cleanOf(groups.get(r.trial) ?? []);
    if (c && Number.isFinite(c.accuracy)) out.push({ trial: r.trial, rank: r.rank, panel: r.panel, accuracy: roundFinite(c.accuracy) });
  }
  return out;
}

/** Panels in display order: by kind name, SNR panels after severity ones of the same kind. */
function robustnessPanels(rows: readonly RobustnessRow[]): { panel: string; scale: 'snr' | 'severity'; kind: string }[] {
  const m = new Map<string, { panel: string; scale: 'snr' | 'severity'; kind: string }>();
  for (const r of rows) if (!m.has(r.panel)) m.set(r.panel, { panel: r.panel, scale: r.scale, kind: r.kind });
  return [...m.values()].sort((a, b) => a.kind.localeCompare(b.kind) || (a.scale === 'snr' ? 1 : 0) - (b.scale === 'snr' ? 1 : 0));
}

/** @param trials the trial ids to show, best first (overlaid, one colour each). */
export function robustnessChart(evaluations: readonly EvaluationInfo[], trials: readonly string[]): TopLevelSpec {
  const rows = robustnessRows(evaluations, trials);
  const clean = cleanLevelRows(evaluations, rows);
  const shown = trials.filter((t) => rows.some((r) => r.trial === t));
  const panels = robustnessPanels(rows);
  const color = {
    field: 'trial',
    type: 'nominal' as const,
    sort: shown,
    scale: { domain: shown },
    title: 'trial (best first)',
    legend: { orient: 'bottom' as const, direction: 'horizontal' as const },
  };
  const domain = paddedDomain([...rows.flatMap((r) => [r.ciLow, r.ciHigh, r.accuracy]), ...clean.map((c) => c.accuracy)]);
  const y = { type: 'quantitative' as const, title: 'test accuracy (95 % interval)', scale: domain ? { domain } : { zero: false } };
  const tooltip = [
    { field: 'set', type: 'nominal' as const, title: 'test set' },
    { field: 'trial', type: 'nominal' as const },
    { field: 'x', type: 'quantitative' as const, title: 'SNR / severity' },
    { field: 'accuracy', type: 'quantitative' as const, format: '.3f' },
    { field: 'ciLow', type: 'quantitative' as const, format: '.3f', title: 'CI low' },
    { field: 'ciHigh', type: 'quantitative' as const, format: '.3f', title: 'CI high' },
  ];
  const panelSpec = (p: { panel: string; scale: 'snr' | 'severity'; kind: string }) => {
    const levels = [...new Set(rows.filter((r) => r.panel === p.panel).map((r) => r.x))].sort((a, b) => a - b);
    const x = {
      field: 'xPlot',
      type: 'quantitative' as const,
      title: p.scale === 'snr' ? 'target SNR (lower = noisier)' : 'severity (documented scale 1–5)',
      scale:
        p.scale === 'snr'
          ? { type: 'log' as const, reverse: true, nice: false, padding: 14 }
          : { domain: [Math.min(0.5, ...levels), Math.max(5.5, ...levels)], nice: false },
      axis: { values: levels, format: '~g', grid: false },
    };
    const inPanel = { filter: `datum.panel === ${JSON.stringify(p.panel)}` };
    const key = p.panel.replace(/[^A-Za-z0-9]/g, '_');
    return {
      title: { text: p.scale === 'snr' ? `${p.kind}, by target SNR` : p.kind, anchor: 'start' as const, fontSize: 12 },
      width: 220,
      height: 180,
      layer: [
        {
          name: `rob_clean_${key}`,
          data: { name: 'clean' },
          transform: [inPanel],
          mark: { type: 'rule' as const, strokeDash: [4, 3], opacity: 0.6 },
          encoding: {
            y: { ...y, field: 'accuracy' },
            color,
            tooltip: [
              { field: 'trial', type: 'nominal' as const },
              { field: 'accuracy', type: 'quantitative' as const, format: '.3f', title: 'clean accuracy' },
            ],
          },
        },
        {
          name: `rob_ci_${key}`,
          transform: [inPanel],
          mark: { type: 'rule' as const, strokeWidth: 1.5, opacity: 0.55 },
          encoding: { x, y: { ...y, field: 'ciLow' }, y2: { field: 'ciHigh' }, color },
        },
        {
          name: `rob_line_${key}`,
          transform: [inPanel, { filter: 'datum.levels >= 2' }],
          mark: { type: 'line' as const, strokeWidth: 1.5 },
          encoding: { x, y: { ...y, field: 'accuracy' }, color, detail: { field: 'trial', type: 'nominal' as const } },
        },
        {
          name: `rob_points_${key}`,
          transform: [inPanel],
          mark: { type: 'point' as const, filled: true, size: 45 },
          encoding: { x, y: { ...y, field: 'accuracy' }, color, tooltip },
        },
      ],
    };
  };
  return {
    $schema: VL_SCHEMA,
    description: 'Test accuracy against the noise parameter, one panel per noise kind, best trials overlaid',
    datasets: { clean },
    data: { values: rows },
    columns: 3,
    concat: panels.map(panelSpec),
    resolve: { scale: { y: 'shared', x: 'independent', color: 'shared' } },
  } as TopLevelSpec;
}
