/**
 * Pure statistics of a two-model comparison beyond core's paired test (McNemar's exact test and the
 * paired bootstrap, `pairedComparison` in @mri-robust/core): an unpaired normal approximation for
 * when only each model's own interval is known, and the verdict in words.
 */
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

export type Verdict = 'better' | 'not distinguishable' | 'worse';

/**
 * The verdict of an unpaired difference (other − first): only its interval is known, so 'better' /
 * 'worse' when it excludes 0. (A paired one takes core's verdict: McNemar p < 0.05 and the paired
 * bootstrap interval excluding 0.)
 */
export function unpairedVerdict(u: { low: number; high: number }): Verdict {
  return u.low > 0 ? 'better' : u.high < 0 ? 'worse' : 'not distinguishable';
}

/**
 * Pure: one sentence per compared sweep: its verdict on the clean test set, then how many corrupted
 * sets it is better / not distinguishable / worse on, e.g. "better on clean; on the 9 corrupted sets:
 * better on 3, not distinguishable on 5, worse on 1".
 */
export function verdictSentence(tests: readonly { clean: boolean; verdict: Verdict }[]): string {
  const clean = tests.find((t) => t.clean);
  const noisy = tests.filter((t) => !t.clean);
  const parts: string[] = [];
  if (clean) parts.push(`${clean.verdict} on clean`);
  if (noisy.length) {
    const count = (v: Verdict) => noisy.filter((t) => t.verdict === v).length;
    const counts = (['better', 'not distinguishable', 'worse'] as const).filter((v) => count(v) > 0).map((v) => `${v} on ${count(v)}`);
    parts.push(`on the ${noisy.length} corrupted set${noisy.length === 1 ? '' : 's'}: ${counts.join(', ')}`);
  }
  return parts.join('; ') || 'no test set in common';
}
