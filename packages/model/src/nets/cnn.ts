/** The `cnn` backbone: a small CNN trained from scratch, image → pooled features. */
import * as tfl from '@tensorflow/tfjs-layers';

export interface CnnOptions {
  /** [height, width, channels] of the network input. */
  inputShape: [number, number, number];
  /** Filters of each block: conv 3×3 (no bias) → batch norm → ReLU → max pool 2×2. */
  widths: number[];
  /** Seed for the kernel initialisers (deterministic weights). */
  seed?: number;
}

/** Conv blocks with batch norm and pooling, ending in global average pooling → [N, widths.at(-1)]. */
export function buildCnn(options: CnnOptions): tfl.LayersModel {
  const { inputShape, widths } = options;
  if (widths.length === 0) throw new Error('buildCnn: widths must not be empty');
  const input = tfl.input({ shape: inputShape, name: 'image' });
  let x = input;
  widths.forEach((w, i) => {
    const b = `block${i + 1}`;
    x = tfl.layers
      .conv2d({
        filters: w,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        name: `${b}_conv`,
        kernelInitializer: tfl.initializers.heNormal({ seed: options.seed === undefined ? undefined : options.seed + i }),
      })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: `${b}_bn` }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.reLU({ name: `${b}_relu` }).apply(x) as tfl.SymbolicTensor;
    if (x.shape[1]! >= 2 && x.shape[2]! >= 2) {
      x = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${b}_pool` }).apply(x) as tfl.SymbolicTensor;
    }
  });
  const out = tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: 'cnn' });
}
