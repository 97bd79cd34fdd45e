// Only what other packages (their src, bench, test) import; model's own tests import the modules directly.
// --- compute half (backend, kernels, nets, embed stage) ---
export { tf } from './backend/tf.ts';
export { selectBackend, currentBackend, type BackendPreference } from './backend/select.ts';
export { openEmbedOutput, type EmbedOutput } from './io/embed-output.ts';
export { embedRunner } from './stage-embed.ts';
// --- end compute half ---
// --- learning half (schema, metrics, training, evaluation, save/predict, trials) ---
export { modelSchemaParts, modelSettingsOf, trainSettingsOf } from './schema.ts';
export { softmaxRows, logitsFromProbabilities } from './metrics/index.ts';
export type { EvaluationRecord } from './evaluate.ts';
export { loadModel } from './save.ts';
export type { EpochRecord } from './train/index.ts';
export { trainTrial, reevaluateTrial } from './trial.ts';
export { loadPredictor, type LoadedPredictor } from './predict.ts';
// Corruption baseline (CE/mCE denominators; report) and ensemble model lists (serve).
export { ensureBaseline, type BaselineScores } from './baseline.ts';
export { memberMismatch, parseModelList } from './ensemble.ts';
// --- end learning half ---

// --- grad-cam and predict server (owner: serve helper) ---
export {
  explainImage,
  explainInput,
  camMethodOf,
  writeGradCamGallery,
  scanPng,
  pngDataUri,
  type ExplainOptions,
  type Gallery,
} from './gradcam/index.ts';
export { prepareInput, ImageInputError } from './prepare-image.ts';
export { provenanceOf, formatAccuracy, formatSource, SYNTHETIC_WARNING, type ModelProvenance } from './provenance.ts';
export { trainTinyModel, TINY_CLASSES } from './testing/tiny-model.ts';
export { trainTinyTrial } from './testing/tiny-trial.ts';
// --- end grad-cam and predict server ---
