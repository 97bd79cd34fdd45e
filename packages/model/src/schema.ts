/**
 * JSON Schema parts for the experiment sections owned by the model package (`model`, `train`,
 * `evaluate`), plus the resolved (defaults-applied) settings types the stages and trials use.
 */

import type { JSONSchema, SchemaPart } from '@mri-robust/core';
import { BENCHMARKS, type BenchmarkName } from '@mri-robust/noise';

export type ModelSchemaPart = SchemaPart;

export type Backbone = 'cnn' | 'mobilenet_v2' | 'mobilenet_v1' | 'efficientnet_b0' | 'vgg16' | 'resnet50' | 'inception_v3';
export type TrainMode = 'head' | 'partial' | 'full';
export type BackendChoice = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export type InferenceChoice = 'auto' | 'onnxruntime' | 'tfjs';

export interface ModelSettings {
  backbone: Backbone;
  /** As written in the experiment (path relative to the experiment file, or URL); undefined for `cnn`. */
  weights?: string;
  input_size: number;
  mode: TrainMode;
  /** Layer name where `partial` mode cuts the backbone (activations cached below, trained above). */
  cut_layer?: string;
  /** `head` mode: layers whose globally pooled activations are concatenated into the embedding. */
  features?: string[];
  cnn: { widths: number[] };
  backend: BackendChoice;
  /** Engine of every forward pass (embed, evaluation, predict, Grad-CAM); training stays on tfjs. */
  inference: InferenceChoice;
  /** ONNX Runtime intra-op threads; undefined = the cores available to the process (env MRI_THREADS overrides). */
  threads?: number;
  embed_batch_size: number;
}

export interface TrainSettings {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  dropout: number;
  early_stopping: { monitor: 'val_accuracy' | 'val_loss'; patience: number; restore_best: boolean };
  reduce_lr: { factor: number; patience: number; min_lr: number };
  class_weights: 'none' | 'balanced';
  /** Label smoothing ε ∈ [0, 1). */
  label_smoothing: number;
  /** Mixup α: 0 = off; > 0 mixes each batch with a permutation of itself, λ ~ Beta(α, α). */
  mixup: number;
}

export interface EvaluateSettings {
  bootstrap_samples: number;
  ece_bins: number;
  /** Corruption benchmark whose test sets the noise stage builds (`mri-c`); absent = none. */
  benchmark?: BenchmarkName;
}

export const MODEL_DEFAULTS: ModelSettings = {
  backbone: 'mobilenet_v2',
  input_size: 224,
  mode: 'head',
  cnn: { widths: [16, 32, 64] },
  backend: 'auto',
  inference: 'auto',
  embed_batch_size: 32,
};

export const TRAIN_DEFAULTS: TrainSettings = {
  epochs: 30,
  learning_rate: 1e-3,
  batch_size: 32,
  dropout: 0.2,
  early_stopping: { monitor: 'val_accuracy', patience: 6, restore_best: true },
  reduce_lr: { factor: 0.5, patience: 3, min_lr: 1e-6 },
  class_weights: 'none',
  label_smoothing: 0,
  mixup: 0,
};

export const EVALUATE_DEFAULTS: EvaluateSettings = { bootstrap_samples: 1000, ece_bins: 15 };

const int = (description: string, minimum: number, extra: JSONSchema = {}): JSONSchema => ({
  type: 'integer',
  minimum,
  description,
  ...extra,
});

export const modelSchemaPart: ModelSchemaPart = {
  section: 'model',
  schema: {
    type: 'object',
    additionalProperties: false,
    description: 'Network, pretrained weights, training mode and TensorFlow.js backend.',
    properties: {
      backbone: {
        enum: ['cnn', 'mobilenet_v2', 'mobilenet_v1', 'efficientnet_b0', 'vgg16', 'resnet50', 'inception_v3'],
        default: MODEL_DEFAULTS.backbone,
        description:
          "A pretrained ImageNet network with weights from `weights` ('mobilenet_v2': tfjs layers folder; 'mobilenet_v1', 'efficientnet_b0', 'vgg16', 'resnet50', 'inception_v3': tfjs layers folder or Keras .h5 weight file, Keras's layer names) or 'cnn' (small CNN trained from scratch, widths in `cnn`).",
      },
      weights: {
        type: 'string',
        minLength: 1,
        description:
          "Pretrained weights: a TensorFlow.js layers model folder (model.json + weights), or for the Keras-application backbones (all but 'mobilenet_v2') also a Keras .h5 weight file; a path relative to the experiment file, or an http(s)/file URL.",
      },
      input_size: int('Square input size in pixels fed to the network (images are resized to it).', 16, {
        maximum: 1024,
        default: MODEL_DEFAULTS.input_size,
      }),
      mode: {
        enum: ['head', 'partial', 'full'],
        default: MODEL_DEFAULTS.mode,
        description:
          "'head': frozen backbone, head trained on cached embeddings; 'partial': activations cached at `cut_layer`, the layers above it and the head trained; 'full': end-to-end training from images (GPU backends).",
      },
      cut_layer: {
        type: 'string',
        minLength: 1,
        description: "Backbone layer name whose output is cached in 'partial' mode (e.g. 'block_15_add'); the layers above it are trained.",
      },
      features: {
        type: 'array',
        minItems: 1,
        maxItems: 16,
        uniqueItems: true,
        items: { type: 'string', minLength: 1 },
        description:
          "'head' mode: backbone layers (e.g. ['conv_pw_7_relu', 'conv_pw_11_relu', 'conv_pw_13_relu']) whose globally average-pooled activations are concatenated into the cached embedding, in one forward pass. Default: the backbone's pooled output alone.",
      },
      cnn: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: "Settings of the 'cnn' backbone.",
        properties: {
          widths: {
            type: 'array',
            minItems: 1,
            maxItems: 8,
            items: { type: 'integer', minimum: 1, maximum: 1024 },
            default: MODEL_DEFAULTS.cnn.widths,
            description: 'Filters of each conv block (conv → batch norm → ReLU → max pool).',
          },
        },
      },
      backend: {
        enum: ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'],
        default: MODEL_DEFAULTS.backend,
        description: "TensorFlow.js backend; 'auto' tries tfjs-node-gpu, tfjs-node, wasm, cpu in that order (env MRI_BACKEND overrides).",
      },
      inference: {
        enum: ['auto', 'onnxruntime', 'tfjs'],
        default: MODEL_DEFAULTS.inference,
        description:
          "Engine of every forward pass (embeddings, evaluation, predict, Grad-CAM, serve); training stays on TensorFlow.js. 'auto' uses ONNX Runtime (onnxruntime-node) where it loads, else tfjs (env MRI_INFERENCE overrides).",
      },
      threads: int(
        'ONNX Runtime threads per process (default: the cores available to the process; env MRI_THREADS overrides, e.g. cores / parallel trials in a sweep).',
        1,
        {
          maximum: 1024,
        },
      ),
      embed_batch_size: int('Images per forward batch when computing cached embeddings/activations.', 1, {
        maximum: 4096,
        default: MODEL_DEFAULTS.embed_batch_size,
      }),
    },
  },
};

export const trainSchemaPart: ModelSchemaPart = {
  section: 'train',
  schema: {
    type: 'object',
    additionalProperties: false,
    description: 'Training loop settings (Adam, categorical cross-entropy). Shuffling is seeded from the experiment `seed`.',
    properties: {
      epochs: int('Maximum number of epochs.', 1, { maximum: 10000, default: TRAIN_DEFAULTS.epochs }),
      learning_rate: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 10,
        default: TRAIN_DEFAULTS.learning_rate,
        description: 'Initial Adam learning rate (> 0).',
      },
      batch_size: int('Samples per gradient step (≥ 1).', 1, { maximum: 65536, default: TRAIN_DEFAULTS.batch_size }),
      dropout: {
        type: 'number',
        minimum: 0,
        exclusiveMaximum: 1,
        default: TRAIN_DEFAULTS.dropout,
        description: 'Dropout rate before the final Dense layer, in [0, 1).',
      },
      early_stopping: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Stop when the monitored validation metric has not improved for `patience` epochs.',
        properties: {
          monitor: {
            enum: ['val_accuracy', 'val_loss'],
            default: TRAIN_DEFAULTS.early_stopping.monitor,
            description: 'Validation metric watched (accuracy maximised, loss minimised).',
          },
          patience: int('Epochs without improvement before stopping.', 0, {
            maximum: 10000,
            default: TRAIN_DEFAULTS.early_stopping.patience,
          }),
          restore_best: {
            type: 'boolean',
            default: TRAIN_DEFAULTS.early_stopping.restore_best,
            description: 'Restore the weights of the best epoch at the end.',
          },
        },
      },
      reduce_lr: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Multiply the learning rate by `factor` when the monitored metric plateaus for `patience` epochs.',
        properties: {
          factor: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: TRAIN_DEFAULTS.reduce_lr.factor, description: 'Multiplier in (0, 1).' },
          patience: int('Epochs without improvement before reducing.', 0, {
            maximum: 10000,
            default: TRAIN_DEFAULTS.reduce_lr.patience,
          }),
          min_lr: { type: 'number', minimum: 0, default: TRAIN_DEFAULTS.reduce_lr.min_lr, description: 'Lower bound of the learning rate.' },
        },
      },
      class_weights: {
        enum: ['none', 'balanced'],
        default: TRAIN_DEFAULTS.class_weights,
        description: "'balanced' weights each sample's loss by n / (classes × count of its class).",
      },
      label_smoothing: {
        type: 'number',
        minimum: 0,
        exclusiveMaximum: 1,
        default: TRAIN_DEFAULTS.label_smoothing,
        description: 'Label smoothing ε in [0, 1): training targets are (1 − ε)·onehot + ε / classes (as Keras).',
      },
      mixup: {
        type: 'number',
        minimum: 0,
        maximum: 10,
        default: TRAIN_DEFAULTS.mixup,
        description:
          'Mixup α (0 = off): each training batch is blended with a seeded permutation of itself, weight λ ~ Beta(α, α) (folded to ≥ 0.5), inputs and targets alike. On cached activations this is manifold mixup at the cut layer. Typical 0.2–0.4.',
      },
    },
  },
};

export const evaluateSchemaPart: ModelSchemaPart = {
  section: 'evaluate',
  schema: {
    type: 'object',
    additionalProperties: false,
    description: 'Evaluation on the clean and noisy test sets.',
    properties: {
      bootstrap_samples: int('Bootstrap resamples for the 95 % accuracy interval.', 1, {
        maximum: 100000,
        default: EVALUATE_DEFAULTS.bootstrap_samples,
      }),
      ece_bins: int('Equal-width confidence bins of the expected calibration error.', 1, {
        maximum: 100,
        default: EVALUATE_DEFAULTS.ece_bins,
      }),
      // No default: an experiment without the key keeps its hash.
      benchmark: {
        enum: [...BENCHMARKS],
        description:
          "Corruption benchmark scored besides the noisy sets of `noise.eval`: 'mri-c' = every noise kind at severities 1–5 on each `noise.eval` split (fixed seed; built by the noise stage), summarised as CE / mCE / relative mCE against the fixed baseline (model README).",
      },
    },
  },
};

/** The model package's schema parts, in section order. */
export const modelSchemaParts: ModelSchemaPart[] = [modelSchemaPart, trainSchemaPart, evaluateSchemaPart];

type Section = Record<string, unknown> | undefined;

function section(experiment: unknown, name: string): Section {
  const s = (experiment as Record<string, unknown> | undefined)?.[name];
  return s && typeof s === 'object' ? (s as Record<string, unknown>) : undefined;
}

/** `model` section with defaults applied (the section is assumed schema-validated). */
export function resolveModelSettings(experiment: unknown): ModelSettings {
  const s = section(experiment, 'model') ?? {};
  const cnn = (s.cnn as Partial<ModelSettings['cnn']> | undefined) ?? {};
  return {
    ...MODEL_DEFAULTS,
    ...(s as Partial<ModelSettings>),
    cnn: { ...MODEL_DEFAULTS.cnn, ...cnn },
  };
}

/** `train` section with defaults applied. */
export function resolveTrainSettings(experiment: unknown): TrainSettings {
  const s = section(experiment, 'train') ?? {};
  return {
    ...TRAIN_DEFAULTS,
    ...(s as Partial<TrainSettings>),
    early_stopping: { ...TRAIN_DEFAULTS.early_stopping, ...((s.early_stopping as object | undefined) ?? {}) },
    reduce_lr: { ...TRAIN_DEFAULTS.reduce_lr, ...((s.reduce_lr as object | undefined) ?? {}) },
  };
}

/** `evaluate` section with defaults applied. */
export function resolveEvaluateSettings(experiment: unknown): EvaluateSettings {
  return { ...EVALUATE_DEFAULTS, ...((section(experiment, 'evaluate') as Partial<EvaluateSettings>) ?? {}) };
}
