// --- compute half (backend, kernels, nets, embed stage) ---
export { tf, type Tf } from './backend/tf.ts';
export {
  selectBackend,
  currentBackend,
  effectivePreference,
  prepareWasm,
  BACKEND_PREFERENCES,
  type BackendPreference,
  type BackendName,
  type SelectedBackend,
} from './backend/select.ts';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/wasm-training.ts';
export {
  openEmbedOutput,
  EMBED_FORMAT,
  EMBED_MANIFEST,
  type EmbedOutput,
  type EmbedManifest,
  type EmbedSetInfo,
  type EmbedSetData,
  type FeatureKind,
} from './io/embed-output.ts';
export {
  runEmbed,
  ensureEmbed,
  embedRunner,
  embedMain,
  embedBatchSize,
  EMBED_STAGE,
  EMBED_SCHEMA_PARTS,
  type EmbedUpstream,
  type EmbedContext,
  type EmbedResult,
} from './stage-embed.ts';
export {
  loadMobileNetV2,
  readBackboneArtifacts,
  splitAtLayer,
  trainableBackbone,
  layerNames,
  DEFAULT_CUT_LAYER,
  type LoadedBackbone,
  type BackboneArtifacts,
  type SplitModel,
} from './nets/mobilenet.ts';
export { buildCnn, type CnnOptions } from './nets/cnn.ts';
export { imagesToTensor, PREPROCESSING, PIXEL_SCALINGS, type PixelShape, type PixelScaling } from './nets/preprocess.ts';
export { BACKBONE_SPECS, PRETRAINED_BACKBONES, type BackboneSpec, type PretrainedBackbone } from './nets/backbones.ts';
export { modelHandler, fileModelHandler, modelJsonPath } from './io/file-handler.ts';
// --- end compute half ---
// --- learning half (schema, metrics, training, evaluation, save/predict, trials) ---
export {
  modelSchemaPart,
  trainSchemaPart,
  evaluateSchemaPart,
  modelSchemaParts,
  modelSettingsOf,
  trainSettingsOf,
  type ModelSettings,
  type TrainSettings,
  type EvaluateSettings,
  type TrainMode,
  type Backbone,
  type BackendChoice,
} from './schema.ts';
export * from './metrics/index.ts';
export { evaluateProbabilities, type EvaluationRecord, type EvaluateInput } from './evaluate.ts';
export {
  saveModel,
  loadModel,
  readModelMetadata,
  fileSaveHandler,
  fileLoadHandler,
  METADATA_JSON,
  type ModelMetadata,
  type Preprocessing,
} from './save.ts';
export {
  trainLoop,
  buildClassifier,
  arraySource,
  subsetSource,
  balancedClassWeights,
  predictSource,
  type BatchSource,
  type Classifier,
  type LoopOptions,
  type LoopResult,
  type TrialParams,
  type EpochRecord,
  type OnEpoch,
} from './train/index.ts';
export {
  trainTrial,
  reevaluateTrial,
  loadEmbedOutput,
  evaluateModelDir,
  checkModelMatchesFeatures,
  testSetsOf,
  preprocessingOf,
  EVALUATION_JSON,
  type TrainTrialOptions,
  type TrialResult,
} from './trial.ts';
export {
  predictImage,
  predictWith,
  loadPredictor,
  imageFileToInput,
  preprocessingDiffs,
  type Prediction,
  type LoadedPredictor,
} from './predict.ts';
export { main as modelCliMain, formatEvaluations, defaultTrainDir } from './cli.ts';
// Corruption baseline (CE/mCE denominators; report) and ensembles / TTA scored from pixels (serve, lead's measurements).
export { ensureBaseline, type BaselineScores } from './baseline.ts';
export { memberMismatch, parseModelList } from './ensemble.ts';
export { evaluateFromPixels, type PixelEvaluation, type PixelEvaluationOptions } from './evaluate-pixels.ts';
// --- end learning half ---

// --- grad-cam and predict server (owner: serve helper) ---
export {
  gradCam,
  explainImage,
  explainPixels,
  writeGradCamFile,
  writeGradCamGallery,
  overlayPng,
  scanPng,
  writeOverlayPng,
  pngDataUri,
  colorize,
  camFromGradients,
  normalizeMap,
  resizeBilinear,
  findFeatureLayer,
  defaultCamLayer,
  contentExtent,
  type CamMethod,
  type GradCamOptions,
  type GradCamResult,
  type Explanation,
  type ExplainOptions,
  type ColormapName,
  type Gallery,
  type GalleryItem,
  type GalleryOptions,
} from './gradcam/index.ts';
export { prepareImage, sniffImage, ImageInputError, type PreparedImage } from './prepare-image.ts';
export {
  provenanceOf,
  provenanceLines,
  formatAccuracy,
  formatSource,
  SYNTHETIC_WARNING,
  type ModelProvenance,
  type ModelSummary,
  type ModelDataSource,
  type AccuracyInterval,
} from './provenance.ts';
export { trainTinyModel, TINY_CLASSES, type TinyModel, type TinyModelOptions } from './testing/tiny-model.ts';
export { trainTinyTrial, type TinyTrialOptions } from './testing/tiny-trial.ts';
// --- end grad-cam and predict server ---
