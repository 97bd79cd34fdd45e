/**
 * The classifier trained by every mode: [trunk] → (global average pooling if the trunk output is
 * a feature map) → Dropout(p) → Dense(classes, softmax), as in the published models. In `head`
 * mode there is no trunk (inputs are cached embeddings); in `partial` mode the trunk is the part
 * of the backbone above the cut layer; in `full` mode it is the whole backbone.
 */
import { tf } from '../backend/tf.ts';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Layer } from '@tensorflow/tfjs-layers/dist/engine/topology';

export interface Classifier {
  /** The composed model (input → trunk → [GAP] → Dropout → Dense). Saved as-is. */
  model: LayersModel;
  dropout: number;
  numClasses: number;
  /** Top-level layers after the input, in order (a linear chain; the trunk is one nested layer). */
  chain: Layer[];
}

export interface ClassifierOptions {
  /** Shape of one input sample (embedding `[d]`, activation `[h, w, c]` or image `[h, w, c]`). */
  inputShape: number[];
  numClasses: number;
  dropout: number;
  /** Seed of the Dense kernel initialiser (glorot uniform). */
  seed: number;
  /** Trainable layers below the head (a tfjs LayersModel taking `inputShape`), or null for `head` mode. */
  trunk?: LayersModel | null;
  name?: string;
}

export function buildClassifier(opts: ClassifierOptions): Classifier {
  const { inputShape, numClasses, dropout, seed, trunk = null } = opts;
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${dropout}`);
  const input = tf.input({ shape: inputShape, name: 'input' });
  let h = input as SymbolicTensor;
  if (trunk) h = trunk.apply(h) as SymbolicTensor;
  if (h.shape.length === 4) h = tf.layers.globalAveragePooling2d({ name: 'head_gap' }).apply(h) as SymbolicTensor;
  if (h.shape.length !== 2) throw new Error(`classifier head needs a [batch, d] or [batch, h, w, c] input, got [${h.shape.join(', ')}]`);
  h = tf.layers.dropout({ rate: dropout, name: 'head_dropout' }).apply(h) as SymbolicTensor;
  const out = tf.layers
    .dense({
      units: numClasses,
      activation: 'softmax',
      name: 'head_dense',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      biasInitializer: 'zeros',
    })
    .apply(h) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: opts.name ?? 'classifier' });
  const chain = model.layers.slice(1) as unknown as Layer[];
  return { model, dropout, numClasses, chain };
}
