/**
 * Saving and loading a trained predictor: a TensorFlow.js layers model (`model.json` +
 * `weights.bin`, written by a small file IOHandler — `tf.io.fileSystem` exists only in tfjs-node)
 * and `metadata.json` describing how to feed it and how to read its output.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '@mri-robust/core';
import type { io } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { tf } from './backend/tf.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const METADATA_JSON = 'metadata.json';
export const METADATA_FORMAT = 'mri-robust/model@1';

export interface Preprocessing {
  /** How the file is decoded (as the ingest stage does): square side, channels, fit. */
  decode: { size: number; channels: 1 | 3; fit: 'pad' | 'crop' | 'fill' };
  /** Network input: side and channels (grey replicated to 3 channels for mobilenet_v2). */
  inputSize: number;
  inputChannels: number;
  /** Pixel scaling before the network: 'scale_-1_1' = x / 127.5 − 1. */
  scaling: string;
}

export interface ModelMetadata {
  format: typeof METADATA_FORMAT;
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
  /** sha256 of model.json's topology + weights.bin: detects a model folder mixed with another's files. */
  modelHash: string;
  seed: number;
  createdAt: string;
}

function modelHashOf(topology: unknown, weights: Uint8Array): string {
  return createHash('sha256').update(JSON.stringify(topology)).update(weights).digest('hex');
}

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
export function fileSaveHandler(dir: string, onSaved?: (hash: string) => void): io.IOHandler {
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
      onSaved?.(modelHashOf(artifacts.modelTopology, weights));
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

/** An IOHandler that reads `model.json` and its weight files from `dir`. Reports the model hash. */
export function fileLoadHandler(dir: string, onLoaded?: (hash: string) => void): io.IOHandler {
  return fileLoadHandlerChecked(dir, null, onLoaded);
}

/** As fileLoadHandler, refusing (before tfjs parses anything) files whose model hash is not `expectedHash`. */
function fileLoadHandlerChecked(dir: string, expectedHash: string | null, onLoaded?: (hash: string) => void): io.IOHandler {
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
      const hash = modelHashOf(json.modelTopology, weights);
      if (expectedHash !== null && hash !== expectedHash) {
        throw new UserError(
          `${path.join(dir, METADATA_JSON)}: the model files (${MODEL_JSON}, ${WEIGHTS_BIN}) do not match this metadata (model hash ${hash.slice(0, 12)} ≠ ${expectedHash.slice(0, 12)}): the folder mixes files of different models`,
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

/** Saves `model` and `metadata.json` (its `modelHash` filled in) into `dir`. */
export async function saveModel(dir: string, model: LayersModel, metadata: Omit<ModelMetadata, 'modelHash' | 'format'>): Promise<ModelMetadata> {
  let hash = '';
  await model.save(fileSaveHandler(dir, (h) => (hash = h)));
  const full: ModelMetadata = { format: METADATA_FORMAT, ...metadata, modelHash: hash };
  await writeFile(path.join(dir, METADATA_JSON), JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** Reads and checks `metadata.json` of a model folder. */
export async function readModelMetadata(dir: string): Promise<ModelMetadata> {
  if (!existsSync(dir)) throw new UserError(`model folder ${dir} does not exist`);
  const file = path.join(dir, METADATA_JSON);
  if (!existsSync(file)) throw new UserError(`${file} is missing: ${dir} is not a saved model folder (expected ${MODEL_JSON}, ${WEIGHTS_BIN}, ${METADATA_JSON})`);
  let meta: ModelMetadata;
  try {
    meta = JSON.parse(await readFile(file, 'utf8')) as ModelMetadata;
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (meta.format !== METADATA_FORMAT) throw new UserError(`${file}: format '${String(meta.format)}' is not ${METADATA_FORMAT}`);
  if (!Array.isArray(meta.classes) || meta.classes.length < 2) throw new UserError(`${file}: 'classes' must list at least 2 classes`);
  if (!(meta.temperature > 0)) throw new UserError(`${file}: 'temperature' must be > 0`);
  return meta;
}

/**
 * Loads a saved model folder: metadata, then the model, checking that the files are the ones the
 * metadata describes (model hash) and that the network's input matches the recorded preprocessing.
 */
export async function loadModel(dir: string): Promise<{ model: LayersModel; metadata: ModelMetadata }> {
  const metadata = await readModelMetadata(dir);
  const model = await tf.loadLayersModel(fileLoadHandlerChecked(dir, String(metadata.modelHash)));
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
  return { model, metadata };
}
