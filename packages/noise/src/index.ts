export { NOISE_KINDS, type NoiseKind, type NoiseModel, type NoiseParams, type NoiseDomain, type ParamSpec } from './models/types.ts';
export {
  noiseModels,
  applyNoise,
  applyModel,
  resolveNoiseParams,
  validateParams,
  getNoiseModel,
  isNoiseKind,
  MAX_SEVERITY,
  type NoiseSpec,
} from './models/registry.ts';
export { drawMotion, rigidWarp, type MotionPose } from './models/kspace.ts';
export { foregroundMean, otsuThreshold, samplePoisson } from './models/sampling.ts';
export { fftPlan, fft2d, ifft2d, type Complex2D, type FftPlan } from './fft.ts';
export { createImage, fromUint8, toUint8, isGrey, type FloatImage } from './image.ts';
export { noiseSchemaPart, noiseSchema, noiseSettings, type NoiseSettings, type TrainNoiseSettings, type EvalNoiseSettings } from './schema.ts';
export {
  planTrainNoise,
  inSources,
  evalSetSpecs,
  evalImageSeed,
  checkNoiseSettings,
  ricianSeverityForSnr,
  benchmarkSetSpecs,
  BENCHMARKS,
  MRI_C_SEED,
  type BenchmarkName,
  type EvalSetSpec,
  type NoiseTag,
  type PlannedNoise,
} from './plan.ts';
export { runNoise, noiseRunner, noiseKey, benchmarkOf, SETS_FILE, type NoiseSets, type NoiseContext, type StageOutput } from './stage.ts';
export { noisePixels } from './worker.ts';
