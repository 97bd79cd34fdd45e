import type { Rng } from '@mri-robust/core';
import type { NoiseModel } from './types.ts';
import {
  complexOf,
  fft2d,
  magnitudeOf,
  signedFreq,
  transformCols,
  transformRows,
  unshiftIndex,
  type Complex2D,
} from '../fft.ts';

/**
 * k-space artefacts. Each plane is transformed with an exact-size 2-D FFT (no padding), modified
 * in k-space and transformed back; the output is the magnitude image. Random draws are made once per
 * image, so every plane of a colour image gets the same artefact. None of these models short-cuts
 * a zero-strength setting: severity 0 runs the full FFT round trip (and is the identity to ~1e-7).
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
 * k-space lines `lines` (unshifted indices along `axis`) of a real plane. Only the transforms needed
 * for those lines are run: along the phase-encode axis first, then across for the chosen lines.
 */
function kspaceLines(plane: Float32Array, height: number, width: number, axis: 0 | 1, lines: number[]): Complex2D {
  const k = complexOf(plane, height, width);
  if (axis === 0) {
    transformCols(k, false);
    transformRows(k, false, lines);
  } else {
    transformRows(k, false);
    transformCols(k, false, lines);
  }
  return k;
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

/**
 * Motion during acquisition, after TorchIO's RandomMotion (Shaw et al. 2019): `transforms` rigid
 * movements (rotation ~ U(−degrees, degrees), shift ~ U(−translation, translation) px per axis) at
 * times spread evenly over the acquisition with ±30 % jitter; each segment of phase-encode lines is
 * taken from the k-space of the object in the pose it had at that time; the unmoved pose fills the
 * segment holding the k-space centre, as in TorchIO.
 */
export const kspaceMotion: NoiseModel = {
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
    const axis = pickAxis(params.axis, rng);
    const count = Math.round(params.transforms);
    const step = 1 / (count + 1);
    const times: number[] = [];
    for (let i = 0; i < count; i++) times.push(step * (i + 1) + rng.uniform(-0.3 * step, 0.3 * step));
    const poses: { deg: number; tx: number; ty: number }[] = [{ deg: 0, tx: 0, ty: 0 }];
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
    return planes.map((p) => {
      const result: Complex2D = complexOf(new Float32Array(p.length), height, width);
      poses.forEach((pose, j) => {
        const lines = segmentLines[j];
        if (lines.length === 0) return;
        const moved = pose.deg === 0 && pose.tx === 0 && pose.ty === 0 ? p : rigidWarp(p, height, width, pose.deg, pose.tx, pose.ty);
        const k = kspaceLines(moved, height, width, axis, lines);
        for (const line of lines) copyLine(result, k, axis, line);
      });
      return magnitudeOf(result);
    });
  },
};

/**
 * Discrete ghosts along the phase-encode axis, after TorchIO's RandomGhosting: every `ghosts`-th
 * line of the centred k-space is scaled by (1 − intensity), then the central `restore` fraction of
 * lines (at least the centre line) is put back.
 */
export const ghosting: NoiseModel = {
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
      const k = complexOf(p, height, width);
      fft2d(k);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const f = factor[axis === 0 ? y : x];
          if (f !== 1) {
            k.re[y * width + x] *= f;
            k.im[y * width + x] *= f;
          }
        }
      }
      return magnitudeOf(k);
    });
  },
};

/**
 * Herringbone / spike artefact, after TorchIO's RandomSpike: `count` k-space points at random
 * positions (not DC) get `intensity` × |DC| added, giving stripes across the image.
 */
export const spike: NoiseModel = {
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
    return planes.map((p) => {
      const k = complexOf(p, height, width);
      fft2d(k);
      const dc = Math.sqrt(k.re[0] * k.re[0] + k.im[0] * k.im[0]);
      for (const pos of positions) k.re[pos] += params.intensity * dc;
      return magnitudeOf(k);
    });
  },
};

/**
 * Gibbs ringing by k-space truncation, after MONAI's GibbsNoise: α = 0 is the identity; otherwise
 * only the central rectangle |kx| ≤ (1 − α)·W/2, |ky| ≤ (1 − α)·H/2 is kept.
 */
export const gibbs: NoiseModel = {
  kind: 'gibbs',
  domain: 'kspace',
  summary: 'k-space truncation to the central (1 − α) fraction (MONAI GibbsNoise α)',
  params: { alpha: { min: 0, max: 1, doc: 'fraction of k-space removed along each axis (0 = identity)' } },
  levels: [{ alpha: 0 }, { alpha: 0.3 }, { alpha: 0.45 }, { alpha: 0.6 }, { alpha: 0.7 }, { alpha: 0.78 }],
  apply(planes, { alpha }, { height, width }) {
    const ry = ((1 - alpha) * height) / 2;
    const rx = ((1 - alpha) * width) / 2;
    return planes.map((p) => {
      const k = complexOf(p, height, width);
      fft2d(k);
      for (let y = 0; y < height; y++) {
        const keepY = Math.abs(signedFreq(y, height)) <= ry;
        for (let x = 0; x < width; x++) {
          if (!keepY || Math.abs(signedFreq(x, width)) > rx) {
            k.re[y * width + x] = 0;
            k.im[y * width + x] = 0;
          }
        }
      }
      return magnitudeOf(k);
    });
  },
};

/**
 * Smooth intensity inhomogeneity, after TorchIO's RandomBiasField: the image is multiplied by
 * exp(Σ a_ij x^i y^j), i + j ≤ order, x, y ∈ [−1, 1], a_ij ~ U(−coefficients, coefficients).
 */
export const biasField: NoiseModel = {
  kind: 'bias_field',
  domain: 'field',
  summary: 'multiplicative exp(polynomial) field (TorchIO RandomBiasField)',
  params: {
    coefficients: { min: 0, max: 5, doc: 'maximum magnitude of each polynomial coefficient' },
    order: { min: 0, max: 8, integer: true, optional: true, doc: 'polynomial order (3 when absent)' },
  },
  levels: [
    { coefficients: 0 },
    { coefficients: 0.1 },
    { coefficients: 0.2 },
    { coefficients: 0.3 },
    { coefficients: 0.4 },
    { coefficients: 0.5 },
  ],
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
