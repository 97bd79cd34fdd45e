import type { Rng } from '@mri-robust/core';
import type { NoiseModel, NoiseParams } from './types.ts';
import { complexOf, fftPlan, signedFreq, transformCols, transformRows, unshiftIndex, type Complex2D } from '../fft.ts';

/**
 * k-space artefacts. Each is defined on the exact-size 2-D k-space of the plane (no padding; the
 * output is the magnitude image). Where the k-space change depends only on the phase-encode line
 * (motion segments, ghosting) or is separable (Gibbs truncation), the transforms along the other
 * axis cancel and are skipped, and a spike's inverse transform is a plane wave written directly:
 * the results equal the explicit 2-D FFT → modify → inverse 2-D FFT to rounding (a test checks
 * this against the explicit form). Random draws are made once per image, so every plane of a colour
 * image gets the same artefact. No model short-cuts a zero-strength setting: severity 0 runs the
 * full FFT round trip (and is the identity to ~1e-7).
 *
 * "axis" is the phase-encode direction of the simulated acquisition: 0 = k-space rows (ky, the
 * image's vertical direction), 1 = k-space columns (kx). It is drawn at random when absent.
 */

const pickAxis = (axis: number | undefined, rng: Rng): 0 | 1 => (axis === undefined ? (rng.int(2) as 0 | 1) : axis >= 1 ? 1 : 0);

/** Rigid motion of a plane: rotation by `deg` about the centre, then a shift (tx, ty) px; bilinear, 0 outside. */
export function rigidWarp(p: Float32Array, height: number, width: number, deg: number, tx: number, ty: number): Float32Array {
  const out = new Float32Array(p.length);
  const th = (deg * Math.PI) / 180;
  const c = Math.cos(th);
  const s = Math.sin(th);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // inverse map: source = R⁻¹ (dst − centre − t) + centre
      const u = x - cx - tx;
      const v = y - cy - ty;
      const sx = c * u + s * v + cx;
      const sy = -s * u + c * v + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const a = sx - x0;
      const b = sy - y0;
      let acc = 0;
      if (y0 >= 0 && y0 < height) {
        if (x0 >= 0 && x0 < width) acc += (1 - a) * (1 - b) * p[y0 * width + x0];
        if (x0 + 1 >= 0 && x0 + 1 < width && a > 0) acc += a * (1 - b) * p[y0 * width + x0 + 1];
      }
      if (b > 0 && y0 + 1 >= 0 && y0 + 1 < height) {
        if (x0 >= 0 && x0 < width) acc += (1 - a) * b * p[(y0 + 1) * width + x0];
        if (x0 + 1 >= 0 && x0 + 1 < width && a > 0) acc += a * b * p[(y0 + 1) * width + x0 + 1];
      }
      out[y * width + x] = acc;
    }
  }
  return out;
}

/**
 * Forward 1-D transforms of a REAL plane along `axis` (0: every column, along y; 1: every row, along
 * x). Two lines share one complex FFT: with Z = FFT(a + i·b), A[k] = (Z[k] + conj Z[−k]) / 2 and
 * B[k] = (Z[k] − conj Z[−k]) / 2i.
 */
function realForwardAlong(p: Float32Array, height: number, width: number, axis: 0 | 1): Complex2D {
  const n = axis === 0 ? height : width;
  const lines = axis === 0 ? width : height;
  const stride = axis === 0 ? width : 1;
  const step = axis === 0 ? 1 : width;
  const plan = fftPlan(n);
  const buf = new Float64Array(2 * n);
  const re = new Float64Array(p.length);
  const im = new Float64Array(p.length);
  for (let l = 0; l < lines; l += 2) {
    const oa = l * step;
    const ob = (l + 1) * step;
    const hasB = l + 1 < lines;
    for (let i = 0; i < n; i++) {
      buf[2 * i] = p[oa + i * stride];
      buf[2 * i + 1] = hasB ? p[ob + i * stride] : 0;
    }
    plan.forward(buf);
    for (let k = 0; k < n; k++) {
      const j = k === 0 ? 0 : n - k;
      const zr = buf[2 * k];
      const zi = buf[2 * k + 1];
      const cr = buf[2 * j];
      const ci = -buf[2 * j + 1];
      re[oa + k * stride] = (zr + cr) / 2;
      im[oa + k * stride] = (zi + ci) / 2;
      if (hasB) {
        // (Z − conj Z[−k]) / 2i = (dI, −dR) / 2 with d = Z − conj Z[−k]
        re[ob + k * stride] = (zi - ci) / 2;
        im[ob + k * stride] = -(zr - cr) / 2;
      }
    }
  }
  return { height, width, re, im };
}

/** 1-D transforms along the phase-encode axis: 0 = along y (every column), 1 = along x (every row). */
function alongAxis(k: Complex2D, axis: 0 | 1, inverse: boolean): void {
  if (axis === 0) transformCols(k, inverse);
  else transformRows(k, inverse);
}

function magnitudePlane(k: Complex2D): Float32Array {
  const out = new Float32Array(k.height * k.width);
  const { re, im } = k;
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(re[i] * re[i] + im[i] * im[i]);
  return out;
}

/**
 * Low-pass filter of a REAL plane along one axis with a symmetric 0/1 mask over signed frequency
 * (keep(f) = keep(−f)): two lines share one complex FFT (a + i·b), since a real symmetric mask keeps
 * both parts real.
 */
function realLowpassAlong(p: Float32Array, height: number, width: number, axis: 0 | 1, keep: (signedFreq: number) => boolean): Float32Array {
  const n = axis === 0 ? height : width;
  const lines = axis === 0 ? width : height;
  const stride = axis === 0 ? width : 1;
  const step = axis === 0 ? 1 : width;
  const plan = fftPlan(n);
  const mask = Uint8Array.from({ length: n }, (_, i) => (keep(signedFreq(i, n)) ? 1 : 0));
  const buf = new Float64Array(2 * n);
  const out = new Float32Array(p.length);
  for (let l = 0; l < lines; l += 2) {
    const oa = l * step;
    const ob = (l + 1) * step;
    const hasB = l + 1 < lines;
    for (let i = 0; i < n; i++) {
      buf[2 * i] = p[oa + i * stride];
      buf[2 * i + 1] = hasB ? p[ob + i * stride] : 0;
    }
    plan.forward(buf);
    for (let i = 0; i < n; i++) {
      if (!mask[i]) {
        buf[2 * i] = 0;
        buf[2 * i + 1] = 0;
      }
    }
    plan.inverse(buf);
    for (let i = 0; i < n; i++) {
      out[oa + i * stride] = buf[2 * i];
      if (hasB) out[ob + i * stride] = buf[2 * i + 1];
    }
  }
  return out;
}

function copyLine(dst: Complex2D, src: Complex2D, axis: 0 | 1, line: number): void {
  const { height, width } = dst;
  if (axis === 0) {
    const o = line * width;
    for (let x = 0; x < width; x++) {
      dst.re[o + x] = src.re[o + x];
      dst.im[o + x] = src.im[o + x];
    }
  } else {
    for (let y = 0; y < height; y++) {
      dst.re[y * width + line] = src.re[y * width + line];
      dst.im[y * width + line] = src.im[y * width + line];
    }
  }
}

/** A motion pose: rotation (degrees) and shift (px). */
export interface MotionPose {
  deg: number;
  tx: number;
  ty: number;
}

/**
 * The random part of kspace_motion: phase-encode axis, poses (the unmoved one placed on the segment
 * holding the k-space centre) and, per pose, its lines (unshifted indices along the axis).
 */
export function drawMotion(params: NoiseParams, rng: Rng, height: number, width: number): { axis: 0 | 1; poses: MotionPose[]; segmentLines: number[][] } {
  const axis = pickAxis(params.axis, rng);
  const count = Math.round(params.transforms);
  const step = 1 / (count + 1);
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(step * (i + 1) + rng.uniform(-0.3 * step, 0.3 * step));
  const poses: MotionPose[] = [{ deg: 0, tx: 0, ty: 0 }];
  for (let i = 0; i < count; i++) {
    poses.push({
      deg: rng.uniform(-params.degrees, params.degrees),
      tx: rng.uniform(-params.translation, params.translation),
      ty: rng.uniform(-params.translation, params.translation),
    });
  }
  // The pose whose segment contains the centre of k-space gets the unmoved object.
  const centreSegment = (() => {
    const i = times.findIndex((t) => t > 0.5);
    return i < 0 ? count : i;
  })();
  [poses[0], poses[centreSegment]] = [poses[centreSegment], poses[0]];
  const n = axis === 0 ? height : width;
  const bounds = [0, ...times.map((t) => Math.min(n, Math.max(0, Math.floor(n * t)))), n];
  const segmentLines = poses.map((_, j) => {
    const lines: number[] = [];
    for (let s = bounds[j]; s < bounds[j + 1]; s++) lines.push(unshiftIndex(s, n));
    return lines;
  });
  return { axis, poses, segmentLines };
}

/**
 * Motion during acquisition, after TorchIO's RandomMotion (Shaw et al. 2019): `transforms` rigid
 * movements (rotation ~ U(−degrees, degrees), shift ~ U(−translation, translation) px per axis) at
 * times spread evenly over the acquisition with ±30 % jitter; each segment of phase-encode lines is
 * taken from the k-space of the object in the pose it had at that time; the unmoved pose fills the
 * segment holding the k-space centre, as in TorchIO.
 */
const kspaceMotion: NoiseModel = {
  kind: 'kspace_motion',
  domain: 'kspace',
  summary: 'k-space segments from rotated + shifted copies (TorchIO RandomMotion)',
  params: {
    degrees: { min: 0, max: 180, doc: 'maximum rotation of each movement (degrees)' },
    translation: { min: 0, max: 100, doc: 'maximum shift of each movement along each axis (px)' },
    transforms: { min: 1, max: 16, integer: true, doc: 'number of movements during the acquisition' },
    axis: { min: 0, max: 1, integer: true, optional: true, doc: 'phase-encode axis (random when absent)' },
  },
  levels: [
    { degrees: 0, translation: 0, transforms: 1 },
    { degrees: 2, translation: 2, transforms: 1 },
    { degrees: 4, translation: 4, transforms: 2 },
    { degrees: 6, translation: 6, transforms: 2 },
    { degrees: 8, translation: 8, transforms: 3 },
    { degrees: 10, translation: 10, transforms: 4 },
  ],
  apply(planes, params, { height, width, rng }) {
    const { axis, poses, segmentLines } = drawMotion(params, rng, height, width);
    return planes.map((p) => {
      // Lines of the phase-encode axis from each pose's k-space, joined, transformed back. Only the
      // transforms along the phase-encode axis are needed (see the header).
      const result: Complex2D = complexOf(new Float32Array(p.length), height, width);
      poses.forEach((pose, j) => {
        const lines = segmentLines[j];
        if (lines.length === 0) return;
        const moved = pose.deg === 0 && pose.tx === 0 && pose.ty === 0 ? p : rigidWarp(p, height, width, pose.deg, pose.tx, pose.ty);
        const k = realForwardAlong(moved, height, width, axis);
        for (const line of lines) copyLine(result, k, axis, line);
      });
      alongAxis(result, axis, true);
      return magnitudePlane(result);
    });
  },
};

/**
 * Discrete ghosts along the phase-encode axis, after TorchIO's RandomGhosting: every `ghosts`-th
 * line of the centred k-space is scaled by (1 − intensity), then the central `restore` fraction of
 * lines (at least the centre line) is put back.
 */
const ghosting: NoiseModel = {
  kind: 'ghosting',
  domain: 'kspace',
  summary: 'every n-th phase-encode line scaled by (1 − intensity) (TorchIO RandomGhosting)',
  params: {
    ghosts: { min: 1, max: 64, integer: true, doc: 'line period n, which gives n ghosts' },
    intensity: { min: 0, max: 1, doc: 'artefact strength: 0 none, 1 lines removed' },
    restore: { min: 0, max: 1, optional: true, doc: 'fraction of central lines restored (centre line only when absent)' },
    axis: { min: 0, max: 1, integer: true, optional: true, doc: 'phase-encode axis (random when absent)' },
  },
  levels: [
    { ghosts: 2, intensity: 0 },
    { ghosts: 2, intensity: 0.2 },
    { ghosts: 3, intensity: 0.35 },
    { ghosts: 4, intensity: 0.5 },
    { ghosts: 4, intensity: 0.7 },
    { ghosts: 6, intensity: 0.9 },
  ],
  apply(planes, params, { height, width, rng }) {
    const axis = pickAxis(params.axis, rng);
    const n = axis === 0 ? height : width;
    const mid = n >> 1;
    const size = params.restore === undefined ? 0 : Math.round(params.restore * n);
    const keepLo = size >= 2 ? mid - (size >> 1) : mid;
    const keepHi = size >= 2 ? mid + (size >> 1) : mid + 1;
    const factor = new Float64Array(n).fill(1);
    const g = Math.max(1, Math.round(params.ghosts));
    for (let s = 0; s < n; s += g) if (s < keepLo || s >= keepHi) factor[unshiftIndex(s, n)] = 1 - params.intensity;
    return planes.map((p) => {
      const k = realForwardAlong(p, height, width, axis);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const f = factor[axis === 0 ? y : x];
          if (f !== 1) {
            k.re[y * width + x] *= f;
            k.im[y * width + x] *= f;
          }
        }
      }
      alongAxis(k, axis, true);
      return magnitudePlane(k);
    });
  },
};

/**
 * Herringbone / spike artefact, after TorchIO's RandomSpike: `count` k-space points at random
 * positions (not DC) get `intensity` × |DC| added, giving stripes across the image.
 */
const spike: NoiseModel = {
  kind: 'spike',
  domain: 'kspace',
  summary: 'bright k-space points → stripes (TorchIO RandomSpike; intensity relative to |DC|)',
  params: {
    count: { min: 0, max: 64, integer: true, doc: 'number of spikes' },
    intensity: { min: 0, max: 10, doc: 'spike magnitude as a fraction of the k-space maximum |DC|' },
  },
  levels: [
    { count: 1, intensity: 0 },
    { count: 1, intensity: 0.15 },
    { count: 1, intensity: 0.3 },
    { count: 1, intensity: 0.5 },
    { count: 2, intensity: 0.7 },
    { count: 2, intensity: 1 },
  ],
  apply(planes, params, { height, width, rng }) {
    const positions: number[] = [];
    const total = height * width;
    for (let i = 0; i < Math.round(params.count); i++) positions.push(total > 1 ? 1 + rng.int(total - 1) : 0);
    // A k-space point A at (ky, kx) adds the plane wave (A / HW)·e^{2πi(ky·y/H + kx·x/W)} to the
    // image (inverse DFT), so no transform is needed: A = intensity · |DC| = intensity · Σ pixels.
    return planes.map((p) => {
      let dc = 0;
      for (let i = 0; i < p.length; i++) dc += p[i];
      const re = Float64Array.from(p);
      const im = new Float64Array(p.length);
      for (const pos of positions) {
        const ky = Math.floor(pos / width);
        const kx = pos % width;
        const amp = (params.intensity * Math.abs(dc)) / (height * width);
        const cy = Float64Array.from({ length: height }, (_, y) => Math.cos((2 * Math.PI * ky * y) / height));
        const sy = Float64Array.from({ length: height }, (_, y) => Math.sin((2 * Math.PI * ky * y) / height));
        const cx = Float64Array.from({ length: width }, (_, x) => Math.cos((2 * Math.PI * kx * x) / width));
        const sx = Float64Array.from({ length: width }, (_, x) => Math.sin((2 * Math.PI * kx * x) / width));
        for (let y = 0; y < height; y++) {
          const o = y * width;
          for (let x = 0; x < width; x++) {
            re[o + x] += amp * (cy[y] * cx[x] - sy[y] * sx[x]);
            im[o + x] += amp * (sy[y] * cx[x] + cy[y] * sx[x]);
          }
        }
      }
      return magnitudePlane({ height, width, re, im });
    });
  },
};

/**
 * Gibbs ringing by k-space truncation, after MONAI's GibbsNoise: α = 0 is the identity; otherwise
 * only the central rectangle |kx| ≤ (1 − α)·W/2, |ky| ≤ (1 − α)·H/2 is kept.
 */
const gibbs: NoiseModel = {
  kind: 'gibbs',
  domain: 'kspace',
  summary: 'k-space truncation to the central (1 − α) fraction (MONAI GibbsNoise α)',
  params: { alpha: { min: 0, max: 1, doc: 'fraction of k-space removed along each axis (0 = identity)' } },
  levels: [{ alpha: 0 }, { alpha: 0.3 }, { alpha: 0.45 }, { alpha: 0.6 }, { alpha: 0.7 }, { alpha: 0.78 }],
  apply(planes, { alpha }, { height, width }) {
    const ry = ((1 - alpha) * height) / 2;
    const rx = ((1 - alpha) * width) / 2;
    // The rectangular mask is separable and symmetric: filter along y, then along x (both real).
    return planes.map((p) => {
      const a = realLowpassAlong(p, height, width, 0, (f) => Math.abs(f) <= ry);
      const b = realLowpassAlong(a, height, width, 1, (f) => Math.abs(f) <= rx);
      for (let i = 0; i < b.length; i++) b[i] = Math.abs(b[i]);
      return b;
    });
  },
};

/**
 * Smooth intensity inhomogeneity, after TorchIO's RandomBiasField: the image is multiplied by
 * exp(Σ a_ij x^i y^j), i + j ≤ order, x, y ∈ [−1, 1], a_ij ~ U(−coefficients, coefficients).
 */
const biasField: NoiseModel = {
  kind: 'bias_field',
  domain: 'field',
  summary: 'multiplicative exp(polynomial) field (TorchIO RandomBiasField)',
  params: {
    coefficients: { min: 0, max: 5, doc: 'maximum magnitude of each polynomial coefficient' },
    order: { min: 0, max: 8, integer: true, optional: true, doc: 'polynomial order (3 when absent)' },
  },
  levels: [{ coefficients: 0 }, { coefficients: 0.1 }, { coefficients: 0.2 }, { coefficients: 0.3 }, { coefficients: 0.4 }, { coefficients: 0.5 }],
  apply(planes, params, { height, width, rng }) {
    const order = Math.round(params.order ?? 3);
    const terms: { i: number; j: number; a: number }[] = [];
    for (let i = 0; i <= order; i++) {
      for (let j = 0; j <= order - i; j++) terms.push({ i, j, a: rng.uniform(-params.coefficients, params.coefficients) });
    }
    const xs = Float64Array.from({ length: width }, (_, x) => (width > 1 ? (2 * x) / (width - 1) - 1 : 0));
    const ys = Float64Array.from({ length: height }, (_, y) => (height > 1 ? (2 * y) / (height - 1) - 1 : 0));
    // row[x] = Σ_i a_ij x^i for each j, then field = exp(Σ_j y^j row_j[x]).
    const rows = Array.from({ length: order + 1 }, () => new Float64Array(width));
    for (const t of terms) for (let x = 0; x < width; x++) rows[t.j][x] += t.a * xs[x] ** t.i;
    const field = new Float32Array(height * width);
    for (let y = 0; y < height; y++) {
      const yp = Float64Array.from({ length: order + 1 }, (_, j) => ys[y] ** j);
      for (let x = 0; x < width; x++) {
        let e = 0;
        for (let j = 0; j <= order; j++) e += yp[j] * rows[j][x];
        field[y * width + x] = Math.exp(e);
      }
    }
    return planes.map((p) => {
      const out = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) out[i] = p[i] * field[i];
      return out;
    });
  },
};

export const kspaceModels = [kspaceMotion, ghosting, spike, gibbs, biasField];
