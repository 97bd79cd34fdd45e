/**
 * Training-time regularisers that work on cached features as well as on pixels (pure, seeded):
 * - label smoothing (Szegedy et al. 2016; Keras `CategoricalCrossentropy(label_smoothing=ε)`):
 *   the target of class c becomes (1 − ε)·onehot(c) + ε / k;
 * - mixup (Zhang et al. 2018): each batch is mixed with a seeded permutation of itself,
 *   x' = λ·x + (1 − λ)·x[π], y' = λ·y + (1 − λ)·y[π], λ ~ Beta(α, α). On cached activations this is
 *   "manifold mixup" at the cut layer (Verma et al. 2019), the only input-space augmentation that
 *   cached features allow without recomputing the backbone.
 */
import type { Rng } from '@mri-robust/core';

/** Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 through the boost Gamma(a+1)·U^(1/a). */
export function sampleGamma(rng: Rng, shape: number): number {
  if (!(shape > 0)) throw new Error(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    const u = 1 - rng.next(); // (0, 1]
    return sampleGamma(rng, shape + 1) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) as G_a / (G_a + G_b). */
export function sampleBeta(rng: Rng, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  const y = sampleGamma(rng, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

/** Target distributions `[n, k]` (row-major) for class labels, with label smoothing ε ∈ [0, 1). */
export function smoothTargets(labels: ArrayLike<number>, k: number, smoothing: number): Float32Array {
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`label smoothing must be in [0, 1), got ${smoothing}`);
  const out = new Float32Array(labels.length * k).fill(smoothing / k);
  for (let i = 0; i < labels.length; i++) out[i * k + labels[i]] += 1 - smoothing;
  return out;
}

/** One batch's mixup draw: partner index per row and the mixing weight λ of the row itself. */
export interface MixupDraw {
  lambda: number;
  partner: Int32Array;
}

/**
 * Draws λ ~ Beta(α, α) and a permutation of the batch rows. λ is folded to ≥ 0.5 so that the row's
 * own label stays dominant (train accuracy then compares against it), as in common implementations.
 */
export function drawMixup(rng: Rng, batchSize: number, alpha: number): MixupDraw {
  if (!(alpha > 0)) throw new Error(`mixup alpha must be > 0, got ${alpha}`);
  const l = sampleBeta(rng, alpha, alpha);
  const order = rng.shuffle(Array.from({ length: batchSize }, (_, i) => i));
  return { lambda: Math.max(l, 1 - l), partner: Int32Array.from(order) };
}

/** Mixes target rows: out[i] = λ·t[i] + (1 − λ)·t[partner[i]]. */
export function mixRows(t: Float32Array, width: number, draw: MixupDraw): Float32Array {
  const n = draw.partner.length;
  if (t.length !== n * width) throw new Error(`${t.length} values for ${n} rows of ${width}`);
  const out = new Float32Array(t.length);
  const { lambda } = draw;
  for (let i = 0; i < n; i++) {
    const a = i * width;
    const b = draw.partner[i] * width;
    for (let j = 0; j < width; j++) out[a + j] = lambda * t[a + j] + (1 - lambda) * t[b + j];
  }
  return out;
}
