import type { SchemaPart } from '@mri-robust/core';
import { NOISE_KINDS, type NoiseKind } from './models/types.ts';

/** `noise.train`: noise added to training data before augmentation. */
export interface TrainNoiseSettings {
  /** Source names (data.sources[].name) whose images may get noise; empty = every source. */
  sources: string[];
  splits: ('train' | 'val' | 'test')[];
  /** Fraction of the eligible images that get noise. */
  fraction: number;
  mode: 'copies' | 'replace';
  seed_offset: number;
  kinds: { kind: NoiseKind; probability: number; severity: number | [number, number] }[];
  /** [min, max] corruptions chained on one image (AugMix-style); [1, 1] = one kind per image. */
  chain: [number, number];
}

/** `noise.eval`: fixed noisy copies of evaluation splits, one set per kind × severity (or SNR) × split. */
export interface EvalNoiseSettings {
  splits: ('train' | 'val' | 'test')[];
  seed: number;
  kinds: { kind: NoiseKind; severities: number[]; snr: number[] }[];
}

export interface NoiseSettings {
  train: TrainNoiseSettings;
  eval: EvalNoiseSettings;
  contact_sheet: { per_class: number };
}

const SPLIT = { type: 'string', enum: ['train', 'val', 'test'], description: 'a split: train, val or test' };
const KIND = { type: 'string', enum: [...NOISE_KINDS], description: `a noise kind: ${NOISE_KINDS.join(', ')}` };
const SEVERITY = { type: 'integer', minimum: 1, maximum: 5, description: 'named severity 1–5 (README table)' };

export const noiseSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'noise added to training data (train) and noisy evaluation sets (eval)',
  properties: {
    train: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'training noise, applied before augmentation',
      properties: {
        sources: {
          type: 'array',
          items: { type: 'string', minLength: 1, description: 'a source name from data.sources' },
          uniqueItems: true,
          default: [],
          description: 'sources whose images get noise (empty: all sources)',
        },
        splits: { type: 'array', items: SPLIT, uniqueItems: true, minItems: 1, default: ['train'], description: 'splits that get noise' },
        fraction: { type: 'number', minimum: 0, maximum: 1, default: 0, description: 'fraction of the eligible images that get noise (0 = none)' },
        mode: {
          type: 'string',
          enum: ['copies', 'replace'],
          default: 'copies',
          description: 'copies: add a noisy copy beside each chosen image; replace: the noisy image replaces it',
        },
        seed_offset: { type: 'integer', minimum: 0, default: 0, description: 'added to the experiment seed for training-noise draws' },
        chain: {
          type: 'array',
          items: { type: 'integer', minimum: 1, maximum: 4 },
          minItems: 2,
          maxItems: 2,
          default: [1, 1],
          description:
            '[min, max] corruptions applied one after another to a chosen image (AugMix-style chains: kinds drawn by `probability` without repeats, each with its own severity); [1, 1] = one kind per image',
        },
        kinds: {
          type: 'array',
          default: [],
          description: 'the kinds to draw from; each chosen image gets one kind, picked with weight `probability`',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['kind'],
            properties: {
              kind: KIND,
              probability: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'relative weight of this kind (normalised over the list)' },
              severity: {
                default: [1, 5],
                description: 'severity 1–5, or [min, max] drawn uniformly (integers)',
                anyOf: [SEVERITY, { type: 'array', items: SEVERITY, minItems: 2, maxItems: 2 }],
              },
            },
          },
        },
      },
    },
    eval: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'noisy evaluation sets: a noisy copy of each listed split per kind × severity (and rician SNR)',
      properties: {
        splits: {
          type: 'array',
          items: SPLIT,
          uniqueItems: true,
          minItems: 1,
          default: ['test'],
          description: 'splits to build noisy sets of (add val when the sweep objective needs noisy validation)',
        },
        seed: { type: 'integer', minimum: 0, default: 1, description: 'fixed seed of the evaluation noise (independent of the experiment seed)' },
        kinds: {
          type: 'array',
          default: [],
          description: 'list of {kind, severities: [...]} (rician also takes snr: [...])',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['kind'],
            properties: {
              kind: KIND,
              severities: { type: 'array', items: SEVERITY, uniqueItems: true, default: [], description: 'named severities 1–5' },
              snr: {
                type: 'array',
                items: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
                uniqueItems: true,
                default: [],
                description: 'rician only: target SNRs (mean foreground / σ), e.g. [20, 10, 5, 3]',
              },
            },
          },
        },
      },
    },
    contact_sheet: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'the contact-sheet.png written next to the output',
      properties: { per_class: { type: 'integer', minimum: 1, maximum: 8, default: 1, description: 'images per class shown' } },
    },
  },
};

export const noiseSchemaPart: SchemaPart = { section: 'noise', schema: noiseSchema };

/** The `noise` section of a validated config (defaults filled by the loader). */
export function noiseSettings(config: Record<string, unknown>): NoiseSettings {
  return (config.noise ?? {}) as NoiseSettings;
}
