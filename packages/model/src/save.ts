/**
 * Saving and loading a trained predictor: a TensorFlow.js layers model (`model.json` +
 * `weights.bin`, written by a small file IOHandler — `tf.io.fileSystem` exists only in tfjs-node),
 * the same network as `model.onnx` (for ONNX Runtime, onnx/export.ts) and `metadata.json`
 * describing how to feed it and how to read its output.
 *
 * Integrity: `modelHash` = sha256 of the topology, the weights and the metadata that changes a
 * prediction (classes, preprocessing, temperature, backbone), so editing metadata.json's classes or
 * preprocessing, or mixing files of two folders, is refused on load. `onnx` records the sha256 of
 * model.onnx and the modelHash it was exported from: a stale or foreign model.onnx is refused too.
 * Folders of format @1 (before model.onnx) still load; their hash covers topology and weights only.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stableStringify, UserError } from '@mri-robust/core';
import type { io } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { tf } from './backend/tf.ts';
import { exportOnnx, type CamInfo, type OnnxOutputInfo } from './onnx/export.ts';
import { PIXEL_SCALINGS } from './nets/preprocess.ts';
import type { Denoise } from './nets/denoise.ts';
// Registers the Keras layers tfjs lacks (EfficientNet's Normalization, KerasRescaling) with tfjs
// serialization, so a saved predictor holding them deserialises.
import './nets/keras/layers.ts';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
export const METADATA_JSON = 'metadata.json';
const ONNX_FILE = 'model.onnx';
const METADATA_FORMAT = 'mri-robust/model@2';
/** Format of folders saved before model.onnx and the metadata-covering hash; still read. */
const METADATA_FORMAT_V1 = 'mri-robust/model@1';

export interface Preprocessing {
  /** How the file is decoded (as the ingest stage does): square side, channels, fit. */
  decode: { size: number; channels: 1 | 3; fit: 'pad' | 'crop' | 'fill' };
  /** Network input: side and channels (grey replicated to 3 channels for mobilenet_v2). */
  inputSize: number;
  inputChannels: number;
  /** Pixel scaling before the network (nets/preprocess.ts PIXEL_SCALINGS): 'scale_-1_1' = x / 127.5 − 1, 'caffe_bgr_mean', 'raw_0_255'. */
  scaling: string;
  /** Denoiser applied to the decoded pixels first (nets/denoise.ts); absent or null = none. */
  denoise?: Denoise | null;
}

/** model.onnx as recorded in metadata.json. */
interface OnnxRecord {
  file: typeof ONNX_FILE;
  /** sha256 of model.onnx. */
  sha256: string;
  /** The modelHash of the tfjs files it was exported from. */
  modelHash: string;
  opset: number;
  outputs: OnnxOutputInfo[];
  /** Feature map of the `cam` output (GAP → Dense heads), or null. */
  cam: CamInfo | null;
}

export interface ModelMetadata {
  format: typeof METADATA_FORMAT | typeof METADATA_FORMAT_V1;
  classes: string[];
  preprocessing: Preprocessing;
  backbone: {
    name: string;
    mode: 'head' | 'partial' | 'full';
    cutLayer: string | null;
    /** Where the pretrained weights came from and the sha256 of their files (null for cnn). */
    weights: { location: string; hash: string } | null;
  };
  /** Softmax temperature fitted on validation: calibrated p = softmax(log p / T). */
  temperature: number;
  experiment: { name: string; hash: string; file: string };
  backend: string;
  /** sha256 of model.json's topology + weights.bin + the prediction-changing metadata (see above). */
  modelHash: string;
  /** model.onnx beside the tfjs files; null when the network has a layer the exporter lacks (tfjs only). */
  onnx?: OnnxRecord | null;
  /** Why there is no model.onnx (onnx null). */
  onnxUnavailable?: string;
  seed: number;
  createdAt: string;
}

type PredictionFields = Pick<ModelMetadata, 'classes' | 'preprocessing' | 'temperature' | 'backbone'>;

/** The metadata that changes what a prediction says, as hashed (the weights' location is left out: folders move). */
function predictionFields(m: PredictionFields): string {
  const b = m.backbone;
  return stableStringify({
    classes: m.classes,
    preprocessing: m.preprocessing,
    temperature: m.temperature,
    backbone: { name: b?.name, mode: b?.mode, cutLayer: b?.cutLayer ?? null, weights: b?.weights?.hash ?? null },
  });
}

/** Model hash of a folder's files; `meta` (format @2) adds the prediction-changing metadata. */
function modelHashOf(topology: unknown, weights: Uint8Array, meta: PredictionFields | null = null): string {
  const h = createHash('sha256').update(JSON.stringify(topology)).update(weights);
  if (meta) h.update(predictionFields(meta));
  return h.digest('hex');
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function concatWeightData(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  const parts = Array.isArray(data) ? data : [data];
  const total = parts.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of parts) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/** An IOHandler that writes `model.json` + `weights.bin` into `dir`. */
function fileSaveHandler(dir: string, onSaved?: (hash: string) => void, meta: PredictionFields | null = null): io.IOHandler {
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      await mkdir(dir, { recursive: true });
      const weights = artifacts.weightData ? concatWeightData(artifacts.weightData as ArrayBuffer | ArrayBuffer[]) : new Uint8Array(0);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFile(path.join(dir, WEIGHTS_BIN), weights);
      await writeFile(path.join(dir, MODEL_JSON), JSON.stringify(json));
      onSaved?.(modelHashOf(artifacts.modelTopology, weights, meta));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

/**
 * An IOHandler that reads `model.json` and its weight files from `dir` and reports the model hash,
 * refusing (before tfjs parses anything) files whose model hash is not `expectedHash`.
 */
function fileLoadHandlerChecked(
  dir: string,
  expectedHash: string | null,
  onLoaded?: (hash: string) => void,
  meta: PredictionFields | null = null,
): io.IOHandler {
  return {
    async load(): Promise<io.ModelArtifacts> {
      const file = path.join(dir, MODEL_JSON);
      let json: { modelTopology: unknown; weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[]; format?: string };
      try {
        json = JSON.parse(await readFile(file, 'utf8'));
      } catch (e) {
        throw new UserError(`${file}: cannot read the model (${(e as Error).message})`);
      }
      const specs: io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          try {
            buffers.push(new Uint8Array(await readFile(path.join(dir, p))));
          } catch (e) {
            throw new UserError(`${path.join(dir, p)}: cannot read the model weights (${(e as Error).message})`);
          }
        }
      }
      const weights = concatWeightData(buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
      const hash = modelHashOf(json.modelTopology, weights, meta);
      if (expectedHash !== null && hash !== expectedHash) {
        const what = meta ? 'classes, preprocessing, temperature, backbone' : 'model hash';
        throw new UserError(
          `${path.join(dir, METADATA_JSON)}: the model files (${MODEL_JSON}, ${WEIGHTS_BIN}) do not match this metadata (${what}; model hash ${hash.slice(0, 12)} ≠ ${expectedHash.slice(0, 12)}): metadata.json was edited or the folder mixes files of different models`,
        );
      }
      onLoaded?.(hash);
      return {
        modelTopology: json.modelTopology as io.ModelArtifacts['modelTopology'],
        format: json.format,
        weightSpecs: specs,
        weightData: weights.buffer as ArrayBuffer,
      };
    },
  };
}

/**
 * Saves `model` (tfjs files and model.onnx) and `metadata.json` (its `modelHash` and `onnx` filled
 * in) into `dir`. model.onnx carries the `cam` output where the head allows it. A network the ONNX
 * exporter cannot convert is saved without model.onnx (`onnx: null`, `onnxUnavailable` says why).
 */
export async function saveModel(
  dir: string,
  model: LayersModel,
  metadata: Omit<ModelMetadata, 'modelHash' | 'format' | 'onnx' | 'onnxUnavailable'>,
): Promise<ModelMetadata> {
  let hash = '';
  await model.save(fileSaveHandler(dir, (h) => (hash = h), metadata));
  let onnx: OnnxRecord | null = null;
  let onnxUnavailable: string | undefined;
  try {
    const ex = exportOnnx(model, { cam: true, metadata: { modelHash: hash } });
    await writeFile(path.join(dir, ONNX_FILE), ex.bytes);
    onnx = { file: ONNX_FILE, sha256: sha256(ex.bytes), modelHash: hash, opset: ex.opset, outputs: ex.outputs, cam: ex.cam };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    onnxUnavailable = e.message;
  }
  const full: ModelMetadata = { format: METADATA_FORMAT, ...metadata, modelHash: hash, onnx, ...(onnxUnavailable ? { onnxUnavailable } : {}) };
  await writeFile(path.join(dir, METADATA_JSON), JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** Reads and checks `metadata.json` of a model folder. */
export async function readModelMetadata(dir: string): Promise<ModelMetadata> {
  if (!existsSync(dir)) throw new UserError(`model folder ${dir} does not exist`);
  const file = path.join(dir, METADATA_JSON);
  if (!existsSync(file))
    throw new UserError(`${file} is missing: ${dir} is not a saved model folder (expected ${MODEL_JSON}, ${WEIGHTS_BIN}, ${METADATA_JSON})`);
  let meta: ModelMetadata;
  try {
    meta = JSON.parse(await readFile(file, 'utf8')) as ModelMetadata;
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (meta.format !== METADATA_FORMAT && meta.format !== METADATA_FORMAT_V1) {
    throw new UserError(`${file}: format '${String(meta.format)}' is not ${METADATA_FORMAT} (or ${METADATA_FORMAT_V1})`);
  }
  if (!Array.isArray(meta.classes) || meta.classes.length < 2) throw new UserError(`${file}: 'classes' must list at least 2 classes`);
  if (!(meta.temperature > 0)) throw new UserError(`${file}: 'temperature' must be > 0`);
  const scaling = meta.preprocessing?.scaling;
  if (!(PIXEL_SCALINGS as readonly string[]).includes(scaling)) {
    throw new UserError(`${file}: preprocessing.scaling '${String(scaling)}' is not one of ${PIXEL_SCALINGS.join(', ')}`);
  }
  const dn = meta.preprocessing.denoise as Denoise | null | undefined;
  if (dn != null && !(dn.kind === 'wiener' && Number.isInteger(dn.window) && dn.window >= 1 && dn.window % 2 === 1)) {
    throw new UserError(`${file}: preprocessing.denoise ${JSON.stringify(dn)} is not null or { kind: 'wiener', window: <odd integer> }`);
  }
  return meta;
}

/**
 * model.onnx of a folder, checked against metadata.json: null when the folder has none (format
 * @1, or a network the exporter could not convert). A model.onnx that metadata.json does not list,
 * whose bytes changed, or that was exported from other tfjs files is refused.
 */
async function readOnnxModel(dir: string, metadata: ModelMetadata): Promise<Uint8Array | null> {
  const file = path.join(dir, ONNX_FILE);
  const rec = metadata.onnx ?? null;
  if (!rec) {
    if (existsSync(file)) {
      throw new UserError(`${file}: metadata.json does not list this model.onnx (stale or mixed folder); delete it or save the model again`);
    }
    return null;
  }
  if (rec.modelHash !== metadata.modelHash) {
    throw new UserError(
      `${path.join(dir, METADATA_JSON)}: onnx.modelHash ${rec.modelHash.slice(0, 12)} ≠ modelHash ${String(metadata.modelHash).slice(0, 12)}: model.onnx was exported from other model files (stale folder)`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    throw new UserError(`${file}: listed in metadata.json but cannot be read (${(e as Error).message})`);
  }
  const got = sha256(bytes);
  if (got !== rec.sha256) {
    throw new UserError(
      `${file}: sha256 ${got.slice(0, 12)} ≠ ${rec.sha256.slice(0, 12)} recorded in metadata.json: model.onnx is stale or comes from another folder`,
    );
  }
  return bytes;
}

/**
 * Loads a saved model folder: metadata, then the model, checking that the files are the ones the
 * metadata describes (model hash, over the prediction-changing metadata too), that the network's
 * input matches the recorded preprocessing, and that model.onnx (if any) belongs to them.
 */
export async function loadModel(dir: string): Promise<{ model: LayersModel; metadata: ModelMetadata; onnx: Uint8Array | null }> {
  const metadata = await readModelMetadata(dir);
  const onnx = await readOnnxModel(dir, metadata);
  const covers = metadata.format === METADATA_FORMAT ? metadata : null;
  const model = await tf.loadLayersModel(fileLoadHandlerChecked(dir, String(metadata.modelHash), undefined, covers));
  const shape = model.inputs[0].shape;
  const p = metadata.preprocessing;
  if (shape[1] !== p.inputSize || shape[2] !== p.inputSize || shape[3] !== p.inputChannels) {
    model.dispose();
    throw new UserError(
      `${dir}: the network expects input [${shape.slice(1).join(', ')}] but metadata.json records preprocessing to ${p.inputSize}×${p.inputSize}×${p.inputChannels}: the model comes from another preprocessing`,
    );
  }
  const out = model.outputs[0].shape;
  if (out[out.length - 1] !== metadata.classes.length) {
    model.dispose();
    throw new UserError(`${dir}: the network outputs ${out[out.length - 1]} classes, metadata.json lists ${metadata.classes.length}`);
  }
  return { model, metadata, onnx };
}
