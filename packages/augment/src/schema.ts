/** The `augment` section of an experiment: its schema (TypeBox, owned by this package) and, derived from it, its type. */
import { Pair, schemaPart, sectionOf } from '@mri-robust/core';
import { type Static, type TProperties, Type } from '@sinclair/typebox';

const P = (d: number, what: string) => Type.Number({ minimum: 0, maximum: 1, default: d, description: `probability that a copy gets ${what} (0–1)` });

const range = (d: [number, number], lo: number, hi: number, what: string) =>
  Pair(Type.Number({ minimum: lo, maximum: hi }), { default: d, description: `[min, max] ${what}, each in [${lo}, ${hi}]` });

const op = <T extends TProperties>(description: string, properties: T) => Type.Object(properties, { additionalProperties: false, default: {}, description });

/** Schema of the `augment` section (training augmentation; val/test are never augmented). */
const augmentSchema = Type.Object(
  {
    /** K: augmented copies added per training image (0 = none). */
    copies: Type.Integer({ minimum: 0, maximum: 20, default: 1, description: 'K: augmented copies added per training image (0 = no augmentation)' }),
    seed_offset: Type.Integer({ minimum: 0, default: 0, description: 'added to the experiment seed for augmentation draws' }),
    rotation: op('rotation about the image centre', {
      p: P(0.5, 'a rotation'),
      degrees: Type.Number({ minimum: 0, maximum: 180, default: 15, description: 'angle ~ U(−degrees, degrees)' }),
    }),
    hflip: op('horizontal (left-right) flip', { p: P(0.5, 'a flip') }),
    zoom: op('zoom about the centre (> 1 enlarges)', {
      p: P(0.3, 'a zoom'),
      range: range([0.9, 1.1], 0.25, 4, 'zoom factor, uniform'),
    }),
    translation: op('shift, as a fraction of the image side', {
      p: P(0.3, 'a shift'),
      fraction: Type.Number({ minimum: 0, maximum: 0.5, default: 0.08, description: 'shift ~ U(−f, f)·side along each axis' }),
    }),
    brightness: op('additive brightness change', {
      p: P(0.3, 'a brightness change'),
      delta: Type.Number({ minimum: 0, maximum: 1, default: 0.1, description: 'added value ~ U(−delta, delta)' }),
    }),
    contrast: op('contrast change around the image mean', {
      p: P(0.3, 'a contrast change'),
      range: range([0.8, 1.2], 0, 4, 'contrast factor, uniform'),
    }),
    gamma: op('gamma x^γ', {
      p: P(0.2, 'a gamma change'),
      range: range([0.8, 1.25], 0.1, 10, 'γ, log-uniform'),
    }),
    clahe: op('contrast-limited adaptive histogram equalisation', {
      p: P(0.1, 'CLAHE'),
      tiles: Type.Integer({ minimum: 1, maximum: 64, default: 8, description: 'tile grid is tiles × tiles' }),
      clip_limit: Type.Number({
        minimum: 0,
        maximum: 100,
        default: 2,
        description: 'histogram clip limit, relative to a flat histogram (OpenCV clipLimit; 0 = plain AHE)',
      }),
    }),
    contact_sheet: op('the contact-sheet.png written next to the output', {
      per_class: Type.Integer({ minimum: 1, maximum: 8, default: 2, description: 'images per class shown' }),
    }),
  },
  { additionalProperties: false, description: 'training augmentation: K seeded copies of each training image (val/test untouched)' },
);

/** The `augment` section, defaults filled in. */
export type AugmentSettings = Static<typeof augmentSchema>;

export const augmentSchemaPart = schemaPart('augment', augmentSchema);

/** The `augment` section of a loaded experiment (validated, defaults filled in). */
export const augmentSettingsOf = sectionOf(augmentSchemaPart);
