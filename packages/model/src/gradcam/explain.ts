/**
 * One image through a saved model with Grad-CAM: decode as the model's preprocessing says, then
 * - fast path (a LoadedPredictor whose forward pass has the `cam` output: ONNX Runtime, GAP → Dense
 *   head): one forward pass gives the probabilities and every class's map (the Grad-CAM weights of
 *   such a head are the dense weights, onnx/export.ts);
 * - otherwise one tfjs forward + backward pass (class scores and the map of the predicted class);
 * then calibrated probabilities (softmax of logits / temperature from metadata.json) and the overlay PNG.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { UserError } from '@mri-robust/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { softmaxRows } from '../metrics/calibration.ts';
import { imagesToTensor, pixelScalingOf } from '../nets/preprocess.ts';
import type { ModelMetadata } from '../save.ts';
import { logitsFromProbabilities } from '../metrics/calibration.ts';
import { CAM_OUTPUT } from '../onnx/export.ts';
import type { Forward } from '../onnx/forward.ts';
import { loadPredictor } from '../predict.ts';
import { ImageInputError, prepareImage, type PreparedImage } from '../prepare-image.ts';
import { gradCam, type GradCamResult } from './compute.ts';
import { normalizeMap } from './cam.ts';
import { overlayPng, type OverlayOptions, type ScanPixels } from './overlay.ts';

export interface Explanation {
  /** Predicted class name and index (argmax of the probabilities). */
  class: string;
  classIndex: number;
  /** Calibrated probabilities, in `metadata.classes` order. */
  probabilities: number[];
  /** Uncalibrated softmax of the model. */
  rawProbabilities: number[];
  temperature: number;
  /** PNG bytes of the scan with the Grad-CAM map of the predicted class. */
  overlayPng: Buffer;
  cam: Pick<GradCamResult, 'cam' | 'height' | 'width' | 'layerName' | 'rawMax' | 'constant'>;
  image: Pick<PreparedImage, 'kind' | 'origWidth' | 'origHeight'>;
  /** 'onnxruntime' (one pass, map from the dense weights) or 'tfjs' (gradient pass). */
  engine: 'onnxruntime' | 'tfjs';
}

/** A loaded model: `{ model, metadata }` (tfjs gradient path) or a LoadedPredictor (its forward pass's `cam` output when it has one). */
export interface Explainable {
  model: LayersModel;
  metadata: ModelMetadata;
  forward?: Forward;
}

export interface ExplainOptions {
  /** Pixel limit of the decoded upload (width × height). */
  maxPixels: number;
  overlay?: OverlayOptions;
  /** Smallest side of the overlay PNG: a smaller scan is upscaled for display (default 224). */
  minOverlaySize?: number;
  /** Feature layer (default: the last convolutional feature map). */
  layerName?: string;
  /** Accept any format decodeImage reads (local files), not only JPEG/PNG (uploads). */
  anyFormat?: boolean;
}

async function displayScan(scan: ScanPixels, minSize: number): Promise<ScanPixels> {
  if (scan.width >= minSize) return scan;
  const out = await sharp(scan.pixels, { raw: { width: scan.width, height: scan.height, channels: scan.channels as 1 | 3 } })
    .resize(minSize, minSize, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const n = minSize * minSize;
  let pixels = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  if (out.info.channels !== scan.channels) {
    const p = new Uint8Array(n * scan.channels);
    for (let i = 0; i < n; i++) for (let c = 0; c < scan.channels; c++) p[i * scan.channels + c] = pixels[i * out.info.channels + c];
    pixels = p;
  }
  return { pixels, width: minSize, height: minSize, channels: scan.channels };
}

/** Explains one image (bytes of a JPEG/PNG). Throws ImageInputError for an unusable image. */
export async function explainImage(
  loaded: Explainable,
  bytes: Uint8Array,
  opts: ExplainOptions,
): Promise<Explanation> {
  const prepared = await prepareImage(bytes, loaded.metadata.preprocessing, opts.maxPixels, { anyFormat: opts.anyFormat });
  return explainPrepared(loaded, prepared, opts);
}

/**
 * Explains already-decoded pixels (uint8 HWC at the model's decode size, e.g. one image of an
 * image set written by the ingest or noise stage).
 */
export async function explainPixels(
  loaded: Explainable,
  scan: ScanPixels,
  opts: Omit<ExplainOptions, 'maxPixels' | 'anyFormat'> = {},
): Promise<Explanation> {
  const d = loaded.metadata.preprocessing.decode;
  if (scan.width !== d.size || scan.height !== d.size || scan.channels !== d.channels) {
    throw new UserError(
      `pixels of ${scan.width}×${scan.height}×${scan.channels} do not match the model's decode size ${d.size}×${d.size}×${d.channels} (metadata.json preprocessing)`,
    );
  }
  const p = loaded.metadata.preprocessing;
  const input = imagesToTensor(scan.pixels, 1, scan, { inputSize: p.inputSize, inputChannels: p.inputChannels, scaling: pixelScalingOf(p.scaling) });
  return explainPrepared(loaded, { input, scan, kind: 'image', origWidth: scan.width, origHeight: scan.height }, { ...opts, maxPixels: 0 });
}

/** The forward pass's `cam` output can stand in for the gradient pass (same feature layer). */
function camForward(loaded: Explainable, layerName: string | undefined): Forward | null {
  const f = loaded.forward;
  if (!f || f.engine !== 'onnxruntime' || !f.outputNames.includes(CAM_OUTPUT)) return null;
  const camLayer = loaded.metadata.onnx?.cam?.layer;
  if (layerName && camLayer !== layerName) return null;
  return f;
}

/** Grad-CAM of the predicted class from one pass with the `cam` output ([1, K, h, w]). */
export async function camPass(forward: Forward, input: Float32Array, layerName: string): Promise<GradCamResult> {
  const outs = await forward.run(input, 1);
  const probabilities = Float32Array.from(outs[0].data);
  const cam = outs[forward.outputNames.indexOf(CAM_OUTPUT)];
  const [, k, h, w] = cam.dims;
  let cls = 0;
  for (let j = 1; j < k; j++) if (probabilities[j] > probabilities[cls]) cls = j;
  const norm = normalizeMap(cam.data.subarray(cls * h * w, (cls + 1) * h * w));
  return {
    classIndex: cls,
    // log p = logits − logsumexp: the same scores up to a constant, as calibration needs.
    logits: logitsFromProbabilities(probabilities),
    probabilities,
    cam: norm.map,
    height: h,
    width: w,
    layerName,
    rawMax: norm.max,
    constant: norm.constant,
  };
}

async function explainPrepared(loaded: Explainable, prepared: PreparedImage, opts: ExplainOptions): Promise<Explanation> {
  const { model, metadata } = loaded;
  const input = prepared.input;
  const fast = camForward(loaded, opts.layerName);
  let result: GradCamResult;
  try {
    result = fast
      ? await camPass(fast, (await input.data()) as Float32Array, metadata.onnx?.cam?.layer ?? 'cam')
      : gradCam({ stages: [model], input, layerName: opts.layerName });
  } finally {
    input.dispose();
  }
  const k = metadata.classes.length;
  if (result.logits.length !== k) throw new Error(`the model outputs ${result.logits.length} classes, metadata.json lists ${k}`);
  const calibrated = Array.from(softmaxRows(result.logits, k, metadata.temperature));
  const scan = await displayScan(prepared.scan, opts.minOverlaySize ?? 224);
  const png = await overlayPng(scan, result.cam, result.height, result.width, opts.overlay);
  return {
    class: metadata.classes[result.classIndex],
    classIndex: result.classIndex,
    probabilities: calibrated,
    rawProbabilities: Array.from(result.probabilities),
    temperature: metadata.temperature,
    overlayPng: png,
    cam: {
      cam: result.cam,
      height: result.height,
      width: result.width,
      layerName: result.layerName,
      rawMax: result.rawMax,
      constant: result.constant,
    },
    image: { kind: prepared.kind, origWidth: prepared.origWidth, origHeight: prepared.origHeight },
    engine: fast ? 'onnxruntime' : 'tfjs',
  };
}

/**
 * `model:predict --gradcam out.png`: loads `modelDir`, explains `imageFile` and writes the overlay
 * PNG to `outPng`. Returns the explanation (without the PNG bytes written).
 */
export async function writeGradCamFile(
  modelDir: string,
  imageFile: string,
  outPng: string,
  opts: Partial<ExplainOptions> = {},
): Promise<Omit<Explanation, 'overlayPng'> & { file: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(imageFile);
  } catch (e) {
    throw new UserError(`${imageFile}: cannot read the image (${(e as Error).message})`);
  }
  const loaded = await loadPredictor(modelDir);
  try {
    let e: Explanation;
    try {
      e = await explainImage(loaded, bytes, { maxPixels: 50_000_000, anyFormat: true, ...opts });
    } catch (err) {
      if (err instanceof ImageInputError) throw new UserError(`${imageFile}: ${err.message}`);
      throw err;
    }
    const file = path.resolve(outPng);
    await writeFile(file, e.overlayPng);
    const { overlayPng: _png, ...rest } = e;
    return { ...rest, file };
  } finally {
    await loaded.dispose();
  }
}
