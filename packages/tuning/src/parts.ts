/**
 * The schema parts of every package: tuning:sweep validates the whole experiment before any stage
 * runs. The report package sits above tuning (it reads the tracking store), so it is imported
 * lazily, keeping the package graph free of a static cycle.
 */
import type { SchemaPart } from '@mri-robust/core';
import { augmentSchemaPart, dataSchemaPart } from '@mri-robust/data';
import { noiseSchemaPart } from '@mri-robust/noise';
import { modelSchemaParts } from '@mri-robust/model';
import { sweepSchemaPart } from './schema.ts';

/** Schema parts of all sections (data, augment, noise, model, train, evaluate, sweep, report). */
export async function allSchemaParts(): Promise<SchemaPart[]> {
  let report: Record<string, unknown> = {};
  try {
    report = (await import('@mri-robust/report')) as Record<string, unknown>;
  } catch {
    report = {};
  }
  const reportPart = report.reportSchemaPart as SchemaPart | undefined;
  return [
    dataSchemaPart as SchemaPart,
    augmentSchemaPart as SchemaPart,
    noiseSchemaPart as SchemaPart,
    ...(modelSchemaParts as SchemaPart[]),
    sweepSchemaPart as SchemaPart,
    ...(reportPart && typeof reportPart === 'object' && 'section' in reportPart ? [reportPart] : []),
  ];
}
