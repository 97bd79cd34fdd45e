/**
 * ResNet50 as `keras.applications.ResNet50` builds it (keras/applications/resnet.py, the names of
 * the `resnet/` weight files: `conv1_conv`, `conv2_block1_0_conv`, …, `conv5_block3_out`): convs
 * with bias, batch norm ε = 1.001e-5, bottleneck blocks whose first block of each stack has a
 * projection shortcut (`_0_conv`/`_0_bn`). The older keras-applications file with `res2a_branch2a`
 * names does not match these names. Input: caffe preprocessing (BGR, ImageNet mean subtracted).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { activation, apply, batchNorm, conv, zeros, type KerasAppOptions } from './layers.ts';

type SymbolicTensor = tfl.SymbolicTensor;

const EPS = 1.001e-5;

export interface BottleneckArgs {
  filters: number;
  stride: number;
  /** Projection shortcut (1×1 conv + BN, `_0_conv`/`_0_bn`) instead of the identity. */
  convShortcut: boolean;
  /** e.g. 'conv3_block1'. */
  name: string;
}

/** Keras `resnet.block1`: 1×1 (stride) → 3×3 → 1×1 (4·filters) + shortcut, ReLU. */
export function bottleneckBlock(x: SymbolicTensor, a: BottleneckArgs): SymbolicTensor {
  let shortcut = x;
  if (a.convShortcut) {
    shortcut = conv(x, { filters: 4 * a.filters, kernel: 1, strides: a.stride, name: `${a.name}_0_conv` });
    shortcut = batchNorm(shortcut, `${a.name}_0_bn`, { epsilon: EPS });
  }
  let y = conv(x, { filters: a.filters, kernel: 1, strides: a.stride, name: `${a.name}_1_conv` });
  y = batchNorm(y, `${a.name}_1_bn`, { epsilon: EPS });
  y = activation(y, 'relu', `${a.name}_1_relu`);
  y = conv(y, { filters: a.filters, kernel: 3, padding: 'same', name: `${a.name}_2_conv` });
  y = batchNorm(y, `${a.name}_2_bn`, { epsilon: EPS });
  y = activation(y, 'relu', `${a.name}_2_relu`);
  y = conv(y, { filters: 4 * a.filters, kernel: 1, name: `${a.name}_3_conv` });
  y = batchNorm(y, `${a.name}_3_bn`, { epsilon: EPS });
  y = apply(tfl.layers.add({ name: `${a.name}_add` }), [shortcut, y]);
  return activation(y, 'relu', `${a.name}_out`);
}

function stack(x: SymbolicTensor, filters: number, blocks: number, stride1: number, name: string): SymbolicTensor {
  x = bottleneckBlock(x, { filters, stride: stride1, convShortcut: true, name: `${name}_block1` });
  for (let i = 2; i <= blocks; i++) x = bottleneckBlock(x, { filters, stride: 1, convShortcut: false, name: `${name}_block${i}` });
  return x;
}

export function buildResNet50(opts: KerasAppOptions): tfl.LayersModel {
  const input = tfl.input({ shape: [opts.inputSize, opts.inputSize, 3], name: 'input_1' });
  let x: SymbolicTensor = apply(
    tfl.layers.zeroPadding2d({
      padding: [
        [3, 3],
        [3, 3],
      ],
      name: 'conv1_pad',
    }),
    input,
  );
  x = conv(x, { filters: 64, kernel: 7, strides: 2, name: 'conv1_conv' });
  x = batchNorm(x, 'conv1_bn', { epsilon: EPS });
  x = activation(x, 'relu', 'conv1_relu');
  x = apply(
    tfl.layers.zeroPadding2d({
      padding: [
        [1, 1],
        [1, 1],
      ],
      name: 'pool1_pad',
    }),
    x,
  );
  x = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }), x);
  x = stack(x, 64, 3, 1, 'conv2');
  x = stack(x, 128, 4, 2, 'conv3');
  x = stack(x, 256, 6, 2, 'conv4');
  x = stack(x, 512, 3, 2, 'conv5');
  if (opts.includeTop) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tfl.layers.dense({ units: opts.classes ?? 1000, activation: 'softmax', kernelInitializer: zeros(), name: 'predictions' }), x);
  } else if (opts.pool ?? true) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  }
  return tfl.model({ inputs: input, outputs: x, name: 'resnet50' });
}
