/**
 * Pure statistics of a two-model comparison on the same test images: McNemar's exact test on the
 * discordant pairs, a seeded paired bootstrap interval of the accuracy difference, and (when only
 * each model's own interval is known) an unpaired normal approximation.
 */
import { createRng } from '@mri-robust/core';

/** ln C(n, k). */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/**
 * Two-sided exact McNemar test: `b` images only model A gets right, `c` only model B. Under H0 the
 * discordant pairs split Binomial(b + c, ½); p = min(1, 2 · P(X ≤ min(b, c))).
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

export interface PairedComparison {
  n: number;
  accuracyA: number;
  accuracyB: number;
  /** accuracyB − accuracyA. */
  diff: number;
  /** 95 % paired bootstrap percentile interval of the difference. */
  low: number;
  high: number;
  /** A right, B wrong. */
  onlyA: number;
  /** A wrong, B right. */
  onlyB: number;
  pMcNemar: number;
  bootstrapSamples: number;
}

/** Paired comparison of per-image correctness (same images, same order). */
export function pairedComparison(
  correctA: ArrayLike<boolean | number>,
  correctB: ArrayLike<boolean | number>,
  samples: number,
  seed: number | string,
): PairedComparison {
  const n = correctA.length;
  if (n !== correctB.length) throw new Error(`pairedComparison: ${n} vs ${correctB.length} images`);
  if (n === 0) throw new Error('pairedComparison: no images');
  const d = new Int8Array(n);
  let sumA = 0;
  let sumB = 0;
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < n; i++) {
    const a = correctA[i] ? 1 : 0;
    const b = correctB[i] ? 1 : 0;
    sumA += a;
    sumB += b;
    d[i] = b - a;
    if (a && !b) onlyA++;
    if (b && !a) onlyB++;
  }
  const rng = createRng(seed);
  const diffs = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let acc = 0;
    for (let i = 0; i < n; i++) acc += d[rng.int(n)];
    diffs[s] = acc / n;
  }
  diffs.sort();
  const q = (p: number) => diffs[Math.min(samples - 1, Math.max(0, Math.floor(p * samples)))];
  return {
    n,
    accuracyA: sumA / n,
    accuracyB: sumB / n,
    diff: (sumB - sumA) / n,
    low: q(0.025),
    high: q(0.975),
    onlyA,
    onlyB,
    pMcNemar: mcnemarExact(onlyA, onlyB),
    bootstrapSamples: samples,
  };
}

/**
 * Unpaired approximation from each model's own 95 % interval (standard error ≈ width / 3.92),
 * for when per-image predictions are not recorded: B − A ± 1.96 √(seA² + seB²). It ignores the
 * pairing, so it is wider than the paired interval would be when the images are the same.
 */
export function unpairedDiff(
  a: { accuracy: number; ciLow: number; ciHigh: number },
  b: { accuracy: number; ciLow: number; ciHigh: number },
): { diff: number; low: number; high: number } {
  const se = (x: { ciLow: number; ciHigh: number }) => (x.ciHigh - x.ciLow) / (2 * 1.959964);
  const half = 1.959964 * Math.sqrt(se(a) ** 2 + se(b) ** 2);
  const diff = b.accuracy - a.accuracy;
  return { diff, low: diff - half, high: diff + half };
}
