/**
 * Keras layers that tfjs-layers lacks, as EfficientNet's stem uses them, plus the small naming and
 * construction helpers the Keras-applications builders share.
 *
 * - `Normalization` (Keras `layers.Normalization`, axis −1): (x − mean) / max(√variance, 1e-7), with
 *   the non-trainable weights `mean` [c], `variance` [c] and `count` [] that Keras saves (`count` is an
 *   int64 in Keras, kept as a float32 here; it is never used in the forward pass).
 * - `KerasRescaling` (Keras `layers.Rescaling`): x · scale + offset, with a scalar or per-channel
 *   scale (tfjs's own Rescaling takes only a number; EfficientNet's second rescaling is per channel).
 *
 * Both are registered with tfjs serialization when this module is imported, so a saved predictor
 * containing them loads again (`tf.loadLayersModel`) in any process that imports the nets.
 * Builders create every layer with zero/one initializers: weights always come from a file
 * (no `Math.random` anywhere); tests fill them from a seeded generator.
 */
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Tensor = tfc.Tensor;
type SymbolicTensor = tfl.SymbolicTensor;
type Kwargs = Record<string, unknown>;
type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

function one(inputs: Tensor | Tensor[]): Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

export interface NormalizationArgs extends LayerArgs {
  axis?: number;
}

/** Keras `Normalization` over the last axis, with weights mean, variance, count. */
export class Normalization extends tfl.layers.Layer {
  static className = 'Normalization';
  private mean: tfl.LayerVariable | null = null;
  private variance: tfl.LayerVariable | null = null;
  readonly axis: number;

  constructor(args: NormalizationArgs = {}) {
    super(args);
    this.axis = args.axis ?? -1;
    if (this.axis !== -1 && this.axis !== 3) throw new Error(`Normalization: only the channel axis (-1 or 3) is supported, got ${this.axis}`);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
    const c = shape[shape.length - 1];
    if (c == null) throw new Error(`Normalization ${this.name}: the channel dimension must be known`);
    const zeros = tfl.initializers.zeros();
    this.mean = this.addWeight('mean', [c], 'float32', zeros, undefined, false);
    this.variance = this.addWeight('variance', [c], 'float32', tfl.initializers.ones(), undefined, false);
    this.addWeight('count', [], 'float32', zeros, undefined, false);
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return tfc.tidy(() => {
      const x = one(inputs);
      const std = tfc.maximum(tfc.sqrt(this.variance!.read()), 1e-7);
      return tfc.div(tfc.sub(x, this.mean!.read()), std);
    });
  }

  override getConfig(): tfc.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis };
  }
}

export interface KerasRescalingArgs extends LayerArgs {
  scale: number | number[];
  offset?: number;
}

/** Keras `Rescaling`: x · scale + offset; `scale` a number or one value per channel. */
export class KerasRescaling extends tfl.layers.Layer {
  static className = 'KerasRescaling';
  readonly scale: number | number[];
  readonly offset: number;

  constructor(args: KerasRescalingArgs) {
    super(args);
    this.scale = args.scale;
    this.offset = args.offset ?? 0;
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return tfc.tidy(() => {
      let x = one(inputs);
      if (x.dtype !== 'float32') x = tfc.cast(x, 'float32');
      const s = typeof this.scale === 'number' ? tfc.scalar(this.scale) : tfc.tensor1d(this.scale);
      const y = tfc.mul(x, s);
      return this.offset === 0 ? y : tfc.add(y, this.offset);
    });
  }

  override getConfig(): tfc.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}

tfc.serialization.registerClass(Normalization);
tfc.serialization.registerClass(KerasRescaling);

/**
 * Keras auto-names unnamed layers `<snake_class>`, `<snake_class>_1`, … in creation order (tf.keras
 * in a fresh session); tfjs's own auto names differ, so builders name every layer through this.
 */
export class LayerNamer {
  private readonly counts = new Map<string, number>();
  next(prefix: string): string {
    const n = this.counts.get(prefix) ?? 0;
    this.counts.set(prefix, n + 1);
    return n === 0 ? prefix : `${prefix}_${n}`;
  }
}

/** Apply a layer to one symbolic tensor (or several, for merge layers). */
export function apply(layer: tfl.layers.Layer, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
  return layer.apply(x) as SymbolicTensor;
}

export const zeros = (): ReturnType<typeof tfl.initializers.zeros> => tfl.initializers.zeros();

export interface ConvArgs {
  filters: number;
  kernel: number | [number, number];
  strides?: number;
  padding?: 'same' | 'valid';
  useBias?: boolean;
  activation?: 'linear' | 'relu' | 'swish' | 'sigmoid' | 'softmax';
  name: string;
}

export function conv(x: SymbolicTensor, a: ConvArgs): SymbolicTensor {
  return apply(
    tfl.layers.conv2d({
      filters: a.filters,
      kernelSize: a.kernel,
      strides: a.strides ?? 1,
      padding: a.padding ?? 'valid',
      useBias: a.useBias ?? true,
      activation: a.activation ?? 'linear',
      kernelInitializer: zeros(),
      biasInitializer: zeros(),
      name: a.name,
    }),
    x,
  );
}

export function batchNorm(x: SymbolicTensor, name: string, opts: { epsilon?: number; scale?: boolean } = {}): SymbolicTensor {
  return apply(tfl.layers.batchNormalization({ axis: -1, epsilon: opts.epsilon ?? 1e-3, momentum: 0.99, scale: opts.scale ?? true, name }), x);
}

export function activation(x: SymbolicTensor, kind: string, name: string): SymbolicTensor {
  return apply(tfl.layers.activation({ activation: kind as 'relu', name }), x);
}

/** Keras `imagenet_utils.correct_pad`: zero padding before a strided 'valid' conv, by input size. */
export function correctPad(x: SymbolicTensor, kernel: number): [[number, number], [number, number]] {
  const [, h, w] = x.shape;
  const adjust = [h == null ? 1 : 1 - (h % 2), w == null ? 1 : 1 - (w % 2)];
  const c = Math.floor(kernel / 2);
  return [
    [c - adjust[0], c],
    [c - adjust[1], c],
  ];
}

export interface KerasAppOptions {
  inputSize: number;
  /** With the 1000-class (or `classes`) top; default false. */
  includeTop?: boolean;
  classes?: number;
  /** Without the top: global average pooling at the end (Keras `pooling='avg'`); default true. */
  pool?: boolean;
}
