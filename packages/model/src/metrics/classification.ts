/**
 * Classification metrics on integer labels. Pure functions, no tensors.
 * Confusion matrices are `[true][pred]` (rows = true class, columns = predicted class).
 */

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`label arrays differ in length: ${a.length} vs ${b.length}`);
}

/** Fraction of positions where `yTrue[i] === yPred[i]`; NaN for empty input. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkSameLength(yTrue, yPred);
  if (yTrue.length === 0) return Number.NaN;
  let c = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) c++;
  return c / yTrue.length;
}

/** `k × k` confusion matrix, rows = true class, columns = predicted class. */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number[][] {
  checkSameLength(yTrue, yPred);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i];
    const p = yPred[i];
    if (!(t >= 0 && t < k && p >= 0 && p < k && Number.isInteger(t) && Number.isInteger(p))) {
      throw new Error(`label out of range [0, ${k}) at index ${i}: true ${t}, predicted ${p}`);
    }
    m[t][p]++;
  }
  return m;
}

/**
 * Per-class precision, recall and F1 from a confusion matrix. A ratio with a zero denominator
 * (class never predicted / never present) is 0, as scikit-learn's `zero_division=0`.
 */
export function perClassMetrics(confusion: number[][], classes: readonly string[]): ClassMetrics[] {
  const k = confusion.length;
  if (classes.length !== k) throw new Error(`${classes.length} class names for a ${k}×${k} confusion matrix`);
  return classes.map((label, c) => {
    const tp = confusion[c][c];
    let predicted = 0;
    let support = 0;
    for (let j = 0; j < k; j++) {
      predicted += confusion[j][c];
      support += confusion[c][j];
    }
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
}

/** Unweighted mean of the per-class F1 scores. */
export function macroF1(perClass: readonly ClassMetrics[]): number {
  if (perClass.length === 0) return Number.NaN;
  return perClass.reduce((s, c) => s + c.f1, 0) / perClass.length;
}

/** Index of the largest value in each row of a row-major `[n, k]` matrix. */
export function argmaxRows(values: ArrayLike<number>, k: number): Int32Array {
  const n = Math.floor(values.length / k);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = values[i * k];
    for (let j = 1; j < k; j++) {
      const v = values[i * k + j];
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}
