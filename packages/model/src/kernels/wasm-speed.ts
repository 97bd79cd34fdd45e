/**
 * Faster wasm kernels for what a training step spends time on besides convolutions.
 *
 * `Identity` without a copy: tfjs clones every tensor it saves for the backward pass, and wasm's
 * Identity copies the data (160 copies, 7 % of a step above block_9_add); tensors are immutable,
 * so the clone shares the data as the cpu backend's Identity and wasm's own Reshape do.
 *
 * `Sum` and `Mean` over every axis but the last (the bias gradients: 12 % of that step; batch-norm
 * moments of a CNN trained from scratch: 14 % of its step), or more generally over a run of axes
 * that ends before the last (global average pooling), as one SIMD pass; other reductions use
 * wasm's own kernels. The gradient of such a Mean is one SIMD broadcast too (tfjs's formula fills
 * a tensor of ones, multiplies and divides at the input's full size).
 *
 * A faster wasm `Tile`, the largest single cost of a training step there (tf.profile on
 * MobileNetV2's top blocks: 461 of ~1,300 ms): batch-norm gradients broadcast per-channel vectors
 * to the full activation shape, and wasm's Tile goes element by element. Here it is a broadcasting
 * add. (Sum/Mean over leading axes as a matMul with a row of ones was tried and is slower: wasm's
 * matMul with one row is slow.) Other dtypes call the original wasm kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type MiddleSplit, middleBroadcastDiv, middleSum } from './simd.ts';

type KernelFunc = tf.KernelConfig['kernelFunc'];

function asTensor(t: tf.TensorInfo | undefined): tf.Tensor {
  if (t == null) throw new Error('project wasm kernel: missing input');
  return t instanceof tf.Tensor ? t : tf.engine().makeTensorFromTensorInfo(t);
}

/** tile(x, reps) as a broadcast: out viewed as [r0, d0, r1, d1, ...] = x viewed as [1, d0, 1, d1, ...]. */
function tileViaBroadcast(x: tf.Tensor, reps: number[]): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape;
    const outShape = d.map((n, i) => n * reps[i]);
    if (d.every((n, i) => reps[i] === 1 || n === 1)) return tf.add(x, tf.zeros(outShape, x.dtype));
    const big: number[] = [];
    const small: number[] = [];
    d.forEach((n, i) => {
      if (reps[i] !== 1) {
        big.push(reps[i]);
        small.push(1);
      }
      big.push(n);
      small.push(n);
    });
    return tf.reshape(tf.add(tf.reshape(x, small), tf.zeros(big, x.dtype)), outShape);
  });
}

let registered = false;

/**
 * `shape` viewed as [A, M, N] when the reduction axes are a run that ends just before the last axis
 * ([s, …, rank−2]: the leading axes when s = 0, height and width of NHWC when s = 1), else null.
 */
export function middleSplit(shape: readonly number[], axis: number | number[]): (MiddleSplit & { axes: number[] }) | null {
  const rank = shape.length;
  if (rank < 2) return null;
  const axes = tf.util.parseAxisParam(axis, shape as number[]).sort((a, b) => a - b);
  if (axes.length === 0 || axes[axes.length - 1] !== rank - 2 || !axes.every((a, i) => a === axes[0] + i)) return null;
  const prod = (s: readonly number[]) => s.reduce((p, v) => p * v, 1);
  return { axes, outer: prod(shape.slice(0, axes[0])), reduced: prod(shape.slice(axes[0], rank - 1)), inner: shape[rank - 1] };
}

const MEAN_GRAD_KERNEL = 'MriMeanGrad';

/** Mean's gradient as one broadcast on wasm where the SIMD Mean applies; tfjs's formula elsewhere. */
function registerMeanGradient(): void {
  const original = tf.getGradient(tf.Mean);
  if (!original) throw new Error('tfjs-core registers no gradient for Mean');
  tf.registerKernel({
    kernelName: MEAN_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const a = attrs as unknown as MiddleSplit & { xShape: number[] };
      return middleBroadcastDiv(inputs.dy as tf.TensorInfo, a, a.xShape, a.reduced);
    },
  });
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const x = (saved as tf.Tensor[])[0];
      const d = dy as tf.Tensor;
      const split = x.dtype === 'float32' && d.dtype === 'float32' ? middleSplit(x.shape, (attrs as { axis: number | number[] }).axis) : null;
      if (tf.getBackend() !== 'wasm' || !split) return original.gradFunc(dy, saved, attrs);
      const { outer, reduced, inner } = split;
      return { x: () => tf.engine().runKernel(MEAN_GRAD_KERNEL, { dy: d }, { outer, reduced, inner, xShape: x.shape }) as tf.Tensor };
    },
  });
}

/**
 * Replace wasm's Tile, and (with `simd`, the default) Identity and Sum, after the wasm backend was
 * imported. Idempotent.
 */
export function registerWasmSpeedKernels(options: { simd?: boolean } = {}): void {
  if (registered) return;
  const original = (name: string): KernelFunc => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`wasm backend has no ${name} kernel to wrap (import the wasm backend first)`);
    return k.kernelFunc;
  };
  const tile = original(tf.Tile);
  const replace = (cfg: tf.KernelConfig) => {
    const old = tf.getKernel(cfg.kernelName, 'wasm');
    tf.unregisterKernel(cfg.kernelName, 'wasm');
    tf.registerKernel({ ...cfg, setupFunc: old?.setupFunc, disposeFunc: old?.disposeFunc });
  };
  replace({
    kernelName: tf.Tile,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = asTensor(args.inputs.x);
      if (x.dtype !== 'float32' && x.dtype !== 'int32') return tile(args);
      return tileViaBroadcast(x, (args.attrs as unknown as { reps: number[] }).reps);
    },
  });
  if (options.simd ?? true) {
    const identity = original(tf.Identity);
    const reductions = { [tf.Sum]: original(tf.Sum), [tf.Mean]: original(tf.Mean) };
    replace({
      kernelName: tf.Identity,
      backendName: 'wasm',
      kernelFunc: (args) => {
        const x = args.inputs.x as tf.TensorInfo;
        if (x.dtype === 'string') return identity(args);
        (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
      },
    });
    for (const [name, own] of Object.entries(reductions)) {
      replace({
        kernelName: name,
        backendName: 'wasm',
        kernelFunc: (args) => {
          const x = args.inputs.x as tf.TensorInfo;
          const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
          const split = x.dtype === 'float32' ? middleSplit(x.shape, axis) : null;
          if (!split) return own(args);
          const outShape = keepDims ? x.shape.map((d, i) => (split.axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !split.axes.includes(i));
          return middleSum(x, split, outShape, name === tf.Mean);
        },
      });
    }
    registerMeanGradient();
  }
  registered = true;
}
