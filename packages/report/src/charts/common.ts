/** Shared bits of the chart builders. */
export const VL_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Rounds for embedding (keeps the HTML small; 6 significant digits are more than a chart shows). */
export function round(v: number | null | undefined, digits = 6): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  if (v === 0) return 0;
  return Number(v.toPrecision(digits));
}

/** `round` of a value the caller knows is finite (returned as it is otherwise). */
export function roundFinite(v: number, digits = 6): number {
  return round(v, digits) ?? v;
}

/** The axis title of the objective, with which way is better. */
export function objectiveTitle(objective: string | null, direction: 'maximize' | 'minimize'): string {
  return `${objective ?? 'objective'} (${direction === 'maximize' ? 'higher' : 'lower'} is better)`;
}

export const CONDITION_COLORS = { domain: ['clean', 'noisy'], range: ['#1f77b4', '#d62728'] };

/**
 * A fixed [min, max] scale domain over the given values with a little padding (null when there are
 * none). Charts set it so that a layer that is empty for the current selection does not make Vega
 * warn about an infinite extent, and so that the axis does not jump when a selection changes.
 */
export function paddedDomain(values: readonly (number | null | undefined)[], pad = 0.02, max = 1): [number, number] | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return null;
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const p = Math.max(pad * (hi - lo), 0.005);
  return [Math.max(0, round(lo - p, 4) ?? lo), Math.min(max, round(hi + p, 4) ?? hi)];
}
