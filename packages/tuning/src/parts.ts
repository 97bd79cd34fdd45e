/**
 * The schema parts of every section: tuning:sweep, the top of the pipeline, validates the whole
 * experiment before any stage runs, so it composes the parts of every package below it.
 */
import type { SchemaPart } from '@mri-robust/core';
import { dataSchemaPart } from '@mri-robust/data';
import { noiseSchemaPart } from '@mri-robust/noise';
import { augmentSchemaPart } from '@mri-robust/augment';
import { modelSchemaParts } from '@mri-robust/model';
import { reportSchemaPart } from '@mri-robust/report';
import { sweepSchemaPart } from './schema.ts';

/** Schema parts of all sections (data, augment, noise, model, train, evaluate, sweep, report). */
export const ALL_SCHEMA_PARTS: readonly SchemaPart[] = [
  dataSchemaPart,
  augmentSchemaPart,
  noiseSchemaPart,
  ...modelSchemaParts,
  sweepSchemaPart,
  reportSchemaPart,
];
