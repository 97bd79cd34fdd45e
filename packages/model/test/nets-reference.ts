/**
 * Plain typed-array reference implementations (one image, HWC float32) of the operations Keras's
 * application blocks use, written from the definitions and independent of tfjs: convolution
 * (TensorFlow 'same'/'valid' padding), depthwise convolution, inference batch norm, activations,
 * max/average pooling (average excludes padding, as TensorFlow), global average pooling, zero
 * padding, channel concatenation and element-wise ops. Plus a seeded weight filler for models.
 */
import { createRng } from '@mri-robust/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { tf } from '../src/backend/tf.ts';

export interface Map3 {
  h: number;
  w: number;
  c: number;
  data: Float32Array;
}

export const map3 = (h: number, w: number, c: number, data: Float32Array = new Float32Array(h * w * c)): Map3 => ({ h, w, c, data });
const at = (m: Map3, y: number, x: number, ch: number) => m.data[(y * m.w + x) * m.c + ch];

/** TensorFlow's padding: output size and the padding before (top/left). */
function geometry(size: number, k: number, stride: number, padding: 'same' | 'valid'): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / stride) + 1, before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  return { out, before: Math.floor(total / 2) };
}

/** Conv2D: kernel [kh, kw, cin, cout] (row-major), optional bias. */
export function conv2d(
  x: Map3,
  kernel: Float32Array,
  kh: number,
  kw: number,
  cout: number,
  opts: { stride?: number; padding?: 'same' | 'valid'; bias?: Float32Array } = {},
): Map3 {
  const s = opts.stride ?? 1;
  const gy = geometry(x.h, kh, s, opts.padding ?? 'valid');
  const gx = geometry(x.w, kw, s, opts.padding ?? 'valid');
  const out = map3(gy.out, gx.out, cout);
  for (let oy = 0; oy < gy.out; oy++) {
    for (let ox = 0; ox < gx.out; ox++) {
      for (let o = 0; o < cout; o++) {
        let acc = opts.bias ? opts.bias[o] : 0;
        for (let i = 0; i < kh; i++) {
          const y = oy * s + i - gy.before;
          if (y < 0 || y >= x.h) continue;
          for (let j = 0; j < kw; j++) {
            const xx = ox * s + j - gx.before;
            if (xx < 0 || xx >= x.w) continue;
            for (let c = 0; c < x.c; c++) acc += at(x, y, xx, c) * kernel[((i * kw + j) * x.c + c) * cout + o];
          }
        }
        out.data[(oy * gx.out + ox) * cout + o] = acc;
      }
    }
  }
  return out;
}

/** DepthwiseConv2D with depth multiplier 1: kernel [k, k, c, 1]. */
export function depthwise(x: Map3, kernel: Float32Array, k: number, opts: { stride?: number; padding?: 'same' | 'valid' } = {}): Map3 {
  const s = opts.stride ?? 1;
  const gy = geometry(x.h, k, s, opts.padding ?? 'valid');
  const gx = geometry(x.w, k, s, opts.padding ?? 'valid');
  const out = map3(gy.out, gx.out, x.c);
  for (let oy = 0; oy < gy.out; oy++) {
    for (let ox = 0; ox < gx.out; ox++) {
      for (let c = 0; c < x.c; c++) {
        let acc = 0;
        for (let i = 0; i < k; i++) {
          const y = oy * s + i - gy.before;
          if (y < 0 || y >= x.h) continue;
          for (let j = 0; j < k; j++) {
            const xx = ox * s + j - gx.before;
            if (xx < 0 || xx >= x.w) continue;
            acc += at(x, y, xx, c) * kernel[(i * k + j) * x.c + c];
          }
        }
        out.data[(oy * gx.out + ox) * x.c + c] = acc;
      }
    }
  }
  return out;
}

/** Inference batch norm: γ (x − μ) / √(σ² + ε) + β (γ = 1 when null). */
export function batchNorm(x: Map3, gamma: Float32Array | null, beta: Float32Array, mean: Float32Array, variance: Float32Array, eps: number): Map3 {
  const out = map3(x.h, x.w, x.c);
  for (let i = 0; i < x.data.length; i++) {
    const c = i % x.c;
    out.data[i] = ((gamma ? gamma[c] : 1) * (x.data[i] - mean[c])) / Math.sqrt(variance[c] + eps) + beta[c];
  }
  return out;
}

export function mapValues(x: Map3, f: (v: number, channel: number) => number): Map3 {
  const out = map3(x.h, x.w, x.c);
  for (let i = 0; i < x.data.length; i++) out.data[i] = f(x.data[i], i % x.c);
  return out;
}

export const relu = (x: Map3) => mapValues(x, (v) => Math.max(0, v));
export const sigmoidOf = (v: number) => 1 / (1 + Math.exp(-v));
export const swish = (x: Map3) => mapValues(x, (v) => v * sigmoidOf(v));

export const add = (a: Map3, b: Map3): Map3 =>
  map3(
    a.h,
    a.w,
    a.c,
    a.data.map((v, i) => v + b.data[i]),
  );

/** Zero padding: top, bottom, left, right. */
export function zeroPad(x: Map3, top: number, bottom: number, left: number, right: number): Map3 {
  const out = map3(x.h + top + bottom, x.w + left + right, x.c);
  for (let y = 0; y < x.h; y++) {
    for (let xx = 0; xx < x.w; xx++) {
      for (let c = 0; c < x.c; c++) out.data[((y + top) * out.w + xx + left) * x.c + c] = at(x, y, xx, c);
    }
  }
  return out;
}

/** Max or average pooling (average counts only the cells inside the image, as TensorFlow). */
export function pool(x: Map3, kind: 'max' | 'avg', k: number, stride: number, padding: 'same' | 'valid'): Map3 {
  const gy = geometry(x.h, k, stride, padding);
  const gx = geometry(x.w, k, stride, padding);
  const out = map3(gy.out, gx.out, x.c);
  for (let oy = 0; oy < gy.out; oy++) {
    for (let ox = 0; ox < gx.out; ox++) {
      for (let c = 0; c < x.c; c++) {
        let acc = kind === 'max' ? -Infinity : 0;
        let n = 0;
        for (let i = 0; i < k; i++) {
          const y = oy * stride + i - gy.before;
          if (y < 0 || y >= x.h) continue;
          for (let j = 0; j < k; j++) {
            const xx = ox * stride + j - gx.before;
            if (xx < 0 || xx >= x.w) continue;
            const v = at(x, y, xx, c);
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
            n++;
          }
        }
        out.data[(oy * gx.out + ox) * x.c + c] = kind === 'max' ? acc : acc / n;
      }
    }
  }
  return out;
}

/** Global average pooling → one value per channel. */
export function gap(x: Map3): Float32Array {
  const out = new Float32Array(x.c);
  for (let i = 0; i < x.data.length; i++) out[i % x.c] += x.data[i];
  for (let c = 0; c < x.c; c++) out[c] /= x.h * x.w;
  return out;
}

/** Concatenate along channels. */
export function concat(maps: Map3[]): Map3 {
  const c = maps.reduce((s, m) => s + m.c, 0);
  const out = map3(maps[0].h, maps[0].w, c);
  for (let p = 0; p < out.h * out.w; p++) {
    let o = 0;
    for (const m of maps) {
      for (let k = 0; k < m.c; k++) out.data[p * c + o + k] = m.data[p * m.c + k];
      o += m.c;
    }
  }
  return out;
}

/** Fill every weight of `model` from a seeded generator; BN variances > 0. */
export function randomizeWeights(model: LayersModel, seed: number, scale = 0.2): void {
  const rng = createRng(seed);
  for (const l of model.layers) {
    const ws = l.weights;
    if (ws.length === 0) continue;
    l.setWeights(
      ws.map((w) => {
        const n = w.shape.reduce((a: number, b) => a * (b as number), 1);
        const positive = /variance|count/.test(w.originalName);
        const gammaLike = /gamma/.test(w.originalName);
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = positive ? rng.uniform(0.5, 1.5) : gammaLike ? rng.uniform(0.5, 1.5) : rng.uniform(-scale, scale);
        return tf.tensor(data, w.shape as number[]);
      }),
    );
  }
}

/** A layer's current weights as typed arrays, by short name (kernel, bias, gamma, …). */
export function weightsOf(model: LayersModel, layer: string): Record<string, Float32Array> {
  const l = model.getLayer(layer);
  const out: Record<string, Float32Array> = {};
  l.weights.forEach((w, i) => {
    out[w.originalName.split('/').pop()!] = new Float32Array(l.getWeights()[i].dataSync());
  });
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
