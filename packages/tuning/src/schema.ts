/**
 * The `sweep` section of an experiment file: its JSON Schema (validated by core's loadExperiment,
 * which turns violations into file/line/field errors) and the resolved, defaulted settings.
 */
import os from 'node:os';
import type { SchemaPart } from '@mri-robust/core';

export const OBJECTIVES = ['val_accuracy', 'val_loss', 'mean_clean_noisy_val_accuracy', 'mean_corruption_val_accuracy'] as const;
export type ObjectiveKind = (typeof OBJECTIVES)[number];

export const PRUNERS = ['none', 'median', 'successive_halving'] as const;
export type PrunerKind = (typeof PRUNERS)[number];

/**
 * Bounds that keep a typo from hanging or crashing a sweep: trials per sweep (random `trials` and
 * grid size), a learning rate (1e300 used to crash the tracking write), a batch size, workers at
 * once, epochs, and the trial time limit (Node timers overflow past 2^31 ms, about 24.8 days).
 */
export const MAX_TRIALS = 10_000;
export const MAX_LEARNING_RATE = 10;
export const MAX_BATCH_SIZE = 65_536;
export const MAX_PARALLEL = 256;
export const MAX_EPOCHS = 100_000;
export const MAX_TRIAL_TIMEOUT_S = 7 * 24 * 3600;

const learningRateList = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { type: 'number', exclusiveMinimum: 0, maximum: MAX_LEARNING_RATE, description: `a learning rate > 0 and ≤ ${MAX_LEARNING_RATE}` },
};
const learningRateRange = {
  type: 'object',
  additionalProperties: false,
  required: ['log_uniform'],
  properties: {
    log_uniform: {
      type: 'array',
      minItems: 2,
      maxItems: 2,
      items: { type: 'number', exclusiveMinimum: 0, maximum: MAX_LEARNING_RATE },
      description: `[low, high], both > 0 and ≤ ${MAX_LEARNING_RATE}, low < high; sampled uniformly in log space`,
    },
  },
};
const dropoutList = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'a dropout rate in [0, 1)' },
};
const dropoutRange = {
  type: 'object',
  additionalProperties: false,
  required: ['uniform'],
  properties: {
    uniform: {
      type: 'array',
      minItems: 2,
      maxItems: 2,
      items: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      description: '[low, high] in [0, 1), low < high',
    },
  },
};
const batchSizeList = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { type: 'integer', minimum: 1, maximum: MAX_BATCH_SIZE, description: `a batch size from 1 to ${MAX_BATCH_SIZE}` },
};

/** JSON Schema of the `sweep` section. */
export const sweepSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['strategy', 'space'],
  properties: {
    strategy: { enum: ['grid', 'random'], description: 'grid (every combination) or random (`trials` samples)' },
    space: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description: 'at least one of learning_rate, dropout, batch_size',
      properties: {
        learning_rate: { oneOf: [learningRateList, learningRateRange] },
        dropout: { oneOf: [dropoutList, dropoutRange] },
        batch_size: batchSizeList,
      },
    },
    trials: { type: 'integer', minimum: 1, maximum: MAX_TRIALS, description: `number of random trials (1 to ${MAX_TRIALS})` },
    seed: { type: 'integer', minimum: 0, description: 'sampler seed (default: the experiment seed)' },
    max_parallel: { type: 'integer', minimum: 1, maximum: MAX_PARALLEL, description: `trials at once, 1 to ${MAX_PARALLEL}; default: number of cores` },
    objective: { enum: [...OBJECTIVES] },
    epochs: { type: 'integer', minimum: 1, maximum: MAX_EPOCHS, description: 'overrides train.epochs for every trial' },
    trial_timeout_s: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: MAX_TRIAL_TIMEOUT_S,
      description: `seconds before a trial is killed, at most ${MAX_TRIAL_TIMEOUT_S} (7 days)`,
    },
    queue: {
      type: 'string',
      pattern: '^(rediss?://|local$)',
      description:
        'run the trials on tuning:worker processes through this Redis (redis://host:port/db or rediss://; no password here: MRI_QUEUE_PASSWORD), or local',
    },
    pruner: {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      properties: {
        kind: { enum: [...PRUNERS] },
        warmup_epochs: { type: 'integer', minimum: 0, description: 'median: epochs before pruning starts' },
        min_trials: { type: 'integer', minimum: 1, description: 'median: completed trials needed before pruning' },
        min_epochs: { type: 'integer', minimum: 1, description: 'successive_halving: epochs of the first rung' },
        reduction_factor: { type: 'integer', minimum: 2, description: 'successive_halving: keep the top 1/η per rung' },
      },
    },
  },
  allOf: [
    {
      if: { type: 'object', properties: { strategy: { const: 'grid' } }, required: ['strategy'] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
      then: {
        type: 'object',
        properties: {
          space: {
            type: 'object',
            properties: {
              learning_rate: { type: 'array', description: 'grid search needs a list here, not a range' },
              dropout: { type: 'array', description: 'grid search needs a list here, not a range' },
            },
          },
        },
      },
    },
    {
      if: { type: 'object', properties: { strategy: { const: 'random' } }, required: ['strategy'] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
      then: { type: 'object', properties: { trials: { type: 'integer' } }, required: ['trials'] },
    },
  ],
} as const;

export const sweepSchemaPart: SchemaPart = { section: 'sweep', schema: sweepSchema as unknown as Record<string, unknown> };

/** The `sweep` section as written in YAML (after schema validation). */
export interface SweepSection {
  strategy: 'grid' | 'random';
  space: {
    learning_rate?: number[] | { log_uniform: [number, number] };
    dropout?: number[] | { uniform: [number, number] };
    batch_size?: number[];
  };
  trials?: number;
  seed?: number;
  max_parallel?: number;
  objective?: ObjectiveKind;
  epochs?: number;
  trial_timeout_s?: number;
  queue?: string;
  pruner?: {
    kind: PrunerKind;
    warmup_epochs?: number;
    min_trials?: number;
    min_epochs?: number;
    reduction_factor?: number;
  };
}

export type Dimension = { values: number[] } | { logUniform: [number, number] } | { uniform: [number, number] };

export interface PrunerSettings {
  kind: PrunerKind;
  warmupEpochs: number;
  minTrials: number;
  minEpochs: number;
  reductionFactor: number;
}

/** Resolved settings with every default filled in. */
export interface SweepSettings {
  strategy: 'grid' | 'random';
  space: { learningRate: Dimension; dropout: Dimension; batchSize: Dimension };
  trials: number | null;
  seed: number;
  maxParallel: number;
  objective: ObjectiveKind;
  epochs: number | null;
  trialTimeoutS: number | null;
  pruner: PrunerSettings;
}

/** A problem the schema cannot express (low ≥ high in a range); pointer is into the experiment. */
export interface SweepIssue {
  pointer: string;
  message: string;
}

/** Cross-field checks JSON Schema cannot express. Empty when the section is valid. */
export function checkSweepSection(section: SweepSection): SweepIssue[] {
  const issues: SweepIssue[] = [];
  const lr = section.space.learning_rate;
  if (lr && !Array.isArray(lr) && !(lr.log_uniform[0] < lr.log_uniform[1])) {
    issues.push({ pointer: '/sweep/space/learning_rate/log_uniform', message: 'must be [low, high] with low < high' });
  }
  const d = section.space.dropout;
  if (d && !Array.isArray(d) && !(d.uniform[0] < d.uniform[1])) {
    issues.push({ pointer: '/sweep/space/dropout/uniform', message: 'must be [low, high] with low < high' });
  }
  if (section.strategy === 'grid') {
    const sizes = [section.space.learning_rate, section.space.dropout, section.space.batch_size].map((v) => (Array.isArray(v) ? v.length : 1));
    const n = sizes.reduce((a, b) => a * b, 1);
    if (n > MAX_TRIALS) {
      issues.push({
        pointer: '/sweep/space',
        message: `a grid of ${n} trials (${sizes.join(' × ')}); at most ${MAX_TRIALS}: use fewer values or strategy random`,
      });
    }
  }
  return issues;
}

/** Values from the experiment's `train` section used for dimensions the space leaves out. */
export interface TrainDefaults {
  learningRate: number;
  dropout: number;
  batchSize: number;
}

export function resolveSweepSettings(
  section: SweepSection,
  defaults: TrainDefaults,
  experimentSeed: number,
  cores: number = os.availableParallelism(),
): SweepSettings {
  const dim = (v: number[] | { log_uniform: [number, number] } | { uniform: [number, number] } | undefined, dflt: number): Dimension => {
    if (v === undefined) return { values: [dflt] };
    if (Array.isArray(v)) return { values: [...v] };
    if ('log_uniform' in v) return { logUniform: [v.log_uniform[0], v.log_uniform[1]] };
    return { uniform: [v.uniform[0], v.uniform[1]] };
  };
  const p = section.pruner ?? { kind: 'none' as const };
  return {
    strategy: section.strategy,
    space: {
      learningRate: dim(section.space.learning_rate, defaults.learningRate),
      dropout: dim(section.space.dropout, defaults.dropout),
      batchSize: dim(section.space.batch_size, defaults.batchSize),
    },
    trials: section.strategy === 'random' ? (section.trials ?? 1) : null,
    seed: section.seed ?? experimentSeed,
    maxParallel: section.max_parallel ?? Math.max(1, cores),
    objective: section.objective ?? 'val_accuracy',
    epochs: section.epochs ?? null,
    trialTimeoutS: section.trial_timeout_s ?? null,
    pruner: {
      kind: p.kind,
      warmupEpochs: p.warmup_epochs ?? 2,
      minTrials: p.min_trials ?? 3,
      minEpochs: p.min_epochs ?? 1,
      reductionFactor: p.reduction_factor ?? 3,
    },
  };
}
