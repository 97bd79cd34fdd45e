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
// --- end compute half ---
