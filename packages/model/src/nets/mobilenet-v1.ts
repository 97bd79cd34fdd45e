/**
 * MobileNet (v1) as Keras 2.1.4's `keras.applications.MobileNet` builds it — the topology of
 * ../shared/weights/mobilenet_v1_0.75_224 (tfjs-models `mobilenet_v1_0.75_224`): `conv1` (3×3,
 * stride 2, 'same') then 13 depthwise-separable blocks `conv_dw_<i>` / `conv_pw_<i>`, each conv
 * without bias followed by batch norm (`_bn`, ε 1e-3) and ReLU6 (`_relu`), strides 2 at blocks 2, 4,
 * 6 and 12. Later Keras versions add `conv1_pad`/`conv_pad_<i>` ZeroPadding layers with 'valid'
 * strided convs: the same function and the same weights, so their .h5 files load by name too.
 *
 * The width multiplier α is read from the weights (`conv1` has 32·α filters); the depth multiplier
 * from `conv_dw_1`. Top (optional): `global_average_pooling2d_1` → `reshape_1` → `dropout` →
 * `conv_preds` (1×1 conv, bias) → `act_softmax` → `reshape_2`. Input: [-1, 1].
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '@mri-robust/core';
import { activation, apply, batchNorm, conv, zeros } from './keras/layers.ts';

type SymbolicTensor = tfl.SymbolicTensor;

/** Pointwise filters (before α) and depthwise stride of blocks 1–13. */
const BLOCKS: [number, number][] = [
  [64, 1],
  [128, 2],
  [128, 1],
  [256, 2],
  [256, 1],
  [512, 2],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [1024, 2],
  [1024, 1],
];

/** Pooled embedding layer of the no-top model and of the top (Keras 2.1.4's auto name). */
export const MOBILENET_V1_POOL = 'global_average_pooling2d_1';

export interface MobileNetV1Options {
  inputSize: number;
  /** Width multiplier (0.25, 0.5, 0.75, 1.0 in Keras's weights). */
  alpha: number;
  depthMultiplier?: number;
  includeTop?: boolean;
  classes?: number;
  /** Without the top: global average pooling at the end; default true. */
  pool?: boolean;
}

/** Keras: `filters = int(filters * alpha)`. */
const width = (filters: number, alpha: number) => Math.floor(filters * alpha);

export function buildMobileNetV1(opts: MobileNetV1Options): tfl.LayersModel {
  const { alpha } = opts;
  const dm = opts.depthMultiplier ?? 1;
  const input = tfl.input({ shape: [opts.inputSize, opts.inputSize, 3], name: 'input_1' });
  let x: SymbolicTensor = conv(input, { filters: width(32, alpha), kernel: 3, strides: 2, padding: 'same', useBias: false, name: 'conv1' });
  x = batchNorm(x, 'conv1_bn');
  x = activation(x, 'relu6', 'conv1_relu');
  BLOCKS.forEach(([filters, stride], i) => {
    const id = i + 1;
    x = apply(
      tfl.layers.depthwiseConv2d({
        kernelSize: 3,
        strides: stride,
        padding: 'same',
        depthMultiplier: dm,
        useBias: false,
        depthwiseInitializer: zeros(),
        name: `conv_dw_${id}`,
      }),
      x,
    );
    x = batchNorm(x, `conv_dw_${id}_bn`);
    x = activation(x, 'relu6', `conv_dw_${id}_relu`);
    x = conv(x, { filters: width(filters, alpha), kernel: 1, padding: 'same', useBias: false, name: `conv_pw_${id}` });
    x = batchNorm(x, `conv_pw_${id}_bn`);
    x = activation(x, 'relu6', `conv_pw_${id}_relu`);
  });
  if (opts.includeTop) {
    const classes = opts.classes ?? 1000;
    x = apply(tfl.layers.globalAveragePooling2d({ name: MOBILENET_V1_POOL }), x);
    x = apply(tfl.layers.reshape({ targetShape: [1, 1, width(1024, alpha)], name: 'reshape_1' }), x);
    x = apply(tfl.layers.dropout({ rate: 1e-3, name: 'dropout' }), x);
    x = conv(x, { filters: classes, kernel: 1, padding: 'same', name: 'conv_preds' });
    x = activation(x, 'softmax', 'act_softmax');
    x = apply(tfl.layers.reshape({ targetShape: [classes], name: 'reshape_2' }), x);
  } else if (opts.pool ?? true) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: MOBILENET_V1_POOL }), x);
  }
  return tfl.model({ inputs: input, outputs: x, name: `mobilenet_${alpha}_${opts.inputSize}` });
}

/** α, depth multiplier and top classes (null without `conv_preds`) from the weights' shapes. */
export function mobileNetV1Shape(
  shapes: (layer: string) => number[][] | undefined,
  file: string,
): { alpha: number; depthMultiplier: number; classes: number | null } {
  const conv1 = shapes('conv1');
  const dw1 = shapes('conv_dw_1');
  if (!conv1?.[0] || conv1[0].length !== 4) throw new UserError(`${file}: no weight 'conv1/kernel' [3, 3, 3, 32·α]: not MobileNet (v1) weights`);
  if (!dw1?.[0] || dw1[0].length !== 4) throw new UserError(`${file}: no weight 'conv_dw_1/depthwise_kernel': not MobileNet (v1) weights`);
  const alpha = conv1[0][3] / 32;
  const preds = shapes('conv_preds');
  return { alpha, depthMultiplier: dw1[0][3], classes: preds?.[0] ? preds[0][3] : null };
}
