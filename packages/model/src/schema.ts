/**
 * The experiment sections owned by the model package (`model`, `train`, `evaluate`): their schemas
 * (TypeBox) and, derived from them, their settings types and one typed accessor per section.
 */

import { type Experiment, StringEnum, schemaPart } from '@mri-robust/core';
import { type Static, type TObject, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const BACKBONES = ['cnn', 'mobilenet_v2', 'mobilenet_v1', 'efficientnet_b0', 'vgg16', 'resnet50', 'inception_v3'] as const;

const int = (description: string, minimum: number, maximum: number, dflt?: number) =>
  Type.Integer({ minimum, maximum, ...(dflt === undefined ? {} : { default: dflt }), description });

/** Schema of the `model` section. */
const modelSchema = Type.Object(
  {
    backbone: StringEnum(BACKBONES, {
      default: 'mobilenet_v2',
      description:
        "A pretrained ImageNet network with weights from `weights` ('mobilenet_v2': tfjs layers folder; 'mobilenet_v1', 'efficientnet_b0', 'vgg16', 'resnet50', 'inception_v3': tfjs layers folder or Keras .h5 weight file, Keras's layer names) or 'cnn' (small CNN trained from scratch, widths in `cnn`).",
    }),
    /** As written in the experiment (path relative to the experiment file, or URL); absent for `cnn`. */
    weights: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Pretrained weights: a TensorFlow.js layers model folder (model.json + weights), or for the Keras-application backbones (all but 'mobilenet_v2') also a Keras .h5 weight file; a path relative to the experiment file, or an http(s)/file URL.",
      }),
    ),
    input_size: int('Square input size in pixels fed to the network (images are resized to it).', 16, 1024, 224),
    mode: StringEnum(['head', 'partial', 'full'], {
      default: 'head',
      description:
        "'head': frozen backbone, head trained on cached embeddings; 'partial': activations cached at `cut_layer`, the layers above it and the head trained; 'full': end-to-end training from images (GPU backends).",
    }),
    /** Layer name where `partial` mode cuts the backbone (activations cached below, trained above). */
    cut_layer: Type.Optional(
      Type.String({
        minLength: 1,
        description: "Backbone layer name whose output is cached in 'partial' mode (e.g. 'block_15_add'); the layers above it are trained.",
      }),
    ),
    /** `head` mode: layers whose globally pooled activations are concatenated into the embedding. */
    features: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        maxItems: 16,
        uniqueItems: true,
        description:
          "'head' mode: backbone layers (e.g. ['conv_pw_7_relu', 'conv_pw_11_relu', 'conv_pw_13_relu']) whose globally average-pooled activations are concatenated into the cached embedding, in one forward pass. Default: the backbone's pooled output alone.",
      }),
    ),
    cnn: Type.Object(
      {
        widths: Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), {
          minItems: 1,
          maxItems: 8,
          default: [16, 32, 64],
          description: 'Filters of each conv block (conv → batch norm → ReLU → max pool).',
        }),
      },
      { additionalProperties: false, default: {}, description: "Settings of the 'cnn' backbone." },
    ),
    backend: StringEnum(['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'], {
      default: 'auto',
      description: "TensorFlow.js backend; 'auto' tries tfjs-node-gpu, tfjs-node, wasm, cpu in that order (env MRI_BACKEND overrides).",
    }),
    /** Engine of every forward pass (embed, evaluation, predict, Grad-CAM); training stays on tfjs. */
    inference: StringEnum(['auto', 'onnxruntime', 'tfjs'], {
      default: 'auto',
      description:
        "Engine of every forward pass (embeddings, evaluation, predict, Grad-CAM, serve); training stays on TensorFlow.js. 'auto' uses ONNX Runtime (onnxruntime-node) where it loads, else tfjs (env MRI_INFERENCE overrides).",
    }),
    /** ONNX Runtime intra-op threads; absent = the cores available to the process (env MRI_THREADS overrides). */
    threads: Type.Optional(
      int(
        'ONNX Runtime threads per process (default: the cores available to the process; env MRI_THREADS overrides, e.g. cores / parallel trials in a sweep).',
        1,
        1024,
      ),
    ),
    denoise: StringEnum(['none', 'wiener'], {
      default: 'none',
      description:
        "Denoiser in front of the network, applied to every image it sees (training, evaluation, serving) and recorded in the model: 'wiener' = noise-adaptive 3×3 Wiener filter (noise σ from the median absolute diagonal Haar detail, MATLAB wiener2), close to the identity on clean scans; 'none' = off.",
    }),
    embed_batch_size: int('Images per forward batch when computing cached embeddings/activations.', 1, 4096, 32),
  },
  { additionalProperties: false, description: 'Network, pretrained weights, training mode and TensorFlow.js backend.' },
);

/** Schema of the `train` section. */
const trainSchema = Type.Object(
  {
    epochs: int('Maximum number of epochs.', 1, 10000, 30),
    learning_rate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 1e-3, description: 'Initial Adam learning rate (> 0).' }),
    batch_size: int('Samples per gradient step (≥ 1).', 1, 65536, 32),
    dropout: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.2, description: 'Dropout rate before the final Dense layer, in [0, 1).' }),
    early_stopping: Type.Object(
      {
        monitor: StringEnum(['val_accuracy', 'val_loss'], {
          default: 'val_accuracy',
          description: 'Validation metric watched (accuracy maximised, loss minimised).',
        }),
        patience: int('Epochs without improvement before stopping.', 0, 10000, 6),
        restore_best: Type.Boolean({ default: true, description: 'Restore the weights of the best epoch at the end.' }),
      },
      { additionalProperties: false, default: {}, description: 'Stop when the monitored validation metric has not improved for `patience` epochs.' },
    ),
    reduce_lr: Type.Object(
      {
        factor: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.5, description: 'Multiplier in (0, 1).' }),
        patience: int('Epochs without improvement before reducing.', 0, 10000, 3),
        min_lr: Type.Number({ minimum: 0, default: 1e-6, description: 'Lower bound of the learning rate.' }),
      },
      {
        additionalProperties: false,
        default: {},
        description: 'Multiply the learning rate by `factor` when the monitored metric plateaus for `patience` epochs.',
      },
    ),
    class_weights: StringEnum(['none', 'balanced'], {
      default: 'none',
      description: "'balanced' weights each sample's loss by n / (classes × count of its class).",
    }),
    /** Label smoothing ε ∈ [0, 1). */
    label_smoothing: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0,
      description: 'Label smoothing ε in [0, 1): training targets are (1 − ε)·onehot + ε / classes (as Keras).',
    }),
    /** Mixup α: 0 = off; > 0 mixes each batch with a permutation of itself, λ ~ Beta(α, α). */
    mixup: Type.Number({
      minimum: 0,
      maximum: 10,
      default: 0,
      description:
        'Mixup α (0 = off): each training batch is blended with a seeded permutation of itself, weight λ ~ Beta(α, α) (folded to ≥ 0.5), inputs and targets alike. On cached activations this is manifold mixup at the cut layer. Typical 0.2–0.4.',
    }),
    /** Decay of an exponential moving average of the weights; 0 = off. */
    ema: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0,
      description:
        'Exponential moving average of the trained weights (0 = off), e.g. 0.998: after every step avg ← d·avg + (1 − d)·w with d = min(ema, (1 + step) / (10 + step)). Validation, early stopping, the best-epoch restore and the saved model use the average; the optimiser steps the raw weights.',
    }),
    /** Weight of the clean/noisy consistency term; 0 = off. */
    consistency: Type.Number({
      minimum: 0,
      maximum: 100,
      default: 0,
      description:
        'Clean/noisy consistency weight λ (0 = off), e.g. 1: every training image is batched with its noisy copy (noise.train mode copies) and the loss adds λ · the Jensen-Shannon divergence between their predicted class distributions (stability training / AugMix). Cannot be combined with mixup.',
    }),
  },
  { additionalProperties: false, description: 'Training loop settings (Adam, categorical cross-entropy). Shuffling is seeded from the experiment `seed`.' },
);

/** Schema of the `evaluate` section. */
const evaluateSchema = Type.Object(
  {
    bootstrap_samples: int('Bootstrap resamples for the 95 % accuracy interval.', 1, 100000, 1000),
    ece_bins: int('Equal-width confidence bins of the expected calibration error.', 1, 100, 15),
    // Accepted by the schema only so that the check below can say where the key went.
    benchmark: Type.Optional(Type.Unknown({ description: 'moved to noise.eval.benchmark (an error here)' })),
  },
  { additionalProperties: false, description: 'Evaluation on the clean and noisy test sets.' },
);

/** The `model` section, defaults filled in. */
export type ModelSettings = Static<typeof modelSchema>;
/** The `train` section, defaults filled in. */
export type TrainSettings = Static<typeof trainSchema>;
/** The `evaluate` section, defaults filled in. */
export type EvaluateSettings = Omit<Static<typeof evaluateSchema>, 'benchmark'>;

export type Backbone = ModelSettings['backbone'];

export const modelSchemaPart = schemaPart('model', modelSchema);
export const trainSchemaPart = schemaPart('train', trainSchema, (s) =>
  s.consistency > 0 && s.mixup > 0
    ? [{ pointer: '/consistency', message: 'cannot be combined with mixup (mixup blends the images the consistency term pairs): set one of them to 0' }]
    : [],
);
export const evaluateSchemaPart = schemaPart('evaluate', evaluateSchema, (s) =>
  s.benchmark === undefined
    ? []
    : [
        {
          pointer: '/benchmark',
          message: `moved to noise.eval.benchmark: write it there (noise: { eval: { benchmark: ${typeof s.benchmark === 'string' ? s.benchmark : JSON.stringify(s.benchmark)} } }) and remove it from evaluate`,
        },
      ],
);

/** The model package's schema parts, in section order. */
export const modelSchemaParts = [modelSchemaPart, trainSchemaPart, evaluateSchemaPart];

/**
 * The section of a config with every default of its schema filled in (a copy; the config is left
 * as it is). The loader fills the same defaults; this also serves a config loaded without the part.
 */
function withDefaults<S extends TObject>(section: string, schema: S): (config: unknown) => Static<S> {
  return (config) => {
    const s = (config as Record<string, unknown> | null | undefined)?.[section];
    return Value.Default(schema, structuredClone(s !== null && typeof s === 'object' ? s : {})) as Static<S>;
  };
}

/** `model` section of a config object, defaults filled in. */
export const resolveModelSettings: (config: unknown) => ModelSettings = withDefaults('model', modelSchema);
/** `train` section of a config object, defaults filled in. */
export const resolveTrainSettings: (config: unknown) => TrainSettings = withDefaults('train', trainSchema);
/** `evaluate` section of a config object, defaults filled in. */
export const resolveEvaluateSettings: (config: unknown) => EvaluateSettings = withDefaults('evaluate', evaluateSchema);

/** The `model` section of a loaded experiment (validated, defaults filled in). */
export const modelSettingsOf = (experiment: Pick<Experiment, 'config'>): ModelSettings => resolveModelSettings(experiment.config);
/** The `train` section of a loaded experiment (validated, defaults filled in). */
export const trainSettingsOf = (experiment: Pick<Experiment, 'config'>): TrainSettings => resolveTrainSettings(experiment.config);
/** The `evaluate` section of a loaded experiment (validated, defaults filled in). */
export const evaluateSettingsOf = (experiment: Pick<Experiment, 'config'>): EvaluateSettings => resolveEvaluateSettings(experiment.config);

/** Every default of the `train` section (what an experiment without the section gets). */
export const TRAIN_DEFAULTS: TrainSettings = resolveTrainSettings({});
