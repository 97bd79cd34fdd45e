/**
 * A file-system IOHandler for tfjs layers models (tf.io.fileSystem exists only in tfjs-node):
 * `load()` reads `model.json` and the weight files its manifest names; `save()` writes
 * `model.json` + `weights.bin`. Plus `modelHandler(location)` which accepts a folder, a model.json
 * path, a file:// URL or an http(s) URL (through fetch).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '@mri-robust/core';

type IOHandler = tf.io.IOHandler;
type ModelArtifacts = tf.io.ModelArtifacts;

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Resolve a folder or model.json path to the model.json path. */
export function modelJsonPath(location: string): string {
  const p = path.resolve(location);
  if (existsSync(p) && statSync(p).isDirectory()) return path.join(p, 'model.json');
  return p;
}

function fileModelHandler(location: string): IOHandler {
  const jsonPath = modelJsonPath(location);
  const dir = path.dirname(jsonPath);
  return {
    async load(): Promise<ModelArtifacts> {
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        throw new UserError(`${jsonPath}: cannot read a tfjs model.json (${(e as Error).message})`);
      }
      if (!json.modelTopology) throw new UserError(`${jsonPath}: no modelTopology (not a tfjs layers model)`);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const file = path.join(dir, p);
            try {
              buffers.push(toArrayBuffer(await readFile(file)));
            } catch (e) {
              throw new UserError(`${file}: weight file named in ${jsonPath} cannot be read (${(e as Error).message})`);
            }
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
    async save(artifacts: ModelArtifacts): Promise<tf.io.SaveResult> {
      await mkdir(dir, { recursive: true });
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('saving GraphDef models is not supported');
      const weightsFile = 'weights.bin';
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }];
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: manifest,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      const data = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      await writeFile(path.join(dir, weightsFile), new Uint8Array(data));
      await writeFile(jsonPath, JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** IOHandler for a folder, model.json path, file:// URL or http(s) URL. */
export function modelHandler(location: string): IOHandler {
  if (/^https?:\/\//i.test(location)) {
    const url = location.endsWith('.json') ? location : location.replace(/\/?$/, '/model.json');
    return tf.io.http(url, { fetchFunc: fetch });
  }
  if (/^file:\/\//i.test(location)) return fileModelHandler(fileURLToPath(location));
  return fileModelHandler(location);
}
