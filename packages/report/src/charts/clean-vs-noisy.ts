/**
 * Clean vs noisy test accuracy per trial, paired: one row per trial, the clean accuracy and the
 * accuracy on one noisy test set, or the mean over all noisy sets (chosen with a select; default the
 * mean, then the sets hardest first), each set with its 95 % bootstrap interval, joined by a line.
 * The mean has no interval: the noisy sets hold the same images, so their errors are correlated and
 * the per-set intervals do not combine into one.
 */
import type { TopLevelSpec } from 'vega-lite';
import { byTrial, cleanOf, isClean, testEvaluations } from '../rows.ts';
import type { EvaluationInfo } from '../types.ts';
import { CONDITION_COLORS, paddedDomain, round, roundFinite, VL_SCHEMA } from './common.ts';

export interface PairRow {
  trial: string;
  rank: number;
  set: string;
  kind: string;
  severity: number;
  clean: number;
  cleanLow: number;
  cleanHigh: number;
  noisy: number | null;
  noisyLow: number | null;
  noisyHigh: number | null;
}

const NO_NOISY_SET = '(no noisy set)';
export const MEAN_NOISY = 'mean of noisy sets';

/** One row per (trial, noisy test set); trials without a clean test evaluation are left out. */
export function pairRows(evaluations: readonly EvaluationInfo[], order: readonly string[]): PairRow[] {
  const groups = byTrial(testEvaluations(evaluations));
  const rows: PairRow[] = [];
  order.forEach((trial, rank) => {
    const evals = groups.get(trial) ?? [];
    const c = cleanOf(evals);
    if (!c || !Number.isFinite(c.accuracy)) return;
    const base = { trial, rank: rank + 1, clean: roundFinite(c.accuracy), cleanLow: roundFinite(c.ciLow), cleanHigh: roundFinite(c.ciHigh) };
    const noisy = evals.filter((e) => !isClean(e) && Number.isFinite(e.accuracy));
    if (noisy.length === 0) rows.push({ ...base, set: NO_NOISY_SET, kind: 'none', severity: 0, noisy: null, noisyLow: null, noisyHigh: null });
    if (noisy.length > 0) {
      const mean = noisy.reduce((a, e) => a + e.accuracy, 0) / noisy.length;
      rows.push({ ...base, set: MEAN_NOISY, kind: 'mean', severity: 0, noisy: round(mean), noisyLow: null, noisyHigh: null });
    }
    for (const e of noisy) {
      rows.push({
        ...base,
        set: e.testSet,
        kind: e.noiseKind,
        severity: e.severity,
        noisy: round(e.accuracy),
        noisyLow: round(e.ciLow),
        noisyHigh: round(e.ciHigh),
      });
    }
  });
  return rows;
}

/** Noisy set ids, hardest (lowest mean accuracy over trials) first. */
export function setsByDifficulty(rows: readonly PairRow[]): string[] {
  const acc = new Map<string, { sum: number; n: number }>();
  for (const r of rows) {
    if (r.noisy === null || r.set === MEAN_NOISY) continue;
    const a = acc.get(r.set) ?? { sum: 0, n: 0 };
    a.sum += r.noisy;
    a.n += 1;
    acc.set(r.set, a);
  }
  return [...acc.entries()].sort((x, y) => x[1].sum / x[1].n - y[1].sum / y[1].n || x[0].localeCompare(y[0])).map(([s]) => s);
}

/**
 * @param order trial ids in display order (best first); trials not listed are not shown.
 */
export function cleanVsNoisyChart(evaluations: readonly EvaluationInfo[], order: readonly string[]): TopLevelSpec {
  const rows = pairRows(evaluations, order);
  const sets = setsByDifficulty(rows);
  const options = sets.length ? [MEAN_NOISY, ...sets] : [NO_NOISY_SET];
  const shown = order.filter((t) => rows.some((r) => r.trial === t));
  const y = { field: 'trial', type: 'nominal' as const, sort: shown, title: 'trial (best first)' };
  const domain = paddedDomain(rows.flatMap((r) => [r.cleanLow, r.cleanHigh, r.clean, r.noisy, r.noisyLow, r.noisyHigh]));
  const x = { type: 'quantitative' as const, scale: domain ? { domain } : { zero: false }, title: 'test accuracy (95 % interval)' };
  const tooltip = [
    { field: 'trial', type: 'nominal' as const },
    { field: 'set', type: 'nominal' as const, title: 'noisy set' },
    { field: 'clean', type: 'quantitative' as const, format: '.3f' },
    { field: 'cleanLow', type: 'quantitative' as const, format: '.3f', title: 'clean CI low' },
    { field: 'cleanHigh', type: 'quantitative' as const, format: '.3f', title: 'clean CI high' },
    { field: 'noisy', type: 'quantitative' as const, format: '.3f' },
    { field: 'noisyLow', type: 'quantitative' as const, format: '.3f', title: 'noisy CI low' },
    { field: 'noisyHigh', type: 'quantitative' as const, format: '.3f', title: 'noisy CI high' },
  ];
  const color = (c: 'clean' | 'noisy') => ({
    datum: c,
    type: 'nominal' as const,
    scale: CONDITION_COLORS,
    legend: { title: 'test set' },
  });
  return {
    $schema: VL_SCHEMA,
    description: 'Clean vs noisy test accuracy per trial, paired, with 95 % intervals',
    data: { values: rows },
    params: [
      {
        name: 'noisy_set',
        value: options[0],
        bind: { input: 'select', options, name: 'noisy test set ' },
      },
    ],
    transform: [{ filter: 'datum.set === noisy_set' }],
    width: 480,
    height: { step: 16 },
    encoding: { y },
    layer: [
      { name: 'cvn_join', mark: { type: 'rule', color: '#bbb' }, encoding: { x: { ...x, field: 'clean' }, x2: { field: 'noisy' } } },
      {
        name: 'cvn_clean_ci',
        mark: { type: 'rule', strokeWidth: 2, opacity: 0.5 },
        encoding: { x: { ...x, field: 'cleanLow' }, x2: { field: 'cleanHigh' }, color: color('clean') },
      },
      {
        name: 'cvn_clean',
        mark: { type: 'point', filled: true, size: 50 },
        encoding: { x: { ...x, field: 'clean' }, color: color('clean'), tooltip },
      },
      {
        name: 'cvn_noisy_ci',
        transform: [{ filter: 'isValid(datum.noisyLow)' }],
        mark: { type: 'rule', strokeWidth: 2, opacity: 0.5 },
        encoding: { x: { ...x, field: 'noisyLow' }, x2: { field: 'noisyHigh' }, color: color('noisy') },
      },
      {
        name: 'cvn_noisy',
        transform: [{ filter: 'isValid(datum.noisy)' }],
        mark: { type: 'point', filled: true, size: 50, shape: 'diamond' },
        encoding: { x: { ...x, field: 'noisy' }, color: color('noisy'), tooltip },
      },
    ],
  };
}
