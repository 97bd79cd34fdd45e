/**
 * The `sweep` section of an experiment file: its schema (TypeBox; validated by core's loadExperiment,
 * which turns violations into file/line/field errors), the section's type derived from it, and the
 * resolved settings with every default filled in.
 */
import os from 'node:os';
import { Pair, StringEnum, schemaPart, sectionOf } from '@mri-robust/core';
import { type SchemaOptions, type Static, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';

const OBJECTIVES = ['val_accuracy', 'val_loss', 'mean_clean_noisy_val_accuracy', 'mean_corruption_val_accuracy'] as const;
export type ObjectiveKind = (typeof OBJECTIVES)[number];

const PRUNERS = ['none', 'median', 'successive_halving'] as const;
type PrunerKind = (typeof PRUNERS)[number];

/**
 * Bounds that keep a typo from hanging or crashing a sweep: trials per sweep (random `trials` and
 * grid size), a learning rate (1e300 used to crash the tracking write), a batch size, workers at
 * once, epochs, and the trial time limit (Node timers overflow past 2^31 ms, about 24.8 days).
 */
const MAX_TRIALS = 10_000;
const MAX_LEARNING_RATE = 10;
const MAX_BATCH_SIZE = 65_536;
const MAX_PARALLEL = 256;
const MAX_EPOCHS = 100_000;
const MAX_TRIAL_TIMEOUT_S = 7 * 24 * 3600;

/** Exactly one of `schemas` (JSON Schema `oneOf`; TypeBox's Union would write anyOf). */
function OneOf<T extends TSchema[]>(schemas: [...T], options: SchemaOptions = {}): TUnsafe<Static<T[number]>> {
  return Type.Unsafe<Static<T[number]>>({ oneOf: schemas, ...options });
}

const learningRateList = Type.Array(
  Type.Number({ exclusiveMinimum: 0, maximum: MAX_LEARNING_RATE, description: `a learning rate > 0 and ≤ ${MAX_LEARNING_RATE}` }),
  { minItems: 1, uniqueItems: true },
);
const learningRateRange = Type.Object(
  {
    log_uniform: Pair(Type.Number({ exclusiveMinimum: 0, maximum: MAX_LEARNING_RATE }), {
      description: `[low, high], both > 0 and ≤ ${MAX_LEARNING_RATE}, low < high; sampled uniformly in log space`,
    }),
  },
  { additionalProperties: false },
);
const dropoutList = Type.Array(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'a dropout rate in [0, 1)' }), { minItems: 1, uniqueItems: true });
const dropoutRange = Type.Object(
  { uniform: Pair(Type.Number({ minimum: 0, exclusiveMaximum: 1 }), { description: '[low, high] in [0, 1), low < high' }) },
  { additionalProperties: false },
);
const batchSizeList = Type.Array(Type.Integer({ minimum: 1, maximum: MAX_BATCH_SIZE, description: `a batch size from 1 to ${MAX_BATCH_SIZE}` }), {
  minItems: 1,
  uniqueItems: true,
});

/** Checks of one strategy that depend on another key (JSON Schema if/then). */
const strategyRules = [
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
];

/** Schema of the `sweep` section (no defaults in it: resolveSweepSettings fills them, some from the machine). */
const sweepSchema = Type.Object(
  {
    strategy: StringEnum(['grid', 'random'], { description: 'grid (every combination) or random (`trials` samples)' }),
    space: Type.Object(
      {
        learning_rate: Type.Optional(OneOf([learningRateList, learningRateRange])),
        dropout: Type.Optional(OneOf([dropoutList, dropoutRange])),
        batch_size: Type.Optional(batchSizeList),
      },
      { additionalProperties: false, minProperties: 1, description: 'at least one of learning_rate, dropout, batch_size' },
    ),
    trials: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TRIALS, description: `number of random trials (1 to ${MAX_TRIALS})` })),
    seed: Type.Optional(Type.Integer({ minimum: 0, description: 'sampler seed (default: the experiment seed)' })),
    max_parallel: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_PARALLEL, description: `trials at once, 1 to ${MAX_PARALLEL}; default: number of cores` }),
    ),
    objective: Type.Optional(StringEnum(OBJECTIVES, { description: 'what the sweep maximises (val_loss: minimises); default val_accuracy' })),
    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EPOCHS, description: 'overrides train.epochs for every trial' })),
    trial_timeout_s: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: MAX_TRIAL_TIMEOUT_S,
        description: `seconds before a trial is killed, at most ${MAX_TRIAL_TIMEOUT_S} (7 days)`,
      }),
    ),
    queue: Type.Optional(
      Type.String({
        pattern: '^(rediss?://|local$)',
        description:
          'run the trials on tuning:worker processes through this Redis (redis://host:port/db or rediss://; no password here: MRI_QUEUE_PASSWORD), or local',
      }),
    ),
    pruner: Type.Optional(
      Type.Object(
        {
          kind: StringEnum(PRUNERS, { description: 'none, median or successive_halving' }),
          warmup_epochs: Type.Optional(Type.Integer({ minimum: 0, description: 'median: epochs before pruning starts' })),
          min_trials: Type.Optional(Type.Integer({ minimum: 1, description: 'median: completed trials needed before pruning' })),
          min_epochs: Type.Optional(Type.Integer({ minimum: 1, description: 'successive_halving: epochs of the first rung' })),
          reduction_factor: Type.Optional(Type.Integer({ minimum: 2, description: 'successive_halving: keep the top 1/η per rung' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, allOf: strategyRules },
);

export const sweepSchemaPart = schemaPart('sweep', sweepSchema);

/** The `sweep` section as written in YAML (after schema validation; see resolveSweepSettings for the defaults). */
export type SweepSection = Static<typeof sweepSchema>;

/** The `sweep` section of a loaded experiment (validated; `{}` when absent). */
export const sweepSectionOf = sectionOf(sweepSchemaPart);

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
interface SweepIssue {
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
interface TrainDefaults {
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
