/**
 * Registers, for the wasm backend, the backprop kernels it lacks so that convolution nets can
 * train there: Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter and
 * DepthwiseConv2dNativeBackpropInput. The common cases (NHWC conv filter gradients, depthwise
 * gradients with channel multiplier 1) run as WebAssembly SIMD loops on the backend's heap
 * (simd.ts); the others are composed from kernels wasm has (composite.ts). It also replaces wasm's
 * own Conv2DBackpropInput, which is 5–10× slower than the same gradient computed with its forward
 * (XNNPACK) Conv2D, and the gradients of Relu and ClipByValue (ReLU6), whose tfjs formulas
 * (step/mul, greaterEqual/lessEqual/logicalAnd/where) took a third of a MobileNetV2 training step
 * on wasm, with one fused SIMD pass each, likewise FusedBatchNorm's gradient, and wasm's slow
 * MaxPoolGrad.
 * `MRI_WASM_KERNELS=composite` (read at registration) keeps the composites everywhere, and
 * `MRI_WASM_KERNELS=unfused` the SIMD kernels without the fused convolutions (fused-conv.ts) and
 * the fused Adam, for benchmarks that compare them.
 * Call it AFTER importing '@tensorflow/tfjs-backend-wasm' (otherwise the backend's own kernel
 * registrations would run later and win). Idempotent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterFast, conv2dBackpropInputViaConv, depthwiseBackpropFilterViaConv, depthwiseBackpropInputComposite } from './composite.ts';
import { registerFusedConvKernels } from './fused-conv.ts';
import { registerWasmSpeedKernels } from './wasm-speed.ts';
import {
  adamUpdate,
  batchNormGrad,
  clipGrad,
  convFilterGrad,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  matmulTN,
  maxPoolGrad,
  reluGrad,
  type DepthwiseGeometry,
} from './simd.ts';

type Attrs = Record<string, unknown>;
type Pair = number | [number, number];
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

function checkDilation(kernel: string, attrs: Attrs): void {
  const d = attrs.dilations as Pair | undefined;
  if (d == null) return;
  const [a, b] = typeof d === 'number' ? [d, d] : d;
  if (a !== 1 || b !== 1) throw new Error(`${kernel} (project wasm kernel): dilations ${a}x${b} not supported, only 1`);
}

function asTensor(t: tf.TensorInfo | undefined): tf.Tensor {
  if (t == null) throw new Error('project wasm kernel: missing input');
  // Kernels are handed the Tensor objects the op was called with.
  return t instanceof tf.Tensor ? t : tf.engine().makeTensorFromTensorInfo(t);
}

/** Geometry of a depthwise conv (multiplier 1, NHWC), or null where the SIMD kernels do not apply. */
function depthwiseGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode: Rounding,
): DepthwiseGeometry | null {
  if (filterShape[3] !== 1) return null;
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, true, 'channelsLast');
  return {
    n: xShape[0],
    h: xShape[1],
    w: xShape[2],
    c: xShape[3],
    oh: info.outHeight,
    ow: info.outWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** True for a 1×1, stride-1, unpadded conv: its filter gradient is xᵀ·dy. */
function isPointwise(xShape: number[], filterShape: number[], strides: Pair, pad: Pad, dimRoundingMode: Rounding): boolean {
  if (filterShape[0] !== 1 || filterShape[1] !== 1) return false;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return (
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight === xShape[1] &&
    info.outWidth === xShape[2]
  );
}

let useSimd = true;

/** Kernel names this module provides for wasm. */
export const WASM_TRAINING_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Conv2DBackpropInput',
] as const;

const configs: tf.KernelConfig[] = [
  {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const a = attrs as Attrs;
      let x = asTensor(inputs.x) as tf.Tensor4D;
      let dy = asTensor(inputs.dy) as tf.Tensor4D;
      const nchw = a.dataFormat === 'NCHW';
      const fs = a.filterShape as [number, number, number, number];
      if (useSimd && !nchw && x.dtype === 'float32') {
        if (isPointwise(x.shape, fs, a.strides as Pair, a.pad as Pad, a.dimRoundingMode as Rounding)) return matmulTN(x, dy, fs[2], fs[3], fs);
        const info = tf.backend_util.computeConv2DInfo(x.shape, fs, a.strides as Pair, 1, a.pad as Pad, a.dimRoundingMode as Rounding, false, 'channelsLast');
        return convFilterGrad(x, dy, {
          n: x.shape[0],
          h: x.shape[1],
          w: x.shape[2],
          c: x.shape[3],
          cout: fs[3],
          oh: info.outHeight,
          ow: info.outWidth,
          fh: info.filterHeight,
          fw: info.filterWidth,
          sh: info.strideHeight,
          sw: info.strideWidth,
          padTop: info.padInfo.top,
          padLeft: info.padInfo.left,
        });
      }
      if (nchw) {
        x = tf.transpose(x, [0, 2, 3, 1]);
        dy = tf.transpose(dy, [0, 2, 3, 1]);
      }
      const out = conv2dBackpropFilterFast(
        x,
        dy,
        a.filterShape as [number, number, number, number],
        a.strides as Pair,
        a.pad as Pad,
        a.dimRoundingMode as Rounding,
      );
      if (nchw) {
        x.dispose();
        dy.dispose();
      }
      return out;
    },
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const a = attrs as Attrs;
      checkDilation('DepthwiseConv2dNativeBackpropFilter', a);
      const x = asTensor(inputs.x) as tf.Tensor4D;
      const dy = asTensor(inputs.dy) as tf.Tensor4D;
      const g =
        useSimd && x.dtype === 'float32'
          ? depthwiseGeometry(x.shape, a.filterShape as [number, number, number, number], a.strides as Pair, a.pad as Pad, a.dimRoundingMode as Rounding)
          : null;
      if (g) return depthwiseFilterGrad(x, dy, g);
      return depthwiseBackpropFilterViaConv(
        x,
        dy,
        a.filterShape as [number, number, number, number],
        a.strides as Pair,
        a.pad as Pad,
        a.dimRoundingMode as Rounding,
      );
    },
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const a = attrs as Attrs;
      checkDilation('DepthwiseConv2dNativeBackpropInput', a);
      const dy = asTensor(inputs.dy) as tf.Tensor4D;
      const filter = asTensor(inputs.filter) as tf.Tensor4D;
      const g =
        useSimd && dy.dtype === 'float32'
          ? depthwiseGeometry(a.inputShape as [number, number, number, number], filter.shape, a.strides as Pair, a.pad as Pad, a.dimRoundingMode as Rounding)
          : null;
      if (g) return depthwiseInputGrad(dy, filter, g);
      return depthwiseBackpropInputComposite(
        dy,
        filter,
        a.inputShape as [number, number, number, number],
        a.strides as Pair,
        a.pad as Pad,
        a.dimRoundingMode as Rounding,
      );
    },
  },
  {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const a = attrs as Attrs;
      checkDilation('Conv2DBackpropInput', a);
      const nchw = a.dataFormat === 'NCHW';
      let dy = asTensor(inputs.dy) as tf.Tensor4D;
      let shape = a.inputShape as [number, number, number, number];
      if (nchw) {
        dy = tf.transpose(dy, [0, 2, 3, 1]);
        shape = [shape[0], shape[2], shape[3], shape[1]];
      }
      const out = conv2dBackpropInputViaConv(dy, asTensor(inputs.filter) as tf.Tensor4D, shape, a.strides as Pair, a.pad as Pad, a.dimRoundingMode as Rounding);
      if (!nchw) return out;
      dy.dispose();
      const t = tf.transpose(out, [0, 3, 1, 2]);
      out.dispose();
      return t;
    },
  },
];

/** wasm's MaxPoolGrad replaced (18 % of a `cnn` training step at 128 px): the SIMD module's. */
function registerMaxPoolGrad(): void {
  const own = tf.getKernel(tf.MaxPoolGrad, 'wasm');
  const cfg: tf.KernelConfig = {
    kernelName: tf.MaxPoolGrad,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
      const a = args.attrs as unknown as { filterSize: Pair; strides: Pair; pad: Pad; dimRoundingMode?: Rounding };
      if (input.dtype !== 'float32' || input.shape.length !== 4) {
        if (!own) throw new Error('MaxPoolGrad (project wasm kernel): float32 NHWC only');
        return own.kernelFunc(args);
      }
      const s = input.shape as [number, number, number, number];
      const info = tf.backend_util.computePool2DInfo(s, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      return maxPoolGrad(input, dy, {
        n: s[0],
        h: s[1],
        w: s[2],
        c: s[3],
        oh: info.outHeight,
        ow: info.outWidth,
        fh: info.filterHeight,
        fw: info.filterWidth,
        sh: info.strideHeight,
        sw: info.strideWidth,
        padTop: info.padInfo.top,
        padLeft: info.padInfo.left,
      });
    },
  };
  if (own) tf.unregisterKernel(tf.MaxPoolGrad, 'wasm');
  tf.registerKernel({ ...cfg, setupFunc: own?.setupFunc, disposeFunc: own?.disposeFunc });
}

/** Kernels (wasm only) behind the fused Relu / ClipByValue / FusedBatchNorm gradients and Adam. */
const RELU_GRAD_KERNEL = 'MriReluGrad';
const CLIP_GRAD_KERNEL = 'MriClipByValueGrad';
const BATCHNORM_GRAD_KERNEL = 'MriBatchNormGrad';
/** One Adam step of a variable (src/train/adam.ts): inputs w, m, v, g, c1, c2; attrs beta1, beta2, epsilon, learningRate. */
export const ADAM_KERNEL = 'MriAdam';

const maskKernels: tf.KernelConfig[] = [
  {
    kernelName: RELU_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs }) => reluGrad(inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo),
  },
  {
    kernelName: CLIP_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const a = attrs as { clipValueMin: number; clipValueMax: number };
      return clipGrad(inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, a.clipValueMin, a.clipValueMax);
    },
  },
  {
    kernelName: BATCHNORM_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs }) => batchNormGrad(inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, inputs.mean as tf.TensorInfo, inputs.k as tf.TensorInfo),
  },
  {
    kernelName: ADAM_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const i = inputs as Record<'w' | 'm' | 'v' | 'g' | 'c1' | 'c2', tf.TensorInfo>;
      return adamUpdate(i.w, i.m, i.v, i.g, i.c1, i.c2, attrs as unknown as { beta1: number; beta2: number; epsilon: number; learningRate: number });
    },
  },
];

/**
 * FusedBatchNorm's gradient in one SIMD pass on wasm (per-channel statistics, float32), instead
 * of tfjs's formula: a dozen full-size broadcasting ops (sub, mul, tile, sum) per layer, 30 % of a
 * full MobileNetV2 step. Other backends and shapes use the original.
 */
function registerBatchNormGradient(): void {
  const original = tf.getGradient(tf.FusedBatchNorm);
  if (!original) throw new Error('tfjs-core registers no gradient for FusedBatchNorm');
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved as (tf.Tensor | null)[];
      const d = dy as tf.Tensor;
      const c = x ? x.shape[x.rank - 1] : -1;
      const vec = (t: tf.Tensor | null) => t == null || (t.rank === 1 && t.shape[0] === c && t.dtype === 'float32');
      if (
        tf.getBackend() !== 'wasm' ||
        !x ||
        !mean ||
        !variance ||
        x.dtype !== 'float32' ||
        d.dtype !== 'float32' ||
        !vec(mean) ||
        !vec(variance) ||
        !vec(scale) ||
        !tf.util.arraysEqual(x.shape, d.shape)
      ) {
        return original.gradFunc(dy, saved, attrs);
      }
      const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      // Computed here, not in the closures: the engine runs each closure in its own tidy and may
      // dispose what one returns, while this scope (like tfjs's own formula's xMinusMean) lives
      // until the gradients are done.
      const rsqrt = tf.rsqrt(tf.add(variance, eps));
      const k = scale ? tf.mul(scale, rsqrt) : rsqrt;
      const [dx, s1, s2] = tf.engine().runKernel(BATCHNORM_GRAD_KERNEL, { x, dy: d, mean, k }, {}) as unknown as tf.Tensor[];
      return {
        x: () => tf.clone(dx),
        mean: () => tf.neg(tf.mul(k, s1)),
        variance: () => tf.mul(tf.mul(k, s2), tf.mul(tf.square(rsqrt), -0.5)),
        scale: () => tf.mul(s2, rsqrt),
        offset: () => tf.clone(s1),
      };
    },
  });
}

/**
 * Gradients of Relu and ClipByValue that run one fused kernel on wasm (float32, same shapes) and
 * tfjs's own formula elsewhere (the gradient registry is global, not per backend).
 */
function registerMaskGradients(): void {
  const wrap = (kernelName: string, fused: string, attrsOf: (attrs: tf.NamedAttrMap) => tf.NamedAttrMap) => {
    const original = tf.getGradient(kernelName);
    if (!original) throw new Error(`tfjs-core registers no gradient for ${kernelName}`);
    tf.registerGradient({
      ...original,
      gradFunc: (dy, saved, attrs) => {
        const x = (saved as tf.Tensor[])[0];
        const d = dy as tf.Tensor;
        if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || d.dtype !== 'float32' || !tf.util.arraysEqual(x.shape, d.shape)) {
          return original.gradFunc(dy, saved, attrs);
        }
        return { x: () => tf.engine().runKernel(fused, { x, dy: d }, attrsOf(attrs)) as tf.Tensor };
      },
    });
  };
  wrap(tf.Relu, RELU_GRAD_KERNEL, () => ({}));
  wrap(tf.ClipByValue, CLIP_GRAD_KERNEL, (a) => ({ clipValueMin: a.clipValueMin, clipValueMax: a.clipValueMax }));
}

let registered = false;

/**
 * Register the project's wasm training kernels (after the wasm backend was imported), and the
 * faster Tile of wasm-speed.ts.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  const mode = process.env.MRI_WASM_KERNELS?.trim() || 'fast';
  if (!['fast', 'unfused', 'composite'].includes(mode)) throw new Error(`MRI_WASM_KERNELS=${mode}: use fast (or leave it unset), unfused or composite`);
  useSimd = mode !== 'composite';
  const fuse = mode === 'fast';
  registerWasmSpeedKernels({ simd: useSimd });
  for (const cfg of configs) {
    if (tf.getKernel(cfg.kernelName, 'wasm')) tf.unregisterKernel(cfg.kernelName, 'wasm');
    tf.registerKernel(cfg);
  }
  if (useSimd) {
    for (const cfg of maskKernels) if ((fuse || cfg.kernelName !== ADAM_KERNEL) && !tf.getKernel(cfg.kernelName, 'wasm')) tf.registerKernel(cfg);
    registerMaskGradients();
    registerBatchNormGradient();
    registerMaxPoolGrad();
    if (fuse) registerFusedConvKernels();
  }
  registered = true;
}
