/**
 * EfficientNetB0 as `keras.applications.EfficientNetB0` builds it (Keras 2.11+ / Keras 3 code,
 * `weights="imagenet"` variant): the same layer names, layer order and weights per layer, so a
 * Keras `efficientnetb0_notop.h5` loads by layer name.
 *
 * Input: raw pixels in [0, 255] — the model carries its own preprocessing: `rescaling` (1/255),
 * `normalization` (ImageNet mean and the file's `variance`, which holds the RGB standard deviations,
 * see tensorflow/tensorflow#49930) and `rescaling_1` (1/√stddev per channel, Keras's fix for it).
 * Blocks: MBConv with squeeze-excitation (swish), drop-connect as Dropout with noise shape
 * [N,1,1,1] (identity at inference).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { activation, apply, batchNorm, conv, correctPad, KerasRescaling, Normalization, zeros, type KerasAppOptions } from './layers.ts';

type SymbolicTensor = tfl.SymbolicTensor;

export const IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225];

interface BlockArgs {
  kernel: number;
  repeats: number;
  filtersIn: number;
  filtersOut: number;
  expandRatio: number;
  strides: number;
  seRatio: number;
}

/** Keras's DEFAULT_BLOCKS_ARGS (id_skip true everywhere). */
const BLOCKS: BlockArgs[] = [
  { kernel: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expandRatio: 1, strides: 1, seRatio: 0.25 },
  { kernel: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernel: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernel: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernel: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expandRatio: 6, strides: 1, seRatio: 0.25 },
  { kernel: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernel: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expandRatio: 6, strides: 1, seRatio: 0.25 },
];

const DROP_CONNECT_RATE = 0.2;

export interface MbConvArgs {
  filtersIn: number;
  filtersOut: number;
  kernel: number;
  strides: number;
  expandRatio: number;
  seRatio: number;
  dropRate: number;
  /** Layer name prefix, e.g. 'block2a_'. */
  name: string;
}

/** One MBConv block (Keras `efficientnet.block`, activation swish, id_skip true). */
export function mbConvBlock(inputs: SymbolicTensor, a: MbConvArgs): SymbolicTensor {
  const filters = a.filtersIn * a.expandRatio;
  let x = inputs;
  if (a.expandRatio !== 1) {
    x = conv(x, { filters, kernel: 1, padding: 'same', useBias: false, name: `${a.name}expand_conv` });
    x = batchNorm(x, `${a.name}expand_bn`);
    x = activation(x, 'swish', `${a.name}expand_activation`);
  }
  let pad: 'same' | 'valid' = 'same';
  if (a.strides === 2) {
    x = apply(tfl.layers.zeroPadding2d({ padding: correctPad(x, a.kernel), name: `${a.name}dwconv_pad` }), x);
    pad = 'valid';
  }
  x = apply(
    tfl.layers.depthwiseConv2d({
      kernelSize: a.kernel,
      strides: a.strides,
      padding: pad,
      useBias: false,
      depthwiseInitializer: zeros(),
      name: `${a.name}dwconv`,
    }),
    x,
  );
  x = batchNorm(x, `${a.name}bn`);
  x = activation(x, 'swish', `${a.name}activation`);
  if (a.seRatio > 0 && a.seRatio <= 1) {
    const filtersSe = Math.max(1, Math.floor(a.filtersIn * a.seRatio));
    let se = apply(tfl.layers.globalAveragePooling2d({ name: `${a.name}se_squeeze` }), x);
    se = apply(tfl.layers.reshape({ targetShape: [1, 1, filters], name: `${a.name}se_reshape` }), se);
    se = conv(se, { filters: filtersSe, kernel: 1, padding: 'same', activation: 'swish', name: `${a.name}se_reduce` });
    se = conv(se, { filters, kernel: 1, padding: 'same', activation: 'sigmoid', name: `${a.name}se_expand` });
    x = apply(tfl.layers.multiply({ name: `${a.name}se_excite` }), [x, se]);
  }
  x = conv(x, { filters: a.filtersOut, kernel: 1, padding: 'same', useBias: false, name: `${a.name}project_conv` });
  x = batchNorm(x, `${a.name}project_bn`);
  if (a.strides === 1 && a.filtersIn === a.filtersOut) {
    if (a.dropRate > 0) {
      x = apply(tfl.layers.dropout({ rate: a.dropRate, noiseShape: [null as unknown as number, 1, 1, 1], name: `${a.name}drop` }), x);
    }
    x = apply(tfl.layers.add({ name: `${a.name}add` }), [x, inputs]);
  }
  return x;
}

/** EfficientNetB0 (image [0, 255] → top_activation, pooled `avg_pool` or the top). */
export function buildEfficientNetB0(opts: KerasAppOptions): tfl.LayersModel {
  const input = tfl.input({ shape: [opts.inputSize, opts.inputSize, 3], name: 'input_1' });
  let x: SymbolicTensor = apply(new KerasRescaling({ scale: 1 / 255, name: 'rescaling' }), input);
  x = apply(new Normalization({ axis: -1, name: 'normalization' }), x);
  x = apply(new KerasRescaling({ scale: IMAGENET_STDDEV_RGB.map((s) => 1 / Math.sqrt(s)), name: 'rescaling_1' }), x);
  x = apply(tfl.layers.zeroPadding2d({ padding: correctPad(x, 3), name: 'stem_conv_pad' }), x);
  x = conv(x, { filters: 32, kernel: 3, strides: 2, padding: 'valid', useBias: false, name: 'stem_conv' });
  x = batchNorm(x, 'stem_bn');
  x = activation(x, 'swish', 'stem_activation');
  const total = BLOCKS.reduce((s, b) => s + b.repeats, 0);
  let b = 0;
  BLOCKS.forEach((args, i) => {
    for (let j = 0; j < args.repeats; j++) {
      x = mbConvBlock(x, {
        filtersIn: j === 0 ? args.filtersIn : args.filtersOut,
        filtersOut: args.filtersOut,
        kernel: args.kernel,
        strides: j === 0 ? args.strides : 1,
        expandRatio: args.expandRatio,
        seRatio: args.seRatio,
        dropRate: (DROP_CONNECT_RATE * b) / total,
        name: `block${i + 1}${String.fromCharCode(97 + j)}_`,
      });
      b++;
    }
  });
  x = conv(x, { filters: 1280, kernel: 1, padding: 'same', useBias: false, name: 'top_conv' });
  x = batchNorm(x, 'top_bn');
  x = activation(x, 'swish', 'top_activation');
  if (opts.includeTop) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tfl.layers.dropout({ rate: 0.2, name: 'top_dropout' }), x);
    x = apply(tfl.layers.dense({ units: opts.classes ?? 1000, activation: 'softmax', kernelInitializer: zeros(), name: 'predictions' }), x);
  } else if (opts.pool ?? true) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  }
  return tfl.model({ inputs: input, outputs: x, name: 'efficientnetb0' });
}
