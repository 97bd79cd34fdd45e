import { createRng } from '@mri-robust/core';
import type { FloatImage } from '../image.ts';
import { firstPlane, fromPlanes, isGrey, toPlanes } from '../image.ts';
import { blurModels } from './blur.ts';
import { kspaceModels } from './kspace.ts';
import { pixelModels } from './pixel.ts';
import { NOISE_KINDS, type NoiseKind, type NoiseModel, type NoiseParams } from './types.ts';

/** Every noise model, keyed by kind. */
export const noiseModels: Readonly<Record<NoiseKind, NoiseModel>> = Object.freeze(
  Object.fromEntries([...pixelModels, ...blurModels, ...kspaceModels].map((m) => [m.kind, m])) as Record<NoiseKind, NoiseModel>,
);

export const MAX_SEVERITY = 5;

/** What to apply: a kind with a named severity (0–5), explicit params, or (rician only) an SNR. */
export interface NoiseSpec {
  kind: NoiseKind | string;
  severity?: number;
  params?: Record<string, number>;
  snr?: number;
}

function isNoiseKind(kind: string): kind is NoiseKind {
  return (NOISE_KINDS as readonly string[]).includes(kind);
}

export function getNoiseModel(kind: string): NoiseModel {
  if (!isNoiseKind(kind)) throw new RangeError(`unknown noise kind "${kind}" (known: ${NOISE_KINDS.join(', ')})`);
  return noiseModels[kind];
}

/** Checks explicit parameters against the model's table (names, ranges, integers, required ones). */
function validateParams(model: NoiseModel, params: Record<string, number>): NoiseParams {
  const out: NoiseParams = {};
  for (const [name, value] of Object.entries(params)) {
    const spec = model.params[name];
    if (!spec) throw new RangeError(`${model.kind}: unknown parameter "${name}" (known: ${Object.keys(model.params).join(', ')})`);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${model.kind}.${name} must be a finite number`);
    if (value < spec.min || value > spec.max) throw new RangeError(`${model.kind}.${name} = ${value} is outside [${spec.min}, ${spec.max}]`);
    if (spec.integer && !Number.isInteger(value)) throw new RangeError(`${model.kind}.${name} must be an integer, got ${value}`);
    out[name] = value;
  }
  for (const [name, spec] of Object.entries(model.params)) {
    if (!spec.optional && out[name] === undefined) throw new RangeError(`${model.kind}: parameter "${name}" is required`);
  }
  if (model.kind === 'rician' && out.sigma === undefined && out.snr === undefined) {
    throw new RangeError('rician: give sigma or snr');
  }
  return out;
}

/** The parameters a spec stands for (severity → table row, snr → {snr}, params checked). */
export function resolveNoiseParams(spec: NoiseSpec): NoiseParams {
  const model = getNoiseModel(spec.kind);
  const given = [spec.severity !== undefined, spec.params !== undefined, spec.snr !== undefined].filter(Boolean).length;
  if (given !== 1) throw new RangeError(`${spec.kind}: give exactly one of severity, params or snr`);
  if (spec.snr !== undefined) {
    if (model.kind !== 'rician') throw new RangeError(`${spec.kind}: snr applies to rician only`);
    return validateParams(model, { snr: spec.snr });
  }
  if (spec.params !== undefined) return validateParams(model, spec.params);
  const s = spec.severity as number;
  if (!Number.isInteger(s) || s < 0 || s > MAX_SEVERITY) throw new RangeError(`${spec.kind}: severity must be an integer 0–${MAX_SEVERITY}, got ${s}`);
  return { ...model.levels[s] };
}

/**
 * Applies one noise model to a float image in [0, 1]; returns a new image of the same shape with
 * values clipped to [0, 1]. Pure: the result depends only on (image, spec, seed). A grey image
 * stored with several channels is processed once and stays grey.
 */
export function applyNoise(image: FloatImage, spec: NoiseSpec, seed: number | string): FloatImage {
  const model = getNoiseModel(spec.kind);
  const params = resolveNoiseParams(spec);
  return applyModel(model, image, params, seed);
}

export function applyModel(model: NoiseModel, image: FloatImage, params: NoiseParams, seed: number | string): FloatImage {
  const { height, width, channels } = image;
  const rng = createRng(`${model.kind}:${seed}`);
  const grey = isGrey(image);
  const planes = grey ? [firstPlane(image)] : toPlanes(image);
  const out = model.apply(planes, params, { height, width, rng });
  return fromPlanes(out, height, width, channels);
}
