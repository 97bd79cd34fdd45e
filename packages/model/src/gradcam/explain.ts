/**
 * One image through a saved model with a class-activation map: decode as the model's preprocessing
 * says, then
 * - default (`method: 'grad-cam'`, what `serve:start` and `model:predict --gradcam` draw) at the
 *   layer of the ONNX `cam` output (`out_relu`, GAP → Dense heads): the one ONNX Runtime pass gives
 *   the probabilities and every class's map (the Grad-CAM weights of such a head are the dense
 *   weights, onnx/export.ts); any other layer or head, or the tfjs engine: a tfjs gradient pass;
 * - `method: 'layer-cam'`: one tfjs forward + backward pass and Layer-CAM (cam.ts) at the last
 *   stride-16 feature map (layers.ts `defaultCamLayer`: MobileNetV2's `block_12_add`, 14×14 at 224 px);
 * then the map is read only inside the scan's real extent (the `fit: pad` padding undone,
 * extent.ts), normalised there, and drawn over the scan at the upload's aspect ratio; calibrated
 * probabilities (softmax of logits / temperature from metadata.json).
 */
import sharp from 'sharp';
import { UserError } from '@mri-robust/core';
import { tensor4d } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { logitsFromProbabilities, softmaxRows } from '../metrics/calibration.ts';
import type { ModelMetadata } from '../save.ts';
import { CAM_OUTPUT } from '../onnx/export.ts';
import type { Forward } from '../onnx/forward.ts';
import { pixelsToInput, prepareInput, type PreparedInput } from '../prepare-image.ts';
import { gradientPass, type GradCamResult } from './compute.ts';
import { camFromGradients, layerCamFromGradients, normalizeMap } from './cam.ts';
import { contentExtent, displaySize, mapOverExtent, peakOf, type Extent, type FitMode } from './extent.ts';
import { defaultCamLayer, findFeatureLayer } from './layers.ts';
import { overlayMapPng, PNG_COMPRESSION, type OverlayOptions, type ScanPixels } from './overlay.ts';

/** Grad-CAM (default: channel-mean gradients) or Layer-CAM (per-location positive gradients). */
export type CamMethod = 'layer-cam' | 'grad-cam';
const CAM_METHODS: readonly CamMethod[] = ['layer-cam', 'grad-cam'];

/** `--cam` of serve:start and model:predict: one of CAM_METHODS (default grad-cam), else a one-line error. */
export function camMethodOf(value: string | undefined, flag = '--cam'): CamMethod {
  if (value === undefined) return 'grad-cam';
  if ((CAM_METHODS as readonly string[]).includes(value)) return value as CamMethod;
  throw new UserError(`${flag} ${value}: expected ${CAM_METHODS.join(' or ')}`);
}

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
  /**
   * The map on the network's grid (`height × width` over the whole input square; cells whose
   * centre lies in the padding are zero) normalised to [0, 1] inside the extent.
   */
  cam: Pick<GradCamResult, 'cam' | 'height' | 'width' | 'layerName' | 'rawMax' | 'constant'> & {
    method: CamMethod;
    /** Where the scan is in the decode square (the rest is `fit: pad` padding). */
    extent: Extent;
    /** The map over the extent at display size (`display.width × display.height`), max 1. */
    map: Float32Array;
    /** Its largest value, in display pixels. */
    peak: { x: number; y: number };
  };
  /** The scan region under the overlay (the extent, at the upload's aspect ratio). */
  display: ScanPixels;
  image: Pick<PreparedInput, 'kind' | 'origWidth' | 'origHeight'>;
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
  /** Feature layer (default: layers.ts `defaultCamLayer`, the last stride-16 block output). */
  layerName?: string;
  /** Map weighting (default 'grad-cam'). */
  method?: CamMethod;
  /** Accept any format decodeImage reads (local files), not only JPEG/PNG/DICOM (uploads). */
  anyFormat?: boolean;
  /** Frame (0-based) of a multi-frame DICOM; without it such a file is refused. */
  frame?: number;
  /** zlib level (0–9) of the overlay PNG (default 6): lower is faster and larger, the pixels are the same. */
  pngCompression?: number;
}

/**
 * The extent of `scan` resized to `width × height` (cubic), same channels. At the extent's own size
 * (`fit: pad` and `crop` at a decode size ≥ the overlay's minimum: every upload the server sees) the
 * resize is the identity — sharp returns the extracted pixels unchanged — so the rows are copied here.
 */
async function displayScan(scan: ScanPixels, extent: Extent, width: number, height: number): Promise<ScanPixels> {
  const ch = scan.channels as 1 | 3;
  if (width === extent.width && height === extent.height) {
    const row = width * ch;
    const pixels = new Uint8Array(height * row);
    for (let y = 0; y < height; y++) {
      const from = ((extent.y + y) * scan.width + extent.x) * ch;
      pixels.set(scan.pixels.subarray(from, from + row), y * row);
    }
    return { pixels, width, height, channels: ch };
  }
  const out = await sharp(scan.pixels, { raw: { width: scan.width, height: scan.height, channels: ch } })
    .extract({ left: extent.x, top: extent.y, width: extent.width, height: extent.height })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const n = width * height;
  let pixels = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  if (out.info.channels !== ch) {
    const p = new Uint8Array(n * ch);
    for (let i = 0; i < n; i++) for (let c = 0; c < ch; c++) p[i * ch + c] = pixels[i * out.info.channels + c];
    pixels = p;
  }
  return { pixels, width, height, channels: ch };
}

/** Explains one image (bytes of a JPEG/PNG/DICOM). Throws ImageInputError for an unusable image. */
export async function explainImage(loaded: Explainable, bytes: Uint8Array, opts: ExplainOptions): Promise<Explanation> {
  const prepared = await prepareInput(bytes, loaded.metadata.preprocessing, opts.maxPixels, { anyFormat: opts.anyFormat, frame: opts.frame });
  return explainInput(loaded, prepared, opts);
}

/**
 * Explains already-decoded pixels (uint8 HWC at the model's decode size, e.g. one image of an
 * image set written by the ingest or noise stage).
 */
export async function explainPixels(
  loaded: Explainable,
  scan: ScanPixels,
  opts: Omit<ExplainOptions, 'maxPixels' | 'anyFormat' | 'frame'> & { orig?: { width: number; height: number } } = {},
): Promise<Explanation> {
  const d = loaded.metadata.preprocessing.decode;
  if (scan.width !== d.size || scan.height !== d.size || scan.channels !== d.channels) {
    throw new UserError(
      `pixels of ${scan.width}×${scan.height}×${scan.channels} do not match the model's decode size ${d.size}×${d.size}×${d.channels} (metadata.json preprocessing)`,
    );
  }
  const input = pixelsToInput(scan, loaded.metadata.preprocessing);
  // The size of the file the pixels were decoded from (ingest records it) locates the padding.
  const orig = opts.orig && opts.orig.width > 0 && opts.orig.height > 0 ? opts.orig : { width: scan.width, height: scan.height };
  return explainInput(loaded, { input, scan, kind: 'image', origWidth: orig.width, origHeight: orig.height }, { ...opts, maxPixels: 0 });
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
async function camPass(forward: Forward, input: Float32Array, layerName: string): Promise<GradCamResult> {
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

/** The default layer of each method per model (a search through its layers, the same every request). */
const defaultLayers = new WeakMap<LayersModel, Partial<Record<CamMethod, string>>>();

function defaultLayerOf(model: LayersModel, method: CamMethod, inputSize: number): string {
  const known = defaultLayers.get(model) ?? {};
  defaultLayers.set(model, known);
  // Grad-CAM without a layer: the classic last feature map (out_relu, where the ONNX one-pass map applies).
  known[method] ??= (method === 'grad-cam' ? findFeatureLayer([model]) : defaultCamLayer([model], inputSize)).layer.name;
  return known[method];
}

/**
 * Explains an upload already decoded and scaled (`prepareInput`; an ensemble decodes once and
 * runs the other members on the same input).
 */
export async function explainInput(loaded: Explainable, prepared: PreparedInput, opts: ExplainOptions): Promise<Explanation> {
  const { model, metadata } = loaded;
  const method = opts.method ?? 'grad-cam';
  const pre = metadata.preprocessing;
  const layerName = opts.layerName ?? defaultLayerOf(model, method, pre.inputSize);
  const fast = method === 'grad-cam' ? camForward(loaded, layerName) : null;
  let result: GradCamResult;
  if (fast) result = await camPass(fast, prepared.input, layerName);
  else {
    const input = tensor4d(prepared.input, [1, pre.inputSize, pre.inputSize, pre.inputChannels]);
    try {
      const pass = gradientPass({ stages: [model], input, layerNames: [layerName] });
      const l = pass.layers[0];
      const raw = (method === 'grad-cam' ? camFromGradients : layerCamFromGradients)(l.activations, l.gradients, l.height, l.width, l.channels);
      const norm = normalizeMap(raw);
      result = { ...pass, cam: norm.map, height: l.height, width: l.width, layerName: l.layerName, rawMax: norm.max, constant: norm.constant };
    } finally {
      input.dispose();
    }
  }
  const k = metadata.classes.length;
  if (result.logits.length !== k) throw new Error(`the model outputs ${result.logits.length} classes, metadata.json lists ${k}`);
  const calibrated = Array.from(softmaxRows(result.logits, k, metadata.temperature));
  // Only the scan's real extent: grid cells centred in the padding are dropped, the map is
  // renormalised inside, and drawn over the extent at the upload's aspect ratio.
  const fit = pre.decode.fit as FitMode;
  const extent = contentExtent(prepared.origWidth, prepared.origHeight, prepared.scan.width, fit);
  const grid = insideExtent(result.cam, result.height, result.width, extent);
  const size = displaySize(extent, prepared.origWidth, prepared.origHeight, fit, opts.minOverlaySize ?? 224);
  const over = mapOverExtent(grid.map, result.height, result.width, extent, size.width, size.height);
  const display = await displayScan(prepared.scan, extent, size.width, size.height);
  const png = await overlayMapPng(display, over.map, opts.overlay, opts.pngCompression ?? PNG_COMPRESSION);
  const peak = peakOf(over.map, size.width);
  return {
    class: metadata.classes[result.classIndex],
    classIndex: result.classIndex,
    probabilities: calibrated,
    rawProbabilities: Array.from(result.probabilities),
    temperature: metadata.temperature,
    overlayPng: png,
    cam: {
      cam: grid.map,
      height: result.height,
      width: result.width,
      layerName: result.layerName,
      rawMax: result.rawMax * grid.max,
      constant: grid.constant,
      method: fast ? 'grad-cam' : method,
      extent,
      map: over.map,
      peak: { x: peak.x, y: peak.y },
    },
    display,
    image: { kind: prepared.kind, origWidth: prepared.origWidth, origHeight: prepared.origHeight },
    engine: fast ? 'onnxruntime' : 'tfjs',
  };
}

/** A normalised grid map with the cells whose centre lies outside `extent` set to 0, renormalised. */
function insideExtent(cam: Float32Array, h: number, w: number, extent: Extent): { map: Float32Array; max: number; constant: boolean } {
  const masked = new Float32Array(cam.length);
  for (let y = 0; y < h; y++) {
    const cy = ((y + 0.5) * extent.size) / h;
    if (cy < extent.y || cy > extent.y + extent.height) continue;
    for (let x = 0; x < w; x++) {
      const cx = ((x + 0.5) * extent.size) / w;
      if (cx >= extent.x && cx <= extent.x + extent.width) masked[y * w + x] = cam[y * w + x];
    }
  }
  const n = normalizeMap(masked);
  return { map: n.map, max: n.max, constant: n.constant };
}
