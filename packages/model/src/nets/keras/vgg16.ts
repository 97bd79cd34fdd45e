/**
 * VGG16 as `keras.applications.VGG16` builds it: blocks of 3×3 'same' ReLU convs (with bias)
 * named `block<b>_conv<i>`, each block closed by a 2×2 max pool `block<b>_pool`; the top is
 * `flatten`, `fc1`, `fc2`, `predictions`. Keras's `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`
 * loads by layer name. Input: caffe preprocessing (BGR, ImageNet mean subtracted, no scaling).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { apply, conv, LayerNamer, zeros, type KerasAppOptions } from './layers.ts';

type SymbolicTensor = tfl.SymbolicTensor;

/** Filters and conv count of VGG16's five blocks. */
const BLOCKS: [number, number][] = [
  [64, 2],
  [128, 2],
  [256, 3],
  [512, 3],
  [512, 3],
];

/** One VGG block: `convs` 3×3 same ReLU convs then a 2×2 stride-2 max pool. */
export function vggBlock(x: SymbolicTensor, block: number, filters: number, convs: number): SymbolicTensor {
  for (let i = 1; i <= convs; i++) {
    x = conv(x, { filters, kernel: 3, padding: 'same', activation: 'relu', name: `block${block}_conv${i}` });
  }
  return apply(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${block}_pool` }), x);
}

export function buildVgg16(opts: KerasAppOptions): tfl.LayersModel {
  const input = tfl.input({ shape: [opts.inputSize, opts.inputSize, 3], name: 'input_1' });
  let x: SymbolicTensor = input;
  BLOCKS.forEach(([filters, convs], i) => {
    x = vggBlock(x, i + 1, filters, convs);
  });
  if (opts.includeTop) {
    x = apply(tfl.layers.flatten({ name: 'flatten' }), x);
    x = apply(tfl.layers.dense({ units: 4096, activation: 'relu', kernelInitializer: zeros(), name: 'fc1' }), x);
    x = apply(tfl.layers.dense({ units: 4096, activation: 'relu', kernelInitializer: zeros(), name: 'fc2' }), x);
    x = apply(tfl.layers.dense({ units: opts.classes ?? 1000, activation: 'softmax', kernelInitializer: zeros(), name: 'predictions' }), x);
  } else if (opts.pool ?? true) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: new LayerNamer().next('global_average_pooling2d') }), x);
  }
  return tfl.model({ inputs: input, outputs: x, name: 'vgg16' });
}
