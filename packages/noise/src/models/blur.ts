import type { NoiseModel } from './types.ts';

/** Reflect-101 index (…, 2, 1, 0, 1, 2, …) kept inside [0, n). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  i = ((i % period) + period) % period;
  return i < n ? i : period - i;
}

function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * radius + 1);
  let s = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = sigma > 0 ? Math.exp(-(i * i) / (2 * sigma * sigma)) : i === 0 ? 1 : 0;
    k[i + radius] = v;
    s += v;
  }
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}

/** Separable Gaussian blur of one plane with reflected borders. */
function blurPlane(p: Float32Array, height: number, width: number, sigma: number): Float32Array {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(p.length);
  const out = new Float32Array(p.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) {
      let s = 0;
      if (x >= r && x < width - r) for (let j = -r; j <= r; j++) s += k[j + r] * p[o + x + j];
      else for (let j = -r; j <= r; j++) s += k[j + r] * p[o + reflect(x + j, width)];
      tmp[o + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      if (y >= r && y < height - r) for (let j = -r; j <= r; j++) s += k[j + r] * tmp[(y + j) * width + x];
      else for (let j = -r; j <= r; j++) s += k[j + r] * tmp[reflect(y + j, height) * width + x];
      out[y * width + x] = s;
    }
  }
  return out;
}

const gaussianBlur: NoiseModel = {
  kind: 'gaussian_blur',
  domain: 'blur',
  summary: 'isotropic Gaussian blur, reflected borders',
  params: { sigma: { min: 0, max: 20, doc: 'standard deviation in pixels' } },
  levels: [{ sigma: 0 }, { sigma: 0.5 }, { sigma: 1 }, { sigma: 1.5 }, { sigma: 2.5 }, { sigma: 4 }],
  apply(planes, { sigma }, { height, width }) {
    if (sigma === 0) return planes.map((p) => p.slice());
    return planes.map((p) => blurPlane(p, height, width, sigma));
  },
};

/**
 * Linear motion blur: the mean of `length` samples (1 px apart, bilinear) along a line through each
 * pixel at `angle` degrees (0 = horizontal); the angle is drawn uniformly in [0, 180) when absent.
 */
const motionBlur: NoiseModel = {
  kind: 'motion_blur',
  domain: 'blur',
  summary: 'linear motion blur along a line of `length` px at `angle`°',
  params: {
    length: { min: 1, max: 101, doc: 'length of the blur line in pixels' },
    angle: { min: -360, max: 360, optional: true, doc: 'direction in degrees (random when absent)' },
  },
  levels: [{ length: 1 }, { length: 3 }, { length: 5 }, { length: 9 }, { length: 13 }, { length: 19 }],
  apply(planes, params, { height, width, rng }) {
    const angle = params.angle ?? rng.uniform(0, 180);
    const length = params.length;
    const taps = Math.max(1, Math.round(length));
    const dx = Math.cos((angle * Math.PI) / 180);
    const dy = Math.sin((angle * Math.PI) / 180);
    // Per tap: integer offset and bilinear weights (the same for every pixel).
    const ox = new Int32Array(taps);
    const oy = new Int32Array(taps);
    const fx = new Float32Array(taps);
    const fy = new Float32Array(taps);
    for (let t = 0; t < taps; t++) {
      const s = t - (taps - 1) / 2;
      const px = s * dx;
      const py = s * dy;
      ox[t] = Math.floor(px);
      oy[t] = Math.floor(py);
      fx[t] = px - ox[t];
      fy[t] = py - oy[t];
    }
    const clampX = (x: number) => (x < 0 ? 0 : x >= width ? width - 1 : x);
    const clampY = (y: number) => (y < 0 ? 0 : y >= height ? height - 1 : y);
    // Per tap: the four bilinear weights and the flat offset of the top-left sample.
    const w00 = new Float64Array(taps);
    const w01 = new Float64Array(taps);
    const w10 = new Float64Array(taps);
    const w11 = new Float64Array(taps);
    const off = new Int32Array(taps);
    let reach = 0;
    for (let t = 0; t < taps; t++) {
      w00[t] = ((1 - fx[t]) * (1 - fy[t])) / taps;
      w01[t] = (fx[t] * (1 - fy[t])) / taps;
      w10[t] = ((1 - fx[t]) * fy[t]) / taps;
      w11[t] = (fx[t] * fy[t]) / taps;
      off[t] = oy[t] * width + ox[t];
      reach = Math.max(reach, Math.abs(ox[t]) + 1, Math.abs(oy[t]) + 1);
    }
    return planes.map((p) => {
      const out = new Float32Array(p.length);
      for (let y = 0; y < height; y++) {
        const inner = y >= reach && y < height - reach;
        for (let x = 0; x < width; x++) {
          let s = 0;
          if (inner && x >= reach && x < width - reach) {
            const base = y * width + x;
            for (let t = 0; t < taps; t++) {
              const i = base + off[t];
              s += w00[t] * p[i] + w01[t] * p[i + 1] + w10[t] * p[i + width] + w11[t] * p[i + width + 1];
            }
          } else {
            for (let t = 0; t < taps; t++) {
              const x0 = clampX(x + ox[t]);
              const x1 = clampX(x + ox[t] + 1);
              const y0 = clampY(y + oy[t]) * width;
              const y1 = clampY(y + oy[t] + 1) * width;
              s += w00[t] * p[y0 + x0] + w01[t] * p[y0 + x1] + w10[t] * p[y1 + x0] + w11[t] * p[y1 + x1];
            }
          }
          out[y * width + x] = s;
        }
      }
      return out;
    });
  },
};

export const blurModels = [gaussianBlur, motionBlur];
