/** The `data` section of an experiment: JSON Schema (owned by this package) and its typed form. */
import type { SchemaPart } from '@mri-robust/core';
import type { Fit } from './decode.ts';

export interface KaggleSource {
  name: string;
  kind: 'kaggle';
  /** Folder of the download, relative to `data.root` (itself relative to the experiment file). */
  root: string;
}

export interface PhantomSource {
  name: string;
  kind: 'phantom';
  count_per_class: number;
  /** Side of the generated slices in pixels. */
  size: number;
  /** Fraction of each class's phantoms that play the role of the source's own Testing folder. */
  test_fraction: number;
}

export type SourceSettings = KaggleSource | PhantomSource;

export interface DataSettings {
  root: string;
  sources: SourceSettings[];
  classes: string[];
  aliases: Record<string, string>;
  image: { size: number; channels: 1 | 3; fit: Fit };
  dedup: { exact: boolean; near: boolean; hamming: number; min_correlation: number; conflicts: 'drop' | 'majority' };
  split: { mode: 'fractions' | 'source_test'; train: number; val: number; test: number };
  min_per_class: number;
  max_pixels: number;
}

const NAME = { type: 'string', pattern: '^[A-Za-z0-9._-]+$', description: 'letters, digits, ".", "_" or "-"' };

const phantomSource = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  description: 'a SYNTHETIC source of procedurally generated brain-like slices (not real patients)',
  properties: {
    name: { ...NAME, description: 'source name (letters, digits, ".", "_" or "-")' },
    kind: { type: 'string', const: 'phantom', description: '"phantom": synthetic slices generated from the seed' },
    count_per_class: { type: 'integer', minimum: 1, maximum: 100000, default: 100, description: 'phantoms per class' },
    size: { type: 'integer', minimum: 32, maximum: 1024, default: 160, description: 'side of a generated slice in pixels' },
    test_fraction: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'fraction generated as the source\'s own "Testing" part (used by split.mode source_test)',
    },
  },
};

const kaggleSource = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'root'],
  description: 'a folder in the Kaggle layout: [Training/|Testing/]<class>/<image files>',
  properties: {
    name: { ...NAME, description: 'source name (letters, digits, ".", "_" or "-")' },
    kind: { type: 'string', enum: ['kaggle'], default: 'kaggle', description: '"kaggle" (a downloaded folder) or "phantom"' },
    root: { type: 'string', minLength: 1, description: 'folder of the data set, relative to data.root' },
  },
};

export const dataSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'ingest settings: sources, classes, image shape, de-duplication, splits',
  properties: {
    root: {
      type: 'string',
      default: '.',
      description: 'data root: relative source roots are resolved against it; itself relative to the experiment file',
    },
    sources: {
      type: 'array',
      minItems: 1,
      default: [{ name: 'phantom', kind: 'phantom' }],
      description: 'list of {name, root} (Kaggle layout) or {name, kind: phantom} (synthetic) sources',
      items: {
        type: 'object',
        if: { type: 'object', properties: { kind: { const: 'phantom' } }, required: ['kind'] },
        then: phantomSource,
        else: kaggleSource,
      },
    },
    classes: {
      type: 'array',
      minItems: 2,
      uniqueItems: true,
      items: { ...NAME, description: 'class name' },
      default: ['glioma', 'meningioma', 'notumor', 'pituitary'],
      description: 'the class labels, in order; folder names are mapped onto them through aliases',
    },
    aliases: {
      type: 'object',
      default: {},
      additionalProperties: { type: 'string', description: 'a class name from data.classes' },
      description:
        'extra folder-name → class mappings, added to the built-in ones (glioma_tumor→glioma, meningioma_tumor→meningioma, no_tumor→notumor, pituitary_tumor→pituitary, …)',
    },
    image: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'shape of the ingested pixels',
      properties: {
        size: { type: 'integer', minimum: 16, maximum: 1024, default: 128, description: 'output side in pixels (square)' },
        channels: { type: 'integer', enum: [1, 3], default: 1, description: '1 (grey) or 3 (RGB)' },
        fit: {
          type: 'string',
          enum: ['pad', 'crop', 'fill'],
          default: 'pad',
          description: 'pad: keep aspect and pad with black; crop: keep aspect and crop the centre; fill: stretch',
        },
      },
    },
    dedup: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'duplicate detection across all sources and splits',
      properties: {
        exact: { type: 'boolean', default: true, description: 'group images with identical decoded pixels' },
        near: {
          type: 'boolean',
          default: true,
          description: 'group images whose mirror-invariant perceptual hashes are within `hamming` bits',
        },
        hamming: {
          type: 'integer',
          minimum: 0,
          maximum: 32,
          default: 4,
          description: 'largest Hamming distance (of 63 bits) that still counts as a near duplicate',
        },
        min_correlation: {
          type: 'number',
          minimum: -1,
          maximum: 1,
          default: 0.93,
          description: 'a near pair must also have 32×32 thumbnails (mirror-aligned) correlating at least this much; -1 turns the check off',
        },
        conflicts: {
          type: 'string',
          enum: ['drop', 'majority'],
          default: 'drop',
          description: 'a group whose copies carry different labels: drop it, or keep the majority label (ties dropped)',
        },
      },
    },
    split: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'how kept images are split; stratified by class and seeded by the experiment seed',
      properties: {
        mode: {
          type: 'string',
          enum: ['fractions', 'source_test'],
          default: 'fractions',
          description:
            "fractions: train/val/test fractions of everything; source_test: the sources' own Testing folders are the test set, the rest is split train/val",
        },
        train: { type: 'number', minimum: 0, maximum: 1, default: 0.7, description: 'fraction for training' },
        val: { type: 'number', minimum: 0, maximum: 1, default: 0.1, description: 'fraction for validation' },
        test: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: 0.2,
          description: 'fraction for test (mode fractions; ignored by source_test)',
        },
      },
    },
    min_per_class: {
      type: 'integer',
      minimum: 0,
      default: 10,
      description: 'the stage fails when a class ends with fewer kept images than this',
    },
    max_pixels: {
      type: 'integer',
      minimum: 1,
      default: 50_000_000,
      description: 'images declaring more pixels than this are skipped (decompression-bomb guard)',
    },
  },
};

export const dataSchemaPart: SchemaPart = {
  section: 'data',
  schema: dataSchema,
  // Checked with the rest of the experiment (file:line), not first when ingest runs.
  check: (d: { split?: { mode?: string; train?: number; val?: number; test?: number } }) => {
    const s = d?.split;
    if (!s || s.mode !== 'fractions') return [];
    const sum = (s.train ?? 0) + (s.val ?? 0) + (s.test ?? 0);
    return Math.abs(sum - 1) > 1e-6
      ? [{ pointer: '/split', message: `train + val + test must be 1 (got ${s.train} + ${s.val} + ${s.test} = ${+sum.toFixed(6)})` }]
      : [];
  },
};
