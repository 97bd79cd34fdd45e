/** Shared bits of the chart builders. */
export const VL_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Rounds for embedding (keeps the HTML small; 6 significant digits are more than a chart shows). */
export function round(v: number | null | undefined, digits = 6): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  if (v === 0) return 0;
  return Number(v.toPrecision(digits));
}

/** The axis title of the objective, with which way is better. */
export function objectiveTitle(objective: string | null, direction: 'maximize' | 'minimize'): string {
  return `${objective ?? 'objective'} (${direction === 'maximize' ? 'higher' : 'lower'} is better)`;
}

export const CONDITION_COLORS = { domain: ['clean', 'noisy'], range: ['#1f77b4', '#d62728'] };
