/** Stratified, seeded assignment of kept images to train / val / test. */
import { createRng, deriveSeed, UserError, type Split } from '@mri-robust/core';

export interface SplitItem {
  id: string;
  label: string;
  /** Must go to test (its group touches a source's own Testing folder, mode source_test). */
  forcedTest: boolean;
}

export interface SplitSettings {
  mode: 'fractions' | 'source_test';
  train: number;
  val: number;
  test: number;
}

/** Counts for n items split by fractions, by largest remainder (exact total). */
export function apportion(n: number, fractions: readonly number[]): number[] {
  const sum = fractions.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new UserError('data.split: the fractions must not all be 0');
  const exact = fractions.map((f) => (n * f) / sum);
  const base = exact.map(Math.floor);
  let left = n - base.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    if (fractions[i] > 0) {
      base[i]++;
      left--;
    }
  }
  return base;
}

export function checkSplitSettings(s: SplitSettings): void {
  if (s.mode === 'fractions') {
    const sum = s.train + s.val + s.test;
    if (Math.abs(sum - 1) > 1e-6) {
      throw new UserError(`data.split: train + val + test must be 1 (got ${s.train} + ${s.val} + ${s.test} = ${+sum.toFixed(6)})`);
    }
    if (s.train <= 0) throw new UserError('data.split.train must be > 0');
  } else if (s.train <= 0) {
    throw new UserError('data.split.train must be > 0 (source_test splits the non-test images by train : val)');
  }
}

/**
 * Returns a split for every item (same order). Per class: forced-test items go to test; the rest are
 * ordered by id, shuffled with a seed derived from (seed, class) and cut by the fractions — by
 * train/val/test in mode "fractions", by train/val (test from the sources only) in "source_test".
 */
export function assignSplits(items: readonly SplitItem[], settings: SplitSettings, seed: number): Split[] {
  checkSplitSettings(settings);
  const out: Split[] = new Array(items.length);
  const byClass = new Map<string, number[]>();
  items.forEach((it, i) => {
    if (settings.mode === 'source_test' && it.forcedTest) {
      out[i] = 'test';
      return;
    }
    const list = byClass.get(it.label) ?? [];
    list.push(i);
    byClass.set(it.label, list);
  });
  for (const [label, idx] of [...byClass.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    idx.sort((a, b) => (items[a].id < items[b].id ? -1 : items[a].id > items[b].id ? 1 : 0));
    createRng(deriveSeed(seed, 'ingest-split', label)).shuffle(idx);
    const fr = settings.mode === 'fractions' ? [settings.train, settings.val, settings.test] : [settings.train, settings.val, 0];
    const [nTrain, nVal] = apportion(idx.length, fr);
    idx.forEach((i, k) => {
      out[i] = k < nTrain ? 'train' : k < nTrain + nVal ? 'val' : 'test';
    });
  }
  return out;
}
