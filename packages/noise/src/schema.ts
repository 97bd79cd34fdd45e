/** The `noise` section of an experiment: its schema (TypeBox, owned by this package) and, derived from it, its type. */
import { Pair, StringEnum, schemaPart, sectionOf } from '@mri-robust/core';
import { type Static, Type } from '@sinclair/typebox';
import { NOISE_KINDS } from './models/types.ts';
import { BENCHMARKS } from './plan.ts';

const SPLIT = StringEnum(['train', 'val', 'test'], { description: 'a split: train, val or test' });
const KIND = StringEnum(NOISE_KINDS, { description: `a noise kind: ${NOISE_KINDS.join(', ')}` });
const SEVERITY = Type.Integer({ minimum: 1, maximum: 5, description: 'named severity 1–5 (README table)' });

/** `noise.train`: noise added to training data before augmentation. */
const trainNoise = Type.Object(
  {
    /** Source names (data.sources[].name) whose images may get noise; empty = every source. */
    sources: Type.Array(Type.String({ minLength: 1, description: 'a source name from data.sources' }), {
      uniqueItems: true,
      default: [],
      description: 'sources whose images get noise (empty: all sources)',
    }),
    splits: Type.Array(SPLIT, { uniqueItems: true, minItems: 1, default: ['train'], description: 'splits that get noise' }),
    /** Fraction of the eligible images that get noise. */
    fraction: Type.Number({ minimum: 0, maximum: 1, default: 0, description: 'fraction of the eligible images that get noise (0 = none)' }),
    mode: StringEnum(['copies', 'replace'], {
      default: 'copies',
      description: 'copies: add a noisy copy beside each chosen image; replace: the noisy image replaces it',
    }),
    seed_offset: Type.Integer({ minimum: 0, default: 0, description: 'added to the experiment seed for training-noise draws' }),
    /** [min, max] corruptions chained on one image (AugMix-style); [1, 1] = one kind per image. */
    chain: Pair(Type.Integer({ minimum: 1, maximum: 4 }), {
      default: [1, 1],
      description:
        '[min, max] corruptions applied one after another to a chosen image (AugMix-style chains: kinds drawn by `probability` without repeats, each with its own severity); [1, 1] = one kind per image',
    }),
    kinds: Type.Array(
      Type.Object(
        {
          kind: KIND,
          probability: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'relative weight of this kind (normalised over the list)' }),
          severity: Type.Union([SEVERITY, Pair(SEVERITY)], { default: [1, 5], description: 'severity 1–5, or [min, max] drawn uniformly (integers)' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'the kinds to draw from; each chosen image gets one kind, picked with weight `probability`' },
    ),
  },
  { additionalProperties: false, default: {}, description: 'training noise, applied before augmentation' },
);

/** `noise.eval`: fixed noisy copies of evaluation splits, one set per kind × severity (or SNR) × split. */
const evalNoise = Type.Object(
  {
    splits: Type.Array(SPLIT, {
      uniqueItems: true,
      minItems: 1,
      default: ['test'],
      description: 'splits to build noisy sets of (add val when the sweep objective needs noisy validation)',
    }),
    seed: Type.Integer({ minimum: 0, default: 1, description: 'fixed seed of the evaluation noise (independent of the experiment seed)' }),
    kinds: Type.Array(
      Type.Object(
        {
          kind: KIND,
          severities: Type.Array(SEVERITY, { uniqueItems: true, default: [], description: 'named severities 1–5' }),
          snr: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 1000 }), {
            uniqueItems: true,
            default: [],
            description: 'rician only: target SNRs (mean foreground / σ), e.g. [20, 10, 5, 3]',
          }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'list of {kind, severities: [...]} (rician also takes snr: [...])' },
    ),
    // No default: an experiment without the key keeps its hash (and its sweep id); absent = none.
    benchmark: Type.Optional(
      StringEnum(BENCHMARKS, {
        description:
          "corruption benchmark built besides the sets of `kinds` (default none): 'mri-c' = every noise kind at severities 1–5 on each of `splits` (fixed seed), scored as CE / mCE / relative mCE against the fixed baseline (model README)",
      }),
    ),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'noisy evaluation sets: a noisy copy of each listed split per kind × severity (and rician SNR)',
  },
);

const noiseSchema = Type.Object(
  {
    train: trainNoise,
    eval: evalNoise,
    contact_sheet: Type.Object(
      { per_class: Type.Integer({ minimum: 1, maximum: 8, default: 1, description: 'images per class shown' }) },
      { additionalProperties: false, default: {}, description: 'the contact-sheet.png written next to the output' },
    ),
  },
  { additionalProperties: false, description: 'noise added to training data (train) and noisy evaluation sets (eval)' },
);

export type TrainNoiseSettings = Static<typeof trainNoise>;
export type EvalNoiseSettings = Static<typeof evalNoise>;
/** The `noise` section, defaults filled in. */
export type NoiseSettings = Static<typeof noiseSchema>;

export const noiseSchemaPart = schemaPart('noise', noiseSchema);

/** The `noise` section of a loaded experiment (validated, defaults filled in). */
export const noiseSettingsOf = sectionOf(noiseSchemaPart);
