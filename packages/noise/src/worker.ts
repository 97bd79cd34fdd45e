import { fromUint8, toUint8 } from './image.ts';
import { applyModel, getNoiseModel } from './models/registry.ts';
import type { NoiseParams } from './models/types.ts';

export interface NoiseJob {
  pixels: Uint8Array;
  kind: string;
  params: NoiseParams;
  seed: number;
  /** Corruptions applied one after another instead of (kind, params, seed) alone. */
  chain?: { kind: string; params: NoiseParams; seed: number }[];
}

export interface NoiseRequest {
  height: number;
  width: number;
  channels: number;
  jobs: NoiseJob[];
}

export interface NoiseResponse {
  pixels: Uint8Array[];
}

/** Noise on uint8 pixels (pure). */
export function noisePixels(job: NoiseJob, shape: { height: number; width: number; channels: number }): Uint8Array {
  let img = fromUint8(job.pixels, shape.height, shape.width, shape.channels);
  for (const step of job.chain ?? [{ kind: job.kind, params: job.params, seed: job.seed }])
    img = applyModel(getNoiseModel(step.kind), img, step.params, step.seed);
  return toUint8(img);
}

/** Worker-pool entry (loaded by file URL, so no import names it). @public */
export function handle(req: NoiseRequest): NoiseResponse {
  return { pixels: req.jobs.map((j) => noisePixels(j, req)) };
}
