/** The `data` section of an experiment: its schema (TypeBox, owned by this package) and, derived from it, its type. */
import { IntegerEnum, type SectionIssue, StringEnum, schemaPart, sectionOf } from '@mri-robust/core';
import { type Static, Type } from '@sinclair/typebox';

const NAME = { pattern: '^[A-Za-z0-9._-]+$', description: 'letters, digits, ".", "_" or "-"' };
const name = (description: string) => Type.String({ ...NAME, description });

const phantomSource = Type.Object(
  {
    name: name('source name (letters, digits, ".", "_" or "-")'),
    kind: Type.Literal('phantom', { description: '"phantom": synthetic slices generated from the seed' }),
    count_per_class: Type.Integer({ minimum: 1, maximum: 100000, default: 100, description: 'phantoms per class' }),
    size: Type.Integer({ minimum: 32, maximum: 1024, default: 160, description: 'side of a generated slice in pixels' }),
    test_fraction: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'fraction generated as the source\'s own "Testing" part (used by split.mode source_test)',
    }),
  },
  { additionalProperties: false, description: 'a SYNTHETIC source of procedurally generated brain-like slices (not real patients)' },
);

const kaggleSource = Type.Object(
  {
    name: name('source name (letters, digits, ".", "_" or "-")'),
    kind: StringEnum(['kaggle'], { default: 'kaggle', description: '"kaggle" (a downloaded folder) or "phantom"' }),
    /** Folder of the download, relative to `data.root` (itself relative to the experiment file). */
    root: Type.String({ minLength: 1, description: 'folder of the data set, relative to data.root' }),
  },
  { additionalProperties: false, description: 'a folder in the Kaggle layout: [Training/|Testing/]<class>/<image files>' },
);

type KaggleSource = Static<typeof kaggleSource>;
export type PhantomSource = Static<typeof phantomSource>;
export type SourceSettings = KaggleSource | PhantomSource;

/** `if kind is phantom then … else …`: errors name the fields of the one kind meant, not of both. */
const source = Type.Unsafe<SourceSettings>({
  type: 'object',
  if: { type: 'object', properties: { kind: { const: 'phantom' } }, required: ['kind'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else, not a thenable
  then: phantomSource,
  else: kaggleSource,
});

const dataSchema = Type.Object(
  {
    root: Type.String({
      default: '.',
      description: 'data root: relative source roots are resolved against it; itself relative to the experiment file',
    }),
    sources: Type.Array(source, {
      minItems: 1,
      default: [{ name: 'phantom', kind: 'phantom' }],
      description: 'list of {name, root} (Kaggle layout) or {name, kind: phantom} (synthetic) sources',
    }),
    classes: Type.Array(name('class name'), {
      minItems: 2,
      uniqueItems: true,
      default: ['glioma', 'meningioma', 'notumor', 'pituitary'],
      description: 'the class labels, in order; folder names are mapped onto them through aliases',
    }),
    aliases: Type.Unsafe<Record<string, string>>({
      type: 'object',
      default: {},
      additionalProperties: { type: 'string', description: 'a class name from data.classes' },
      description:
        'extra folder-name → class mappings, added to the built-in ones (glioma_tumor→glioma, meningioma_tumor→meningioma, no_tumor→notumor, pituitary_tumor→pituitary, …)',
    }),
    image: Type.Object(
      {
        size: Type.Integer({ minimum: 16, maximum: 1024, default: 128, description: 'output side in pixels (square)' }),
        channels: IntegerEnum([1, 3], { default: 1, description: '1 (grey) or 3 (RGB)' }),
        fit: StringEnum(['pad', 'crop', 'fill'], {
          default: 'pad',
          description: 'pad: keep aspect and pad with black; crop: keep aspect and crop the centre; fill: stretch',
        }),
      },
      { additionalProperties: false, default: {}, description: 'shape of the ingested pixels' },
    ),
    dedup: Type.Object(
      {
        exact: Type.Boolean({ default: true, description: 'group images with identical decoded pixels' }),
        near: Type.Boolean({ default: true, description: 'group images whose mirror-invariant perceptual hashes are within `hamming` bits' }),
        hamming: Type.Integer({
          minimum: 0,
          maximum: 32,
          default: 4,
          description: 'largest Hamming distance (of 63 bits) that still counts as a near duplicate',
        }),
        min_correlation: Type.Number({
          minimum: -1,
          maximum: 1,
          default: 0.93,
          description: 'a near pair must also have 32×32 thumbnails (mirror-aligned) correlating at least this much; -1 turns the check off',
        }),
        conflicts: StringEnum(['drop', 'majority'], {
          default: 'drop',
          description: 'a group whose copies carry different labels: drop it, or keep the majority label (ties dropped)',
        }),
      },
      { additionalProperties: false, default: {}, description: 'duplicate detection across all sources and splits' },
    ),
    split: Type.Object(
      {
        mode: StringEnum(['fractions', 'source_test'], {
          default: 'fractions',
          description:
            "fractions: train/val/test fractions of everything; source_test: the sources' own Testing folders are the test set, the rest is split train/val",
        }),
        train: Type.Number({ minimum: 0, maximum: 1, default: 0.7, description: 'fraction for training' }),
        val: Type.Number({ minimum: 0, maximum: 1, default: 0.1, description: 'fraction for validation' }),
        test: Type.Number({ minimum: 0, maximum: 1, default: 0.2, description: 'fraction for test (mode fractions; ignored by source_test)' }),
      },
      { additionalProperties: false, default: {}, description: 'how kept images are split; stratified by class and seeded by the experiment seed' },
    ),
    min_per_class: Type.Integer({ minimum: 0, default: 10, description: 'the stage fails when a class ends with fewer kept images than this' }),
    max_pixels: Type.Integer({ minimum: 1, default: 50_000_000, description: 'images declaring more pixels than this are skipped (decompression-bomb guard)' }),
  },
  { additionalProperties: false, description: 'ingest settings: sources, classes, image shape, de-duplication, splits' },
);

/** The `data` section, defaults filled in. */
export type DataSettings = Static<typeof dataSchema>;

// Checked with the rest of the experiment (file:line), not first when ingest runs.
function checkSplit(d: DataSettings): SectionIssue[] {
  const s = d.split;
  if (s.mode !== 'fractions') return [];
  const sum = s.train + s.val + s.test;
  return Math.abs(sum - 1) > 1e-6
    ? [{ pointer: '/split', message: `train + val + test must be 1 (got ${s.train} + ${s.val} + ${s.test} = ${+sum.toFixed(6)})` }]
    : [];
}

export const dataSchemaPart = schemaPart('data', dataSchema, checkSplit);

/** The `data` section of a loaded experiment (validated, defaults filled in). */
export const dataSettingsOf = sectionOf(dataSchemaPart);
