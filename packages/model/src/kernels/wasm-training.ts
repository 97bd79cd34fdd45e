/**
 * Registers, for the wasm backend, the backprop kernels it lacks so that convolution nets can
 * train there: Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter and
 * DepthwiseConv2dNativeBackpropInput, composed from kernels wasm has (see composite.ts). It also
 * replaces wasm's own Conv2DBackpropInput, which is 5–10× slower than the same gradient computed
 * with its forward (XNNPACK) Conv2D.
 * Call it AFTER importing '@tensorflow/tfjs-backend-wasm' (otherwise the backend's own kernel
 * registrations would run later and win). Idempotent.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  conv2dBackpropFilterFast,
  conv2dBackpropInputViaConv,
  depthwiseBackpropFilterViaConv,
  depthwiseBackpropInputComposite,
} from './composite.ts';
import { registerWasmSpeedKernels } from './wasm-speed.ts';

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
      return depthwiseBackpropFilterViaConv(
        asTensor(inputs.x) as tf.Tensor4D,
        asTensor(inputs.dy) as tf.Tensor4D,
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
      return depthwiseBackpropInputComposite(
        asTensor(inputs.dy) as tf.Tensor4D,
        asTensor(inputs.filter) as tf.Tensor4D,
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
      const out = conv2dBackpropInputViaConv(
        dy,
        asTensor(inputs.filter) as tf.Tensor4D,
        shape,
        a.strides as Pair,
        a.pad as Pad,
        a.dimRoundingMode as Rounding,
      );
      if (!nchw) return out;
      dy.dispose();
      const t = tf.transpose(out, [0, 3, 1, 2]);
      out.dispose();
      return t;
    },
  },
];

let registered = false;

/**
 * Register the project's wasm training kernels (after the wasm backend was imported), and the
 * faster Tile/Sum/Mean of wasm-speed.ts.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registerWasmSpeedKernels();
  for (const cfg of configs) {
    if (tf.getKernel(cfg.kernelName, 'wasm')) tf.unregisterKernel(cfg.kernelName, 'wasm');
    tf.registerKernel(cfg);
  }
  registered = true;
}
