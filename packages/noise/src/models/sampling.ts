import type { Rng } from '@mri-robust/core';

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, g = 7). */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * A Poisson draw: multiplication method below mean 10, Hörmann's PTRS transformed rejection
 * (1993, as in numpy) above, so every draw is exact.
 */
export function samplePoisson(rng: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean < 10) {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = rng.next();
    while (p > limit) {
      k++;
      p *= rng.next();
    }
    return k;
  }
  const slam = Math.sqrt(mean);
  const loglam = Math.log(mean);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -mean + k * loglam - logGamma(k + 1)) return k;
  }
}

/** Otsu threshold of a plane in [0, 1] (256 bins). */
function otsuThreshold(plane: Float32Array): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < plane.length; i++) {
    const v = plane[i];
    hist[v <= 0 ? 0 : v >= 1 ? 255 : Math.floor(v * 255.999)]++;
  }
  const total = plane.length;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) sumAll += i * hist[i];
  let wB = 0;
  let sumB = 0;
  let best = 0;
  let bestT = 0;
  for (let t = 0; t < 256; t++) {
    wB += hist[t];
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * hist[t];
    const mB = sumB / wB;
    const mF = (sumAll - sumB) / wF;
    const between = wB * wF * (mB - mF) * (mB - mF);
    if (between > best) {
      best = between;
      bestT = t;
    }
  }
  return (bestT + 1) / 256;
}

/**
 * Mean foreground intensity: the mean of the pixels above the Otsu threshold (the head, not the
 * black background). Used to turn a target SNR into a noise σ. Falls back to the plane mean for a
 * flat image.
 */
export function foregroundMean(plane: Float32Array): number {
  const t = otsuThreshold(plane);
  let s = 0;
  let n = 0;
  let all = 0;
  for (let i = 0; i < plane.length; i++) {
    const v = plane[i];
    all += v;
    if (v >= t) {
      s += v;
      n++;
    }
  }
  if (n === 0 || n === plane.length) return all / plane.length;
  return s / n;
}
