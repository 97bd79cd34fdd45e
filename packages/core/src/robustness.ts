/**
 * Robustness metrics of a classifier under corruptions, pure (ImageNet-C, Hendrycks & Dietterich 2019):
 * - corruption error of kind k: CE_k = Σ_s E_{k,s} / Σ_s E^base_{k,s} (errors E = 1 − accuracy over the
 *   severities s, normalised by a fixed baseline model so that hard kinds do not dominate);
 * - mCE = mean of CE_k over kinds;
 * - relative CE_k = Σ_s (E_{k,s} − E_clean) / Σ_s (E^base_{k,s} − E^base_clean) and relative mCE: the
 *   degradation from the model's own clean error, normalised by the baseline's degradation; only
 *   for kinds that cost the baseline at least MIN_BASELINE_DEGRADATION (1 point) of accuracy on
 *   average: a kind the baseline shrugs off (brain-mri's bias_field: its accuracy even rises) gives
 *   a denominator near zero or below, and a ratio of −3 or +40 that would swamp the mean;
 * - McNemar's exact test and a paired bootstrap CI of an accuracy difference on identical test images;
 * - the noise level where accuracy first falls `points` below clean (linear between measured levels).
 */
import { createRng } from './rng.ts';

export interface CorruptionAccuracy {
  kind: string;
  severity: number;
  accuracy: number;
}

export interface CorruptionSummary {
  /** CE per kind (kinds the baseline also has, at the same severities). */
  ce: Record<string, number>;
  relativeCe: Record<string, number>;
  mce: number;
  relativeMce: number;
  /** Kinds left out because the baseline lacks them (or has zero error on them). */
  skipped: string[];
  /** Kinds with a CE but no relative CE: the baseline's mean degradation under them is < 1 point. */
  relativeSkipped: string[];
}

/** The least mean accuracy loss (over a kind's severities) of the baseline for a relative CE. */
const MIN_BASELINE_DEGRADATION = 0.01;

/** CE, mCE, relative CE and relative mCE of a model against a baseline (accuracies in [0, 1]). */
export function corruptionSummary(
  model: { clean: number; corrupted: readonly CorruptionAccuracy[] },
  baseline: { clean: number; corrupted: readonly CorruptionAccuracy[] },
): CorruptionSummary {
  const key = (r: CorruptionAccuracy) => `${r.kind}\0${r.severity}`;
  const base = new Map(baseline.corrupted.map((r) => [key(r), r.accuracy]));
  const kinds = [...new Set(model.corrupted.map((r) => r.kind))].sort();
  const ce: Record<string, number> = {};
  const relativeCe: Record<string, number> = {};
  const skipped: string[] = [];
  const relativeSkipped: string[] = [];
  const eClean = 1 - model.clean;
  const bClean = 1 - baseline.clean;
  for (const kind of kinds) {
    const rows = model.corrupted.filter((r) => r.kind === kind);
    if (rows.some((r) => !base.has(key(r)))) {
      skipped.push(kind);
      continue;
    }
    let e = 0;
    let b = 0;
    let eRel = 0;
    let bRel = 0;
    for (const r of rows) {
      const eb = 1 - (base.get(key(r)) as number);
      e += 1 - r.accuracy;
      b += eb;
      eRel += 1 - r.accuracy - eClean;
      bRel += eb - bClean;
    }
    if (b <= 0) {
      skipped.push(kind);
      continue;
    }
    ce[kind] = e / b;
    if (bRel / rows.length >= MIN_BASELINE_DEGRADATION - 1e-12) relativeCe[kind] = eRel / bRel;
    else relativeSkipped.push(kind);
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : Number.NaN);
  return { ce, relativeCe, mce: mean(Object.values(ce)), relativeMce: mean(Object.values(relativeCe)), skipped, relativeSkipped };
}

/** log C(n, k) via log-gamma-free summation (exact enough for n up to a few hundred thousand). */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/**
 * McNemar's exact (binomial) two-sided test on paired outcomes: `b` = images model A got right and B
 * wrong, `c` = A wrong and B right. p = min(1, 2 · P[X ≤ min(b, c)]), X ~ Bin(b + c, 1/2).
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  let p = 0;
  for (let i = 0; i <= k; i++) p += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * p);
}

export interface PairedComparison {
  n: number;
  accuracyA: number;
  accuracyB: number;
  /** accuracyA − accuracyB */
  difference: number;
  ciLow: number;
  ciHigh: number;
  /** A right & B wrong, A wrong & B right */
  b: number;
  c: number;
  pValue: number;
  /** 'better' / 'worse' (A vs B) when p < alpha and the CI excludes 0, else 'not distinguishable'. */
  verdict: 'better' | 'worse' | 'not distinguishable';
}

/**
 * Paired comparison of two models on the same images (`correctA[i]`, `correctB[i]`: image i right?):
 * McNemar's exact test and a seeded paired bootstrap 95 % CI of the accuracy difference.
 */
export function pairedComparison(
  correctA: readonly boolean[],
  correctB: readonly boolean[],
  opts: { samples?: number; seed?: number; alpha?: number } = {},
): PairedComparison {
  if (correctA.length !== correctB.length) throw new RangeError(`paired comparison: ${correctA.length} vs ${correctB.length} images`);
  const n = correctA.length;
  const samples = opts.samples ?? 2000;
  const alpha = opts.alpha ?? 0.05;
  let b = 0;
  let c = 0;
  let ra = 0;
  let rb = 0;
  const d = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const a = correctA[i] ? 1 : 0;
    const bb = correctB[i] ? 1 : 0;
    ra += a;
    rb += bb;
    d[i] = a - bb;
    if (a && !bb) b++;
    if (!a && bb) c++;
  }
  const rng = createRng(opts.seed ?? 1);
  const diffs = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += d[rng.int(n)];
    diffs[s] = n ? sum / n : 0;
  }
  diffs.sort();
  const q = (p: number) => diffs[Math.min(samples - 1, Math.max(0, Math.floor(p * samples)))];
  const ciLow = q(alpha / 2);
  const ciHigh = q(1 - alpha / 2);
  const pValue = mcnemarExact(b, c);
  const difference = n ? (ra - rb) / n : 0;
  const verdict = pValue < alpha && (ciLow > 0 || ciHigh < 0) ? (difference > 0 ? 'better' : 'worse') : 'not distinguishable';
  return { n, accuracyA: n ? ra / n : 0, accuracyB: n ? rb / n : 0, difference, ciLow, ciHigh, b, c, pValue, verdict };
}

/**
 * The noise level at which accuracy first falls `points` (absolute, e.g. 0.05) below `clean`, with
 * levels ordered from mild to severe (`level` may be a severity or an SNR; the curve's order decides),
 * linearly interpolated between the two measured levels around the crossing; null if it never does.
 */
export function levelAtDrop(clean: number, curve: readonly { level: number; accuracy: number }[], points: number): number | null {
  const target = clean - points;
  let prev = { level: curve[0]?.level ?? 0, accuracy: clean };
  for (const p of curve) {
    if (p.accuracy < target) {
      if (prev.accuracy === p.accuracy) return p.level;
      const t = (prev.accuracy - target) / (prev.accuracy - p.accuracy);
      return prev.level + t * (p.level - prev.level);
    }
    prev = p;
  }
  return null;
}
