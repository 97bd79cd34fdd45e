/**
 * Prediction from an image file with a saved model folder: decode the file exactly as the ingest
 * stage does (@mri-robust/data decodeImage with the recorded size/channels/fit), preprocess as the
 * embed stage does (imagesToTensor), run the predictor and calibrate with the recorded temperature.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { UserError, stableStringify } from '@mri-robust/core';
import { BadImageError, decodeImage } from '@mri-robust/data';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { tf } from './backend/tf.ts';
import { currentBackend, selectBackend } from './backend/select.ts';
import { logitsFromProbabilities, softmaxRows } from './metrics/index.ts';
import { imagesToTensor } from './nets/preprocess.ts';
import { loadModel, type ModelMetadata, type Preprocessing } from './save.ts';

export interface Prediction {
  file: string;
  /** Most probable class. */
  class: string;
  /** Calibrated probabilities (softmax of log p / temperature), by class name. */
  probabilities: Record<string, number>;
  /** The network's own softmax output, by class name. */
  uncalibrated: Record<string, number>;
  temperature: number;
}

export interface LoadedPredictor {
  dir: string;
  model: LayersModel;
  metadata: ModelMetadata;
}

/** Default pixel limit for decoding (the data section's default). */
export const PREDICT_MAX_PIXELS = 50_000_000;

/**
 * Loads a model folder for prediction. With `expected`, the recorded preprocessing must equal it
 * (e.g. the preprocessing of the experiment the caller works with): a model from another
 * preprocessing is refused with a message naming the differences.
 */
export async function loadPredictor(dir: string, expected?: Preprocessing): Promise<LoadedPredictor> {
  if (!existsSync(dir)) throw new UserError(`model folder ${dir} does not exist (train one with model:train)`);
  if (!currentBackend()) await selectBackend('auto');
  const { model, metadata } = await loadModel(dir);
  if (expected) {
    const diffs = preprocessingDiffs(metadata.preprocessing, expected);
    if (diffs.length) {
      model.dispose();
      throw new UserError(`${dir}: the model was trained with another preprocessing: ${diffs.join('; ')}`);
    }
  }
  return { dir, model, metadata };
}

/** Human-readable differences between two preprocessing records ("decode.size 128 ≠ 224"). */
export function preprocessingDiffs(got: Preprocessing, want: Preprocessing): string[] {
  const flat = (p: Preprocessing): Record<string, unknown> => ({
    'decode.size': p.decode.size,
    'decode.channels': p.decode.channels,
    'decode.fit': p.decode.fit,
    inputSize: p.inputSize,
    inputChannels: p.inputChannels,
    scaling: p.scaling,
  });
  const a = flat(got);
  const b = flat(want);
  return Object.keys(a)
    .filter((k) => stableStringify(a[k]) !== stableStringify(b[k]))
    .map((k) => `${k} is ${String(a[k])} in the model, ${String(b[k])} expected`);
}

/** Decodes one image file into the predictor's input tensor [1, s, s, c]. */
export async function imageFileToInput(file: string, p: Preprocessing, maxPixels = PREDICT_MAX_PIXELS): Promise<Tensor> {
  if (!existsSync(file)) throw new UserError(`image file ${file} does not exist`);
  if (!(await stat(file)).isFile()) throw new UserError(`${file} is not a file`);
  let decoded;
  try {
    decoded = await decodeImage(new Uint8Array(await readFile(file)), { size: p.decode.size, channels: p.decode.channels, fit: p.decode.fit, maxPixels });
  } catch (e) {
    if (e instanceof BadImageError) throw new UserError(`${file}: cannot be used as an image: ${e.reason}`);
    throw e;
  }
  return imagesToTensor(decoded.pixels, 1, { height: p.decode.size, width: p.decode.size, channels: p.decode.channels }, {
    inputSize: p.inputSize,
    inputChannels: p.inputChannels,
  });
}

/** Class probabilities of one image with a loaded predictor. */
export async function predictWith(pred: LoadedPredictor, imageFile: string): Promise<Prediction> {
  const { metadata } = pred;
  const x = await imageFileToInput(imageFile, metadata.preprocessing);
  const y = tf.tidy(() => pred.model.predict(x) as Tensor);
  const probs = Float32Array.from(y.dataSync() as Float32Array);
  tf.dispose([x, y]);
  const k = metadata.classes.length;
  const calibrated = softmaxRows(logitsFromProbabilities(probs), k, metadata.temperature);
  let best = 0;
  for (let j = 1; j < k; j++) if (calibrated[j] > calibrated[best]) best = j;
  const byClass = (v: Float32Array) => Object.fromEntries(metadata.classes.map((c, j) => [c, v[j]]));
  return {
    file: imageFile,
    class: metadata.classes[best],
    probabilities: byClass(calibrated),
    uncalibrated: byClass(probs),
    temperature: metadata.temperature,
  };
}

/** Loads `modelDir` and predicts the class of `imageFile` (calibrated probabilities). */
export async function predictImage(modelDir: string, imageFile: string, expected?: Preprocessing): Promise<Prediction> {
  const pred = await loadPredictor(modelDir, expected);
  try {
    return await predictWith(pred, imageFile);
  } finally {
    pred.model.dispose();
  }
}
