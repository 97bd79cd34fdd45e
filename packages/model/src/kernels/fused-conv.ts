/**
 * Convolutions with their bias and activation in one kernel on wasm, trainable: `MriConv2D` and
 * `MriDepthwiseConv2D` run the wasm backend's own FusedConv2D / FusedDepthwiseConv2D (XNNPACK:
 * bias and relu / relu6 applied in the GEMM's output pass) and carry their own gradient, which
 * tfjs's fused ops lack for relu6 (under a gradient tape tfjs splits them into conv, add, relu and
 * clipByValue: four more full-size passes forward and back per layer). The gradient masks dy with
 * the saved output once (SIMD, relu6: 0 < y < 6), then runs the registered backprop kernels:
 * Conv2DBackpropInput / Filter (or the depthwise ones) for the inputs the tape asks for, and a
 * column sum for the bias. Padding may be explicit (a zero-padding layer folded into a depthwise
 * convolution). The gradient differs from the unfused one only where a relu6 input was exactly 6.
 * wasm only, float32 NHWC, dilation 1; `fusedConvAvailable()` says whether they are registered.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activationGradFromOutput } from './simd.ts';

export type FusedActivation = 'linear' | 'relu' | 'relu6';
type Pad = 'valid' | 'same' | tf.backend_util.ExplicitPadding;

export interface FusedConvAttrs {
  strides: [number, number];
  pad: Pad;
  activation: FusedActivation;
}

const CONV = 'MriConv2D';
const DEPTHWISE = 'MriDepthwiseConv2D';
const ACT_GRAD = 'MriActivationGrad';

const ACTIVATION_LIMIT: Record<Exclude<FusedActivation, 'linear'>, number> = { relu: Number.POSITIVE_INFINITY, relu6: 6 };

/** The wasm backend's kernel `name` with this layer's attributes (NHWC, dilation 1, no rounding mode). */
function forward(name: string): tf.KernelConfig['kernelFunc'] {
  const own = tf.getKernel(name, 'wasm');
  if (!own) throw new Error(`wasm backend has no ${name} kernel (import the wasm backend first)`);
  return ({ inputs, attrs, backend }) => {
    const a = attrs as unknown as FusedConvAttrs;
    return own.kernelFunc({
      inputs,
      backend,
      attrs: {
        strides: a.strides,
        pad: a.pad,
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined,
        activation: a.activation,
        leakyreluAlpha: 0,
      } as unknown as tf.NamedAttrMap,
    });
  };
}

/** dy masked by the activation's derivative at the saved output (dy itself for linear). */
function maskedDy(dy: tf.Tensor, y: tf.Tensor, activation: FusedActivation): tf.Tensor {
  if (activation === 'linear') return dy;
  return tf.engine().runKernel(ACT_GRAD, { y, dy }, { hi: ACTIVATION_LIMIT[activation] }) as tf.Tensor;
}

function gradient(depthwise: boolean): tf.GradConfig {
  return {
    kernelName: depthwise ? DEPTHWISE : CONV,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as tf.Tensor[];
      const a = attrs as unknown as FusedConvAttrs;
      // In this scope, not in a closure: the engine disposes what each closure's tidy made.
      const dz = maskedDy(dy as tf.Tensor, y, a.activation);
      // The backprop kernels' attributes (no rounding mode; dilation 1 / NHWC).
      const common: tf.NamedAttrMap = depthwise
        ? { strides: a.strides, pad: a.pad, dilations: [1, 1] }
        : { strides: a.strides, pad: a.pad, dataFormat: 'NHWC' };
      const kernels = depthwise
        ? { input: tf.DepthwiseConv2dNativeBackpropInput, filter: tf.DepthwiseConv2dNativeBackpropFilter }
        : { input: tf.Conv2DBackpropInput, filter: tf.Conv2DBackpropFilter };
      return {
        x: () => tf.engine().runKernel(kernels.input, { dy: dz, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
        filter: () => tf.engine().runKernel(kernels.filter, { x, dy: dz }, { ...common, filterShape: filter.shape }) as tf.Tensor,
        bias: () => tf.sum(dz, [0, 1, 2]),
      };
    },
  };
}

let registered = false;

/** Register the fused kernels and their gradients (after the wasm backend and its SIMD kernels). Idempotent. */
export function registerFusedConvKernels(): void {
  if (registered) return;
  tf.registerKernel({ kernelName: CONV, backendName: 'wasm', kernelFunc: forward(tf.FusedConv2D) });
  tf.registerKernel({ kernelName: DEPTHWISE, backendName: 'wasm', kernelFunc: forward(tf.FusedDepthwiseConv2D) });
  tf.registerKernel({
    kernelName: ACT_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => activationGradFromOutput(inputs.y as tf.TensorInfo, inputs.dy as tf.TensorInfo, (attrs as { hi: number }).hi),
  });
  tf.registerGradient(gradient(false));
  tf.registerGradient(gradient(true));
  registered = true;
}

/** True when the fused kernels can run: wasm is the active backend and they are registered. */
export function fusedConvAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(CONV, 'wasm') != null;
}

/**
 * activation(conv2d(x, filter) + bias), or the depthwise convolution (channel multiplier 1) with
 * `depthwise`; x [n, h, w, c] float32, filter [fh, fw, c, cout] ([fh, fw, c, 1]), bias [cout] or null.
 */
export function fusedConv(x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | null, attrs: FusedConvAttrs, depthwise: boolean): tf.Tensor4D {
  const inputs: tf.NamedTensorMap = bias ? { x, filter, bias } : { x, filter };
  return tf.engine().runKernel(depthwise ? DEPTHWISE : CONV, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
