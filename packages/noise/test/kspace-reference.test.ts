import { describe, expect, it } from 'vitest';
import { createRng } from '@mri-robust/core';
import { applyModel, drawMotion, fft2d, ifft2d, noiseModels, rigidWarp, type Complex2D } from '../src/index.ts';
import { loadRealFloat } from './helpers.ts';

/**
 * The k-space models skip transforms that cancel (see models/kspace.ts). These tests redo each
 * artefact the long way — explicit 2-D FFT, change k-space, inverse 2-D FFT, magnitude — and
 * compare.
 */

const H = 60;
const W = 56; // 56 = 8·7: the mixed-radix path; 60 = 4·15 too

function kspace(p: Float32Array): Complex2D {
  const re = Float64Array.from(p);
  const k = { height: H, width: W, re, im: new Float64Array(p.length) };
  fft2d(k);
  return k;
}
function magnitude(k: Complex2D): Float32Array {
  ifft2d(k);
  return Float32Array.from(k.re, (r, i) => Math.min(1, Math.hypot(r, k.im[i])));
}
const unshift = (s: number, n: number) => (s - (n >> 1) + n) % n;
const signed = (i: number, n: number) => (i < (n + 1) >> 1 ? i : i - n);

function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('k-space models equal their explicit 2-D form', async () => {
  const img = await loadRealFloat('sartaj/Testing/glioma_tumor/image(10).jpg', H, 1);
  // loadRealFloat gives a square image; crop to H × W
  const p = new Float32Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) p[y * W + x] = img.data[y * H + x];
  const image = { height: H, width: W, channels: 1, data: p };

  it('ghosting', () => {
    for (const axis of [0, 1]) {
      const params = { ghosts: 3, intensity: 0.6, axis, restore: 0.1 };
      const fast = applyModel(noiseModels.ghosting, image, params, 1).data;
      const k = kspace(p);
      const n = axis === 0 ? H : W;
      const mid = n >> 1;
      const size = Math.round(0.1 * n);
      for (let s = 0; s < n; s += 3) {
        if (s >= mid - (size >> 1) && s < mid + (size >> 1)) continue;
        const u = unshift(s, n);
        for (let j = 0; j < (axis === 0 ? W : H); j++) {
          const idx = axis === 0 ? u * W + j : j * W + u;
          k.re[idx] *= 0.4;
          k.im[idx] *= 0.4;
        }
      }
      expect(maxDiff(fast, magnitude(k))).toBeLessThan(1e-5);
    }
  });

  it('spike', () => {
    const params = { count: 2, intensity: 0.7 };
    const fast = applyModel(noiseModels.spike, image, params, 4).data;
    // the same positions as the model draws them
    const rng = createRng('spike:4');
    const positions = [1 + rng.int(H * W - 1), 1 + rng.int(H * W - 1)];
    const k = kspace(p);
    const dc = Math.hypot(k.re[0], k.im[0]);
    for (const pos of positions) k.re[pos] += 0.7 * dc;
    expect(maxDiff(fast, magnitude(k))).toBeLessThan(1e-5);
  });

  it('gibbs', () => {
    const alpha = 0.6;
    const fast = applyModel(noiseModels.gibbs, image, { alpha }, 1).data;
    const k = kspace(p);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        if (Math.abs(signed(y, H)) > ((1 - alpha) * H) / 2 || Math.abs(signed(x, W)) > ((1 - alpha) * W) / 2) {
          k.re[y * W + x] = 0;
          k.im[y * W + x] = 0;
        }
    expect(maxDiff(fast, magnitude(k))).toBeLessThan(1e-5);
  });

  it('kspace_motion', () => {
    for (const seed of [2, 3]) {
      const params = { degrees: 8, translation: 5, transforms: 3 };
      const fast = applyModel(noiseModels.kspace_motion, image, params, seed).data;
      const { axis, poses, segmentLines } = drawMotion(params, createRng(`kspace_motion:${seed}`), H, W);
      const result: Complex2D = { height: H, width: W, re: new Float64Array(H * W), im: new Float64Array(H * W) };
      poses.forEach((pose, j) => {
        const k = kspace(rigidWarp(p, H, W, pose.deg, pose.tx, pose.ty));
        for (const line of segmentLines[j]) {
          for (let t = 0; t < (axis === 0 ? W : H); t++) {
            const idx = axis === 0 ? line * W + t : t * W + line;
            result.re[idx] = k.re[idx];
            result.im[idx] = k.im[idx];
          }
        }
      });
      expect(segmentLines.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: axis === 0 ? H : W }, (_, i) => i));
      expect(maxDiff(fast, magnitude(result))).toBeLessThan(1e-5);
      expect(maxDiff(fast, p)).toBeGreaterThan(0.05);
    }
  });
});
