/**
 * Mirror-invariant perceptual hash (64 bits, 16 hex chars) and Hamming distance.
 *
 * Classic pHash: 32×32 greyscale thumbnail → 2-D DCT-II → the 8×8 lowest frequencies. A left-right
 * mirror (x → N−1−x) multiplies every coefficient of odd horizontal frequency u by −1 and leaves the
 * even ones unchanged. So the hash is built from quantities that a mirror cannot change:
 *  - even u: the coefficient itself, thresholded at the median of the even-u coefficients (31 bits,
 *    the DC term is left out);
 *  - odd u: the coefficient's magnitude, thresholded at the median magnitude (32 bits).
 * An image and its mirror therefore get the identical hash, and plain Hamming distance is a
 * mirror-invariant distance. Bit 63 is always 0.
 */
import { median } from '@mri-robust/core';

export const PHASH_SIZE = 32;
const K = 8;

let cosTable: Float64Array | null = null;
function cosines(): Float64Array {
  if (cosTable) return cosTable;
  const n = PHASH_SIZE;
  const t = new Float64Array(K * n);
  for (let u = 0; u < K; u++) {
    for (let x = 0; x < n; x++) t[u * n + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * n));
  }
  cosTable = t;
  return t;
}

/** Low-frequency DCT block (K×K, index u*K+v, u horizontal) of a 32×32 grey image (row-major). */
function lowDct(grey: ArrayLike<number>): Float64Array {
  const n = PHASH_SIZE;
  if (grey.length !== n * n) throw new Error(`lowDct: expected ${n * n} pixels, got ${grey.length}`);
  const c = cosines();
  // rows first: R[y][u] = Σx g[y][x] cos(u,x)
  const r = new Float64Array(n * K);
  for (let y = 0; y < n; y++) {
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let x = 0; x < n; x++) s += grey[y * n + x] * c[u * n + x];
      r[y * K + u] = s;
    }
  }
  const out = new Float64Array(K * K);
  for (let u = 0; u < K; u++) {
    for (let v = 0; v < K; v++) {
      let s = 0;
      for (let y = 0; y < n; y++) s += r[y * K + u] * c[v * n + y];
      out[u * K + v] = s;
    }
  }
  return out;
}

/** 64-bit mirror-invariant hash of a 32×32 grey thumbnail, as 16 lowercase hex chars. */
export function phashFromThumb(grey: ArrayLike<number>): string {
  const d = lowDct(grey);
  const even: number[] = [];
  const odd: number[] = [];
  for (let u = 0; u < K; u++) {
    for (let v = 0; v < K; v++) {
      if (u === 0 && v === 0) continue;
      if (u % 2 === 0) even.push(d[u * K + v]);
      else odd.push(Math.abs(d[u * K + v]));
    }
  }
  const me = median(even);
  const mo = median(odd);
  const bits: number[] = [];
  for (const e of even) bits.push(e > me ? 1 : 0);
  for (const o of odd) bits.push(o > mo ? 1 : 0);
  bits.push(0);
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 32; i++) hi = ((hi << 1) | bits[i]) >>> 0;
  for (let i = 32; i < 64; i++) lo = ((lo << 1) | bits[i]) >>> 0;
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** A hash as two uint32 words, for fast distance loops. */
export function phashWords(hex: string): [number, number] {
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new Error(`not a 64-bit hex hash: ${hex}`);
  return [parseInt(hex.slice(0, 8), 16) >>> 0, parseInt(hex.slice(8), 16) >>> 0];
}

export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Hamming distance between two hex hashes (mirror-invariant by construction of the hash). */
export function hamming(a: string, b: string): number {
  const [ah, al] = phashWords(a);
  const [bh, bl] = phashWords(b);
  return popcount32(ah ^ bh) + popcount32(al ^ bl);
}
