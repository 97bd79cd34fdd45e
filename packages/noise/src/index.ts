// Public API of @mri-robust/noise: what the other packages (and this package's tests and benches) use.
export { NOISE_KINDS } from './models/types.ts';
export { noiseModels, applyNoise, applyModel, resolveNoiseParams } from './models/registry.ts';
export { drawMotion, rigidWarp } from './models/kspace.ts';
export { foregroundMean } from './models/sampling.ts';
export { fftPlan, fft2d, ifft2d, type Complex2D } from './fft.ts';
export { fromUint8, toUint8, type FloatImage } from './image.ts';
export { noiseSchemaPart, noiseSettingsOf, type TrainNoiseSettings } from './schema.ts';
export {
  planTrainNoise,
  evalSetSpecs,
  checkNoiseSettings,
  ricianSeverityForSnr,
  benchmarkSetSpecs,
} from './plan.ts';
export { runNoise, noiseRunner, noiseKey, benchmarkOf, SETS_FILE, type NoiseSets } from './stage.ts';
export { noisePixels } from './worker.ts';
