/**
 * Keras HDF5 weight files (`model.save_weights('x.h5')`, the Keras-applications `*_notop.h5`
 * downloads), read and written with h5wasm in Keras's layout:
 *   root attributes  `layer_names` (fixed-length strings; `layer_names0`, `layer_names1`, … when Keras
 *                    had to chunk a long list), `backend`, `keras_version`
 *   /<layer>         one group per layer, attribute `weight_names` (e.g. `block1_conv1/kernel:0`; an
 *                    empty list for layers without weights)
 *   /<layer>/<weight name>  one dataset per weight (the name's `/` makes a nested group)
 * A whole-model file (`model.save('x.h5')`) keeps the same tree under `/model_weights`.
 * Weights of a layer are in Keras's order (kernel, bias; γ, β, moving mean, moving variance; …);
 * Keras matches them to a layer's variables by position, as does `assignWeights` (weights.ts).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import h5wasm from 'h5wasm/node';
import { hashBytes, UserError } from '@mri-robust/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { SourceLayer, WeightSource } from './weights.ts';

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

let ready: Promise<unknown> | null = null;
async function h5(): Promise<typeof h5wasm> {
  ready ??= h5wasm.ready;
  await ready;
  return h5wasm;
}

function strings(value: unknown): string[] {
  if (value == null) return [];
  const list = Array.isArray(value) ? value : ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<unknown>) : [value];
  return list.filter((v) => typeof v === 'string').map((s) => (s as string).replace(/[\0 ]+$/, ''));
}

function stringAttr(g: H5Group, name: string): string[] | null {
  const a = g.attrs[name];
  if (a) return strings(a.value);
  if (!g.attrs[`${name}0`]) return null;
  const out: string[] = [];
  for (let i = 0; g.attrs[`${name}${i}`]; i++) out.push(...strings(g.attrs[`${name}${i}`].value));
  return out;
}

function toFloat32(value: unknown, file: string, name: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array || value instanceof Int32Array || value instanceof Int16Array || value instanceof Uint8Array)
    return Float32Array.from(value);
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) return Float32Array.from(value, (v) => Number(v));
  if (typeof value === 'number') return Float32Array.of(value);
  if (typeof value === 'bigint') return Float32Array.of(Number(value));
  throw new UserError(`${file}: weight '${name}' is not numeric`);
}

/** Read every layer's weights of a Keras .h5 weight file. */
export async function readKerasH5(file: string): Promise<WeightSource> {
  if (!existsSync(file)) throw new UserError(`${file}: no such weight file`);
  const bytes = await readFile(file);
  if (bytes.subarray(0, 8).toString('latin1') !== '\x89HDF\r\n\x1a\n') throw new UserError(`${file}: not an HDF5 file (Keras .h5 weights expected)`);
  const lib = await h5();
  const f = new lib.File(file, 'r');
  try {
    let root: H5Group = f;
    const mw = f.get('model_weights');
    if (mw instanceof lib.Group) root = mw;
    const layerNames = stringAttr(root, 'layer_names');
    if (!layerNames) {
      if (f.get('layers') instanceof lib.Group || f.get('vars') instanceof lib.Group) {
        throw new UserError(
          `${file}: a Keras 3 '.weights.h5' file; save the weights in the legacy HDF5 layout (Keras 2 \`model.save_weights('x.h5')\`, as the Keras-applications downloads are)`,
        );
      }
      throw new UserError(`${file}: no 'layer_names' attribute: not a Keras HDF5 weight file`);
    }
    const layers = new Map<string, SourceLayer>();
    for (const layer of layerNames) {
      const g = root.get(layer);
      if (!(g instanceof lib.Group)) throw new UserError(`${file}: layer '${layer}' is listed in layer_names but has no group`);
      const names = stringAttr(g, 'weight_names') ?? [];
      const weights = names.map((name) => {
        const d = g.get(name);
        if (!(d instanceof lib.Dataset)) throw new UserError(`${file}: weight '${name}' of layer '${layer}' is listed but has no dataset`);
        const ds = d as H5Dataset;
        return { name, shape: ds.shape ?? [], data: toFloat32(ds.value, file, name) };
      });
      layers.set(layer, { name: layer, weights });
    }
    return { file, format: 'h5', hash: hashBytes(bytes), layers };
  } finally {
    f.close();
  }
}

/** Keras's dataset name of a tfjs variable: `<layer>/<weight>:0`. */
function kerasWeightName(originalName: string): string {
  return `${originalName}:0`;
}

function fixedStrings(g: H5Group, name: string, values: string[]): void {
  if (values.length === 0) {
    g.create_attribute(name, new Float64Array(0), [0]);
    return;
  }
  const width = Math.max(1, ...values.map((v) => Buffer.byteLength(v)));
  g.create_attribute(name, values, [values.length], `A${width}`);
}

/**
 * Write `model`'s weights as Keras does (`save_weights` to .h5): every layer, with its
 * weight_names and one float32 dataset per weight.
 */
export async function writeKerasH5(model: LayersModel, file: string, opts: { kerasVersion?: string } = {}): Promise<void> {
  const lib = await h5();
  const f = new lib.File(file, 'w');
  try {
    const layers = model.layers;
    fixedStrings(
      f,
      'layer_names',
      layers.map((l) => l.name),
    );
    f.create_attribute('backend', 'tensorflow', null, 'A10');
    f.create_attribute('keras_version', opts.kerasVersion ?? '2.15.0', null, `A${(opts.kerasVersion ?? '2.15.0').length}`);
    for (const layer of layers) {
      const g = f.create_group(layer.name);
      const vars = layer.weights;
      const names = vars.map((v) => kerasWeightName(v.originalName));
      fixedStrings(g, 'weight_names', names);
      const values = layer.getWeights();
      names.forEach((name, i) => {
        const parts = name.split('/');
        let parent: H5Group = g;
        for (const p of parts.slice(0, -1)) {
          const existing = parent.get(p);
          parent = existing instanceof lib.Group ? existing : parent.create_group(p);
        }
        parent.create_dataset({ name: parts.at(-1)!, data: values[i].dataSync() as Float32Array, shape: values[i].shape, dtype: '<f4' });
      });
    }
  } finally {
    f.close();
  }
}
