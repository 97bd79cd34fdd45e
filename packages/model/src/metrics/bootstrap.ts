/** Seeded percentile bootstrap for the mean of per-sample scores (e.g. 0/1 correctness). */

export interface Interval {
  low: number;
  high: number;
}

/** A random source with `next()` ∈ [0, 1) (core's `Rng` satisfies it). */
export interface UniformSource {
  next(): number;
}

/** Linear-interpolated quantile of an ascending-sorted array (numpy's default "linear" method). */
function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Percentile bootstrap interval of the mean of `scores`: `samples` resamples with replacement,
 * drawn from `rng`; returns the (1-level)/2 and (1+level)/2 quantiles of the resampled means.
 */
export function bootstrapMeanInterval(scores: ArrayLike<number>, samples: number, rng: UniformSource, level = 0.95): Interval {
  const n = scores.length;
  if (n === 0) return { low: Number.NaN, high: Number.NaN };
  if (!(samples >= 1)) throw new Error(`bootstrap samples must be ≥ 1, got ${samples}`);
  const means = new Float64Array(samples);
  for (let b = 0; b < samples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += scores[Math.floor(rng.next() * n)];
    means[b] = s / n;
  }
  means.sort();
  const a = (1 - level) / 2;
  return { low: quantileSorted(means, a), high: quantileSorted(means, 1 - a) };
}
