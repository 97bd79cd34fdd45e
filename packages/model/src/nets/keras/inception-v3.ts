/**
 * InceptionV3 as `keras.applications.InceptionV3` builds it: `conv2d_bn` units (conv without bias,
 * batch norm without γ, ReLU) whose layers Keras leaves unnamed, so they carry Keras's automatic
 * names in creation order (`conv2d`, `conv2d_1`, …, `batch_normalization_93`, `activation_93`, as
 * tf.keras names them in a fresh session); the modules are `mixed0` … `mixed10` (and `mixed9_0`,
 * `mixed9_1`). Weight files saved by Keras 2.0 number the same layers from 1 (`conv2d_1` …
 * `conv2d_94`); the weight loader renumbers such auto-named families (see weights.ts).
 * Input: [-1, 1] (x / 127.5 − 1).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { apply, LayerNamer, zeros, type KerasAppOptions } from './layers.ts';

type SymbolicTensor = tfl.SymbolicTensor;

/** Layer-name prefixes Keras assigns automatically in InceptionV3 and that carry weights. */
export const INCEPTION_AUTO_NAMED = ['conv2d', 'batch_normalization'];

/** conv (no bias) → BN (no scale, ε 1e-3) → ReLU, auto-named through `namer`. */
function conv2dBn(
  namer: LayerNamer,
  x: SymbolicTensor,
  filters: number,
  rows: number,
  cols: number,
  opts: { padding?: 'same' | 'valid'; strides?: number } = {},
): SymbolicTensor {
  x = apply(
    tfl.layers.conv2d({
      filters,
      kernelSize: [rows, cols],
      strides: opts.strides ?? 1,
      padding: opts.padding ?? 'same',
      useBias: false,
      kernelInitializer: zeros(),
      name: namer.next('conv2d'),
    }),
    x,
  );
  x = apply(tfl.layers.batchNormalization({ axis: -1, scale: false, epsilon: 1e-3, name: namer.next('batch_normalization') }), x);
  return apply(tfl.layers.activation({ activation: 'relu', name: namer.next('activation') }), x);
}

const avgPool3 = (namer: LayerNamer, x: SymbolicTensor) =>
  apply(tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: namer.next('average_pooling2d') }), x);
const maxPool3 = (namer: LayerNamer, x: SymbolicTensor) => apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, name: namer.next('max_pooling2d') }), x);
const concat = (xs: SymbolicTensor[], name: string) => apply(tfl.layers.concatenate({ axis: -1, name }), xs);

/** Modules mixed0–mixed2 (35×35): 1×1, 1×1→5×5, 1×1→3×3→3×3 and avg-pool→1×1 (`poolFilters`). */
export function inceptionModuleA(namer: LayerNamer, x: SymbolicTensor, poolFilters: number, name: string): SymbolicTensor {
  const b1 = conv2dBn(namer, x, 64, 1, 1);
  let b5 = conv2dBn(namer, x, 48, 1, 1);
  b5 = conv2dBn(namer, b5, 64, 5, 5);
  let b3 = conv2dBn(namer, x, 64, 1, 1);
  b3 = conv2dBn(namer, b3, 96, 3, 3);
  b3 = conv2dBn(namer, b3, 96, 3, 3);
  const bp = conv2dBn(namer, avgPool3(namer, x), poolFilters, 1, 1);
  return concat([b1, b5, b3, bp], name);
}

/** Modules mixed4–mixed7 (17×17) with factorised 7×7 convs of width `c`. */
function inceptionModuleC(namer: LayerNamer, x: SymbolicTensor, c: number, name: string): SymbolicTensor {
  const b1 = conv2dBn(namer, x, 192, 1, 1);
  let b7 = conv2dBn(namer, x, c, 1, 1);
  b7 = conv2dBn(namer, b7, c, 1, 7);
  b7 = conv2dBn(namer, b7, 192, 7, 1);
  let bd = conv2dBn(namer, x, c, 1, 1);
  bd = conv2dBn(namer, bd, c, 7, 1);
  bd = conv2dBn(namer, bd, c, 1, 7);
  bd = conv2dBn(namer, bd, c, 7, 1);
  bd = conv2dBn(namer, bd, 192, 1, 7);
  const bp = conv2dBn(namer, avgPool3(namer, x), 192, 1, 1);
  return concat([b1, b7, bd, bp], name);
}

/** Modules mixed9 and mixed10 (8×8×2048). */
function inceptionModuleE(namer: LayerNamer, x: SymbolicTensor, i: number): SymbolicTensor {
  const b1 = conv2dBn(namer, x, 320, 1, 1);
  let b3 = conv2dBn(namer, x, 384, 1, 1);
  const b31 = conv2dBn(namer, b3, 384, 1, 3);
  const b32 = conv2dBn(namer, b3, 384, 3, 1);
  b3 = concat([b31, b32], `mixed9_${i}`);
  let bd = conv2dBn(namer, x, 448, 1, 1);
  bd = conv2dBn(namer, bd, 384, 3, 3);
  const bd1 = conv2dBn(namer, bd, 384, 1, 3);
  const bd2 = conv2dBn(namer, bd, 384, 3, 1);
  bd = concat([bd1, bd2], namer.next('concatenate'));
  const bp = conv2dBn(namer, avgPool3(namer, x), 192, 1, 1);
  return concat([b1, b3, bd, bp], `mixed${9 + i}`);
}

export function buildInceptionV3(opts: KerasAppOptions): tfl.LayersModel {
  if (opts.inputSize < 75) throw new Error(`InceptionV3 needs an input of at least 75 px, got ${opts.inputSize}`);
  const namer = new LayerNamer();
  const input = tfl.input({ shape: [opts.inputSize, opts.inputSize, 3], name: 'input_1' });
  let x = conv2dBn(namer, input, 32, 3, 3, { strides: 2, padding: 'valid' });
  x = conv2dBn(namer, x, 32, 3, 3, { padding: 'valid' });
  x = conv2dBn(namer, x, 64, 3, 3);
  x = maxPool3(namer, x);
  x = conv2dBn(namer, x, 80, 1, 1, { padding: 'valid' });
  x = conv2dBn(namer, x, 192, 3, 3, { padding: 'valid' });
  x = maxPool3(namer, x);
  x = inceptionModuleA(namer, x, 32, 'mixed0');
  x = inceptionModuleA(namer, x, 64, 'mixed1');
  x = inceptionModuleA(namer, x, 64, 'mixed2');
  {
    const b3 = conv2dBn(namer, x, 384, 3, 3, { strides: 2, padding: 'valid' });
    let bd = conv2dBn(namer, x, 64, 1, 1);
    bd = conv2dBn(namer, bd, 96, 3, 3);
    bd = conv2dBn(namer, bd, 96, 3, 3, { strides: 2, padding: 'valid' });
    x = concat([b3, bd, maxPool3(namer, x)], 'mixed3');
  }
  x = inceptionModuleC(namer, x, 128, 'mixed4');
  x = inceptionModuleC(namer, x, 160, 'mixed5');
  x = inceptionModuleC(namer, x, 160, 'mixed6');
  x = inceptionModuleC(namer, x, 192, 'mixed7');
  {
    let b3 = conv2dBn(namer, x, 192, 1, 1);
    b3 = conv2dBn(namer, b3, 320, 3, 3, { strides: 2, padding: 'valid' });
    let b7 = conv2dBn(namer, x, 192, 1, 1);
    b7 = conv2dBn(namer, b7, 192, 1, 7);
    b7 = conv2dBn(namer, b7, 192, 7, 1);
    b7 = conv2dBn(namer, b7, 192, 3, 3, { strides: 2, padding: 'valid' });
    x = concat([b3, b7, maxPool3(namer, x)], 'mixed8');
  }
  x = inceptionModuleE(namer, x, 0);
  x = inceptionModuleE(namer, x, 1);
  if (opts.includeTop) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tfl.layers.dense({ units: opts.classes ?? 1000, activation: 'softmax', kernelInitializer: zeros(), name: 'predictions' }), x);
  } else if (opts.pool ?? true) {
    x = apply(tfl.layers.globalAveragePooling2d({ name: namer.next('global_average_pooling2d') }), x);
  }
  return tfl.model({ inputs: input, outputs: x, name: 'inception_v3' });
}
