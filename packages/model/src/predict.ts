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
import { currentBackend, selectBackend } from './backend/select.ts';
import { selectInference, type InferencePreference, type InferenceRecord } from './backend/inference.ts';
import { logitsFromProbabilities, softmaxRows } from './metrics/index.ts';
import { imagesToTensor, pixelScalingOf } from './nets/preprocess.ts';
import { createForward, type Forward } from './onnx/forward.ts';
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
  /** Engine of the forward pass. */
  inference: InferenceRecord;
}

export interface LoadedPredictor {
  dir: string;
  /** The tfjs model (Grad-CAM's gradient path, and the fallback engine). */
  model: LayersModel;
  metadata: ModelMetadata;
  /** image → probabilities (+ `cam` where the head allows it) on the selected engine. */
  forward: Forward;
  inference: InferenceRecord;
  dispose(): Promise<void>;
}

export interface PredictorOptions {
  /** Preprocessing the model must have been trained with (refused otherwise). */
  expected?: Preprocessing;
  inference?: InferencePreference;
  threads?: number;
  log?: (line: string) => void;
}

/** Default pixel limit for decoding (the data section's default). */
export const PREDICT_MAX_PIXELS = 50_000_000;

/**
 * Loads a model folder for prediction: the tfjs model, checked (model hash, preprocessing), and a
 * forward pass on the selected engine — ONNX Runtime runs the folder's model.onnx (exported on the
 * fly for folders saved before model.onnx existed), tfjs the layers model. With `expected`, the
 * recorded preprocessing must equal it (e.g. the preprocessing of the experiment the caller works
 * with): a model from another preprocessing is refused with a message naming the differences.
 */
export async function loadPredictor(dir: string, opts: PredictorOptions | Preprocessing = {}): Promise<LoadedPredictor> {
  const o: PredictorOptions = 'decode' in opts ? { expected: opts } : opts;
  if (!existsSync(dir)) throw new UserError(`model folder ${dir} does not exist (train one with model:train)`);
  if (!currentBackend()) await selectBackend('auto');
  const { model, metadata, onnx } = await loadModel(dir);
  try {
    if (o.expected) {
      const diffs = preprocessingDiffs(metadata.preprocessing, o.expected);
      if (diffs.length) throw new UserError(`${dir}: the model was trained with another preprocessing: ${diffs.join('; ')}`);
    }
    let engine = await selectInference(o.inference ?? 'auto', o.threads, o.log);
    if (engine.engine === 'onnxruntime' && !onnx && metadata.onnx === null) {
      // Saved without model.onnx: a layer the exporter lacks (metadata.onnxUnavailable says which).
      (o.log ?? ((l: string) => process.stderr.write(l + '\n')))(
        `[inference] ${dir}: no model.onnx (${metadata.onnxUnavailable ?? 'not exported'}); using tfjs`,
      );
      engine = { engine: 'tfjs', threads: 1, ort: null };
    }
    const forward = await createForward(model, engine, onnx ? { onnx } : { cam: true });
    return {
      dir,
      model,
      metadata,
      forward,
      inference: { engine: forward.engine, threads: forward.threads },
      async dispose() {
        await forward.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
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
    denoise: p.denoise ? `${p.denoise.kind} ${p.denoise.window}×${p.denoise.window}` : 'none',
  });
  const a = flat(got);
  const b = flat(want);
  return Object.keys(a)
    .filter((k) => stableStringify(a[k]) !== stableStringify(b[k]))
    .map((k) => `${k} is ${String(a[k])} in the model, ${String(b[k])} expected`);
}

/** Decodes one image file into the predictor's input tensor [1, s, s, c] (`frame`: of a multi-frame DICOM, 0-based). */
export async function imageFileToInput(file: string, p: Preprocessing, maxPixels = PREDICT_MAX_PIXELS, frame?: number): Promise<Tensor> {
  if (!existsSync(file)) throw new UserError(`image file ${file} does not exist`);
  if (!(await stat(file)).isFile()) throw new UserError(`${file} is not a file`);
  let decoded: Awaited<ReturnType<typeof decodeImage>>;
  try {
    decoded = await decodeImage(new Uint8Array(await readFile(file)), {
      size: p.decode.size,
      channels: p.decode.channels,
      fit: p.decode.fit,
      maxPixels,
      ...(frame === undefined ? {} : { frame }),
    });
  } catch (e) {
    if (e instanceof BadImageError) throw new UserError(`${file}: cannot be used as an image: ${e.reason}`);
    throw e;
  }
  return imagesToTensor(
    decoded.pixels,
    1,
    { height: p.decode.size, width: p.decode.size, channels: p.decode.channels },
    {
      inputSize: p.inputSize,
      inputChannels: p.inputChannels,
      scaling: pixelScalingOf(p.scaling),
      denoise: p.denoise ?? null,
    },
  );
}

/** Class probabilities of one image with a loaded predictor. */
export async function predictWith(pred: LoadedPredictor, imageFile: string, opts: { frame?: number } = {}): Promise<Prediction> {
  const { metadata } = pred;
  const x = await imageFileToInput(imageFile, metadata.preprocessing, PREDICT_MAX_PIXELS, opts.frame);
  const input = (await x.data()) as Float32Array;
  x.dispose();
  const [y] = await pred.forward.run(input, 1);
  const probs = Float32Array.from(y.data);
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
    inference: pred.inference,
  };
}

/** Loads `modelDir` and predicts the class of `imageFile` (calibrated probabilities). */
export async function predictImage(modelDir: string, imageFile: string, opts: PredictorOptions | Preprocessing = {}): Promise<Prediction> {
  const pred = await loadPredictor(modelDir, opts);
  try {
    return await predictWith(pred, imageFile);
  } finally {
    await pred.dispose();
  }
}
