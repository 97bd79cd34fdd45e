/**
 * Pretrained weights by layer name, from a TensorFlow.js layers folder (model.json + shards; its
 * topology is not used) or a Keras .h5 weight file (h5-weights.ts), and their assignment to a model
 * built in code with Keras's layer names: layer by layer name, weights within a layer by position
 * (Keras's own rule), every shape checked before anything is set. A weight the model needs and the
 * file lacks, a shape or count that differs, or a weight of the file that the model has no place for
 * is a `UserError` naming the file and the first bad weight.
 */
import { existsSync } from 'node:fs';
import * as tfc from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '@mri-robust/core';
import { modelJsonPath } from '../io/file-handler.ts';
import { readBackboneArtifacts } from './mobilenet.ts';

interface SourceWeight {
  /** As the file names it (`conv1/kernel`, `block1_conv1/kernel:0`, `block1_conv1_W_1:0`, …). */
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SourceLayer {
  name: string;
  weights: SourceWeight[];
}

export interface WeightSource {
  /** The file (or model.json / URL) named in errors. */
  file: string;
  format: 'h5' | 'tfjs';
  /** sha256 of the file (h5) or of the topology, weight specs and bytes (tfjs, as for MobileNetV2). */
  hash: string;
  /** Layers in file order; weights in Keras's order. */
  layers: Map<string, SourceLayer>;
}

/** A location names a Keras .h5 file when it ends in .h5 / .hdf5 / .keras-weights.h5. */
export function isH5Location(location: string): boolean {
  return /\.(h5|hdf5)$/i.test(location) && !/^https?:\/\//i.test(location);
}

/** Read a tfjs layers folder's weights grouped by layer (`<layer>/<weight>` names). */
async function readTfjsWeights(location: string): Promise<WeightSource> {
  const a = await readBackboneArtifacts(location);
  const specs = a.artifacts.weightSpecs ?? [];
  const file = /^(https?|file):\/\//i.test(location) ? location : modelJsonPath(location);
  const layers = new Map<string, SourceLayer>();
  const simple = specs.every((s) => s.dtype === 'float32' && !s.quantization);
  let decoded: tfc.NamedTensorMap | null = null;
  if (!simple) decoded = tfc.io.decodeWeights(a.weightData, specs);
  let offset = 0;
  for (const s of specs) {
    const size = s.shape.reduce((p, d) => p * d, 1);
    let data: Float32Array;
    if (decoded) {
      data = Float32Array.from(decoded[s.name].dataSync());
    } else {
      if (offset + size * 4 > a.weightData.byteLength) throw new UserError(`${file}: weight data ends before '${s.name}' (truncated shard?)`);
      data = new Float32Array(a.weightData.slice(offset, offset + size * 4));
      offset += size * 4;
    }
    const cut = s.name.lastIndexOf('/');
    const layer = cut < 0 ? s.name : s.name.slice(0, cut);
    const entry = layers.get(layer) ?? { name: layer, weights: [] };
    entry.weights.push({ name: s.name, shape: [...s.shape], data });
    layers.set(layer, entry);
  }
  if (decoded) for (const t of Object.values(decoded)) t.dispose();
  return { file, format: 'tfjs', hash: a.hash, layers };
}

/** Weights from a .h5 file or a tfjs layers folder / model.json / URL. */
export async function readWeightSource(location: string): Promise<WeightSource> {
  if (isH5Location(location)) {
    const { readKerasH5 } = await import('./h5-weights.ts');
    return readKerasH5(location);
  }
  if (!/^(https?|file):\/\//i.test(location) && !existsSync(location)) throw new UserError(`${location}: no such weights folder or file`);
  return readTfjsWeights(location);
}

/** The model's layers with nested models flattened, InputLayers dropped. */
export function flatLayers(model: LayersModel): tfl.layers.Layer[] {
  const out: tfl.layers.Layer[] = [];
  for (const l of model.layers) {
    if (l instanceof tfl.LayersModel) out.push(...flatLayers(l));
    else if (l.getClassName() !== 'InputLayer') out.push(l);
  }
  return out;
}

const AUTO_NAME = (prefix: string) => new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:_(\\d+))?$`);

/**
 * Keras numbers unnamed layers per class in creation order, from 0 (tf.keras: `conv2d`, `conv2d_1`)
 * or from 1 (Keras 2.0: `conv2d_1`, `conv2d_2`), offset further when other models were built first.
 * For each auto-named `family`, map the file's names onto the model's by rank when the file's
 * numbering is the model's shifted by a constant (same count, contiguous).
 */
function renumberAutoNames(fileLayers: string[], modelLayers: string[], families: string[]): Map<string, string> {
  const rename = new Map<string, string>();
  for (const prefix of families) {
    const re = AUTO_NAME(prefix);
    const index = (n: string) => {
      const m = re.exec(n);
      return m ? Number(m[1] ?? 0) : null;
    };
    const fromFile = fileLayers.map((n) => [n, index(n)] as const).filter((e): e is readonly [string, number] => e[1] !== null);
    const fromModel = modelLayers.map(index).filter((i): i is number => i !== null);
    if (fromFile.length === 0 || fromFile.length !== fromModel.length) continue;
    const fileMin = Math.min(...fromFile.map((e) => e[1]));
    const modelMin = Math.min(...fromModel);
    if (fileMin === modelMin) continue;
    const want = new Set(fromModel);
    if (!fromFile.every(([, i]) => want.has(i - fileMin + modelMin))) continue;
    for (const [n, i] of fromFile) {
      const j = i - fileMin + modelMin;
      rename.set(n, j === 0 ? prefix : `${prefix}_${j}`);
    }
  }
  return rename;
}

export interface AssignOptions {
  /** Network name used in messages, e.g. 'vgg16'. */
  arch: string;
  /** Layers of the file that may be left unused (the classifier top when building without it). */
  ignore?: string[];
  /** Auto-named layer families to renumber (see renumberAutoNames), e.g. InceptionV3's conv2d. */
  autoNamed?: string[];
}

const shapeText = (s: readonly (number | null)[]) => `[${s.join(', ')}]`;

/** Set every weight of `model` from `source` (all checked first; nothing is set on an error). */
export function assignWeights(model: LayersModel, source: WeightSource, opts: AssignOptions): void {
  const { file } = source;
  const layers = flatLayers(model).filter((l) => l.weights.length > 0);
  const rename = opts.autoNamed?.length
    ? renumberAutoNames(
        [...source.layers.keys()],
        layers.map((l) => l.name),
        opts.autoNamed,
      )
    : new Map<string, string>();
  const byName = new Map<string, SourceLayer>();
  for (const [name, layer] of source.layers) byName.set(rename.get(name) ?? name, layer);
  const used = new Set<string>();
  const plan: [tfl.layers.Layer, SourceWeight[]][] = [];
  for (const layer of layers) {
    const expected = layer.weights;
    const src = byName.get(layer.name);
    const want = expected.map((w) => `${w.originalName} ${shapeText(w.shape)}`).join(', ');
    if (!src || src.weights.length === 0) {
      throw new UserError(`${file}: missing weight '${expected[0].originalName}' (layer '${layer.name}' of ${opts.arch} needs ${want})`);
    }
    used.add(src.name);
    if (src.weights.length !== expected.length) {
      throw new UserError(
        `${file}: layer '${src.name}' holds ${src.weights.length} weights (${src.weights.map((w) => w.name).join(', ')}); ${opts.arch} needs ${expected.length}: ${want}`,
      );
    }
    expected.forEach((w, i) => {
      const got = src.weights[i];
      const same = got.shape.length === w.shape.length && got.shape.every((d, k) => d === w.shape[k]);
      if (!same) {
        throw new UserError(
          `${file}: weight '${got.name}' has shape ${shapeText(got.shape)}; ${opts.arch} needs ${shapeText(w.shape)} for '${w.originalName}'`,
        );
      }
    });
    plan.push([layer, src.weights]);
  }
  const ignore = new Set(opts.ignore ?? []);
  for (const [name, layer] of source.layers) {
    if (used.has(name) || ignore.has(name) || layer.weights.length === 0) continue;
    throw new UserError(`${file}: weight '${layer.weights[0].name}' (layer '${name}') has no place in ${opts.arch}; is this file for another network?`);
  }
  for (const [layer, weights] of plan) {
    const tensors = weights.map((w, i) => tfc.tensor(w.data, layer.weights[i].shape as number[], 'float32'));
    layer.setWeights(tensors);
    for (const t of tensors) t.dispose();
  }
}
