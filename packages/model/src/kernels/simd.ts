/**
 * The project's WebAssembly SIMD training kernels (simd/kernels.c, built to simd/kernels.wasm by
 * simd/build.sh) run directly on the tfjs wasm backend's heap: the module imports that backend's
 * memory, and every argument is the heap offset of a tensor, so nothing is copied. Each function
 * here takes tensors of the active wasm backend and returns a new one, like a kernel.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

interface Exports {
  matmul_tn(a: number, b: number, c: number, m: number, k: number, n: number, scratch: number): void;
  conv_filter_grad(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    cin: number,
    oh: number,
    ow: number,
    cout: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    scratch: number,
  ): void;
  depthwise_filter_grad(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
  ): void;
  depthwise_input_grad(
    dy: number,
    w: number,
    dx: number,
    n: number,
    h: number,
    ww: number,
    c: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
  ): void;
  clip_grad(x: number, dy: number, dx: number, n: number, lo: number, hi: number): void;
  relu_grad(x: number, dy: number, dx: number, n: number): void;
  mid_sum(x: number, out: number, a: number, m: number, n: number, scale: number): void;
  mid_broadcast_div(dy: number, dx: number, a: number, m: number, n: number, d: number): void;
  act_grad(y: number, dy: number, dx: number, n: number, hi: number): void;
  batchnorm_grad(x: number, dy: number, mean: number, k: number, dx: number, s1: number, s2: number, m: number, c: number): void;
  maxpool_grad(
    x: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
  ): void;
  adam_update(
    w: number,
    m: number,
    v: number,
    g: number,
    w1: number,
    m1: number,
    v1: number,
    n: number,
    b1: number,
    ob1: number,
    b2: number,
    ob2: number,
    c1: number,
    c2: number,
    eps: number,
    nlr: number,
  ): void;
}

/** What the kernels need of the tfjs wasm backend (internal fields, stable across tfjs 4.x). */
interface WasmBackend {
  wasm: { asm: { memory: WebAssembly.Memory } };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  disposeData(id: object): boolean;
}

export const SIMD_WASM_FILE = fileURLToPath(new URL('./simd/kernels.wasm', import.meta.url));

let instance: { memory: WebAssembly.Memory; fns: Exports } | null = null;

function backend(): WasmBackend {
  const b = tf.backend() as unknown as WasmBackend;
  if (tf.getBackend() !== 'wasm' || !b.wasm?.asm?.memory) throw new Error('project SIMD kernels: the active backend is not wasm');
  return b;
}

function kernels(b: WasmBackend): Exports {
  const memory = b.wasm.asm.memory;
  if (!instance || instance.memory !== memory) {
    const module = new WebAssembly.Module(readFileSync(SIMD_WASM_FILE));
    const inst = new WebAssembly.Instance(module, { env: { memory } });
    instance = { memory, fns: inst.exports as unknown as Exports };
  }
  return instance.fns;
}

function offset(b: WasmBackend, t: tf.TensorInfo): number {
  if (t.dtype !== 'float32') throw new Error(`project SIMD kernels: float32 only, got ${t.dtype}`);
  const d = b.dataIdMap.get(t.dataId);
  if (!d) throw new Error('project SIMD kernels: tensor not on the wasm backend');
  return d.memoryOffset;
}

/** Scratch floats of matmul_tn: packed panel (MB × 8 in kernels.c) and row table (MB). */
const MATMUL_SCRATCH = 256 * 8 + 256;

const size = (s: readonly number[]) => s.reduce((a, v) => a * v, 1);

/** C [K, N] = Aᵀ·B for A [M, K], B [M, N] (any shapes whose leading dims multiply to M). */
export function matmulTN(a: tf.TensorInfo, b: tf.TensorInfo, k: number, n: number, outShape: number[]): tf.TensorInfo {
  const be = backend();
  const m = size(a.shape) / k;
  if (size(b.shape) !== m * n) throw new Error(`matmulTN: [${a.shape}] and [${b.shape}] do not share ${m} rows`);
  const fns = kernels(be);
  const out = be.makeOutput(outShape, 'float32');
  const scratch = be.makeOutput([MATMUL_SCRATCH], 'float32');
  try {
    fns.matmul_tn(offset(be, a), offset(be, b), offset(be, out), m, k, n, offset(be, scratch));
  } finally {
    be.disposeData(scratch.dataId);
  }
  return out;
}

export interface ConvGeometry extends DepthwiseGeometry {
  cout: number;
}

/** dW [fh, fw, cin, cout] of a convolution (NHWC, dilation 1) from x [n, h, w, cin] and dy [n, oh, ow, cout]. */
export function convFilterGrad(x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  const out = be.makeOutput([g.fh, g.fw, g.c, g.cout], 'float32');
  const scratch = be.makeOutput([MATMUL_SCRATCH + g.c], 'float32');
  try {
    fns.conv_filter_grad(
      offset(be, x),
      offset(be, dy),
      offset(be, out),
      g.n,
      g.h,
      g.w,
      g.c,
      g.oh,
      g.ow,
      g.cout,
      g.fh,
      g.fw,
      g.sh,
      g.sw,
      g.padTop,
      g.padLeft,
      offset(be, scratch),
    );
  } finally {
    be.disposeData(scratch.dataId);
  }
  return out;
}

export interface DepthwiseGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
}

/** dW [fh, fw, c, 1] of a depthwise convolution (multiplier 1) from x [n, h, w, c] and dy [n, oh, ow, c]. */
export function depthwiseFilterGrad(x: tf.TensorInfo, dy: tf.TensorInfo, g: DepthwiseGeometry): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  const out = be.makeOutput([g.fh, g.fw, g.c, 1], 'float32');
  fns.depthwise_filter_grad(offset(be, x), offset(be, dy), offset(be, out), g.n, g.h, g.w, g.c, g.oh, g.ow, g.fh, g.fw, g.sh, g.sw, g.padTop, g.padLeft);
  return out;
}

/** dx [n, h, w, c] of a depthwise convolution (multiplier 1) from dy [n, oh, ow, c] and W [fh, fw, c, 1]. */
export function depthwiseInputGrad(dy: tf.TensorInfo, filter: tf.TensorInfo, g: DepthwiseGeometry): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  const out = be.makeOutput([g.n, g.h, g.w, g.c], 'float32');
  fns.depthwise_input_grad(offset(be, dy), offset(be, filter), offset(be, out), g.n, g.h, g.w, g.c, g.oh, g.ow, g.fh, g.fw, g.sh, g.sw, g.padTop, g.padLeft);
  return out;
}

/** (lo ≤ x ≤ hi) ? dy : 0, elementwise (same shapes). */
export function clipGrad(x: tf.TensorInfo, dy: tf.TensorInfo, lo: number, hi: number): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  const out = be.makeOutput(dy.shape.slice(), 'float32');
  fns.clip_grad(offset(be, x), offset(be, dy), offset(be, out), size(dy.shape), lo, hi);
  return out;
}

/** x > 0 ? dy : 0, elementwise (same shapes). */
export function reluGrad(x: tf.TensorInfo, dy: tf.TensorInfo): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  const out = be.makeOutput(dy.shape.slice(), 'float32');
  fns.relu_grad(offset(be, x), offset(be, dy), offset(be, out), size(dy.shape));
  return out;
}

/** x viewed as [A, M, N], reduced over M (a run of axes ending before the last): `outer` = A. */
export interface MiddleSplit {
  outer: number;
  reduced: number;
  inner: number;
}

/** Sum (or with `mean`, mean) of x over the middle of its split → shape `outShape` (A × N values). */
export function middleSum(x: tf.TensorInfo, s: MiddleSplit, outShape: number[], mean = false): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  if (size(x.shape) !== s.outer * s.reduced * s.inner) throw new Error(`middleSum: [${x.shape}] is not ${s.outer}×${s.reduced}×${s.inner}`);
  const out = be.makeOutput(outShape, 'float32');
  fns.mid_sum(offset(be, x), offset(be, out), s.outer, s.reduced, s.inner, mean ? 1 / s.reduced : 1);
  return out;
}

/** dx (shape `xShape`, split `s`) = dy [A, N] / `divisor` broadcast over the reduced axes: a mean's gradient. */
export function middleBroadcastDiv(dy: tf.TensorInfo, s: MiddleSplit, xShape: number[], divisor: number): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  if (size(dy.shape) !== s.outer * s.inner) throw new Error(`middleBroadcastDiv: dy [${dy.shape}] is not ${s.outer}×${s.inner}`);
  const out = be.makeOutput(xShape.slice(), 'float32');
  fns.mid_broadcast_div(offset(be, dy), offset(be, out), s.outer, s.reduced, s.inner, divisor);
  return out;
}

/**
 * (0 < y < hi) ? dy : 0 elementwise: the gradient of relu (hi = Infinity) or relu6 (hi = 6) from its
 * output. It differs from the gradient taken at the input only where the input was exactly 6.
 */
export function activationGradFromOutput(y: tf.TensorInfo, dy: tf.TensorInfo, hi: number): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  const out = be.makeOutput(dy.shape.slice(), 'float32');
  fns.act_grad(offset(be, y), offset(be, dy), offset(be, out), size(dy.shape), hi);
  return out;
}

/** dx [n, h, w, c] of a max pool (geometry as a depthwise conv's) from its input x and dy. */
export function maxPoolGrad(x: tf.TensorInfo, dy: tf.TensorInfo, g: DepthwiseGeometry): tf.TensorInfo {
  const be = backend();
  const fns = kernels(be);
  const out = be.makeOutput([g.n, g.h, g.w, g.c], 'float32');
  fns.maxpool_grad(offset(be, x), offset(be, dy), offset(be, out), g.n, g.h, g.w, g.c, g.oh, g.ow, g.fh, g.fw, g.sh, g.sw, g.padTop, g.padLeft);
  return out;
}

/**
 * One pass of the batch-norm gradient (x, dy [..., C]; mean, k = scale/√(var+ε) [C]):
 * [dx = dy·k, s1 = Σ dy, s2 = Σ dy·(x − mean)] (sums over every axis but the last).
 */
export function batchNormGrad(x: tf.TensorInfo, dy: tf.TensorInfo, mean: tf.TensorInfo, k: tf.TensorInfo): tf.TensorInfo[] {
  const be = backend();
  const fns = kernels(be);
  const c = x.shape[x.shape.length - 1];
  const dx = be.makeOutput(x.shape.slice(), 'float32');
  const s1 = be.makeOutput([c], 'float32');
  const s2 = be.makeOutput([c], 'float32');
  fns.batchnorm_grad(offset(be, x), offset(be, dy), offset(be, mean), offset(be, k), offset(be, dx), offset(be, s1), offset(be, s2), size(x.shape) / c, c);
  return [dx, s1, s2];
}

interface AdamConstants {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

/**
 * One Adam step of a variable: [w1, m1, v1] from the value w, moments m and v, gradient g (same
 * shape) and the bias corrections c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ (scalars), with tfjs-core
 * AdamOptimizer's float32 operations in its order.
 */
export function adamUpdate(
  w: tf.TensorInfo,
  m: tf.TensorInfo,
  v: tf.TensorInfo,
  g: tf.TensorInfo,
  c1: tf.TensorInfo,
  c2: tf.TensorInfo,
  k: AdamConstants,
): tf.TensorInfo[] {
  const n = size(w.shape);
  for (const [name, t] of [
    ['m', m],
    ['v', v],
    ['g', g],
  ] as const) {
    if (size(t.shape) !== n) throw new Error(`adamUpdate: ${name} [${t.shape}] does not match the value [${w.shape}]`);
  }
  const be = backend();
  const fns = kernels(be);
  const out = [w, m, v].map(() => be.makeOutput(w.shape.slice(), 'float32'));
  fns.adam_update(
    offset(be, w),
    offset(be, m),
    offset(be, v),
    offset(be, g),
    offset(be, out[0]),
    offset(be, out[1]),
    offset(be, out[2]),
    n,
    k.beta1,
    1 - k.beta1,
    k.beta2,
    1 - k.beta2,
    offset(be, c1),
    offset(be, c2),
    k.epsilon,
    -k.learningRate,
  );
  return out;
}
