import type { Rng } from '@mri-robust/core';

export const NOISE_KINDS = [
  'gaussian',
  'rician',
  'salt_pepper',
  'speckle',
  'poisson',
  'gaussian_blur',
  'motion_blur',
  'kspace_motion',
  'ghosting',
  'spike',
  'gibbs',
  'bias_field',
] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

export type NoiseParams = Record<string, number>;

/** How a model acts: per pixel, by convolution, in k-space (FFT), or as a smooth multiplicative field. */
type NoiseDomain = 'pixel' | 'blur' | 'kspace' | 'field';

interface ParamSpec {
  min: number;
  max: number;
  integer?: boolean;
  /** Optional parameters are drawn at random when absent (e.g. a blur angle, a ghost axis). */
  optional?: boolean;
  doc: string;
}

interface PlaneContext {
  height: number;
  width: number;
  rng: Rng;
}

/**
 * A noise model. `apply` receives one plane per processed channel (a grey image sends one plane)
 * and must use the same random draws for every plane, so that a grey image stays grey. It must
 * not modify its inputs; the caller clips the result to [0, 1].
 */
export interface NoiseModel {
  kind: NoiseKind;
  domain: NoiseDomain;
  summary: string;
  params: Record<string, ParamSpec>;
  /** levels[0] is the zero-strength setting (identity), levels[1..5] the named severities. */
  levels: readonly NoiseParams[];
  apply(planes: Float32Array[], params: NoiseParams, ctx: PlaneContext): Float32Array[];
}
