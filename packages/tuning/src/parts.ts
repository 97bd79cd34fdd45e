/**
 * The schema parts of every package (tuning:sweep validates the whole experiment before any stage
 * runs) and the upstream stage functions, looked up on the packages' public APIs.
 */
import type { SchemaPart } from '@mri-robust/core';
import * as data from '@mri-robust/data';
import * as noise from '@mri-robust/noise';
import * as model from '@mri-robust/model';
import { sweepSchemaPart } from './schema.ts';

type Api = Record<string, unknown>;

function part(api: Api, name: string): SchemaPart[] {
  const p = api[name];
  return p && typeof p === 'object' && 'section' in p ? [p as SchemaPart] : [];
}

/**
 * Schema parts of all sections (data, augment, noise, model, train, evaluate, sweep, report).
 * The report package sits above tuning (it reads the tracking store), so it is imported lazily
 * to keep the package graph free of a static cycle.
 */
export async function allSchemaParts(): Promise<SchemaPart[]> {
  let report: Api = {};
  try {
    report = (await import('@mri-robust/report')) as Api;
  } catch {
    report = {};
  }
  const modelParts = (model as Api).modelSchemaParts;
  return [
    ...part(data as Api, 'dataSchemaPart'),
    ...part(data as Api, 'augmentSchemaPart'),
    ...part(noise as Api, 'noiseSchemaPart'),
    ...(Array.isArray(modelParts)
      ? (modelParts as SchemaPart[])
      : [...part(model as Api, 'modelSchemaPart'), ...part(model as Api, 'trainSchemaPart'), ...part(model as Api, 'evaluateSchemaPart')]),
    sweepSchemaPart as SchemaPart,
    ...part(report, 'reportSchemaPart'),
  ];
}

/** A function exported by a package, or a clear error naming what is missing. */
export function packageFunction<F>(pkg: 'data' | 'noise' | 'model', name: string): F {
  const api = ({ data, noise, model } as Record<string, Api>)[pkg];
  const f = api[name];
  if (typeof f !== 'function') throw new Error(`@mri-robust/${pkg} does not export ${name}() (needed by tuning:sweep)`);
  return f as F;
}
