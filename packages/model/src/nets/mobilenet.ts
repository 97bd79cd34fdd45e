/**
 * MobileNetV2 (tfjs layers model, e.g. ../shared/weights/mobilenet_v2_0.35_224: Keras MobileNetV2
 * without top, cut at out_relu, + global average pooling → 1280-d embedding), loaded from a folder,
 * model.json path, file:// or http(s) URL; inputs [-1, 1] (see preprocess.ts).
 *
 * `splitAtLayer` cuts the (possibly nested) backbone at a layer for `partial` mode:
 * `bottom` (input → cut activations, run with predict() only — tfjs batch norm uses batch statistics
 * during fit even when trainable=false) and `buildTop()` (cut activations → embedding, fresh layers
 * with the backbone's weights, trainable).
 */
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hashBytes, UserError } from '@mri-robust/core';
import { modelHandler } from '../io/file-handler.ts';

type LayersModel = tfl.LayersModel;
type Layer = tfl.layers.Layer;
type SymbolicTensor = tfl.SymbolicTensor;

/**
 * Default cut for `partial` mode on MobileNetV2-0.35: the output of block 12 (14×14×32 at 224 px,
 * 6,272 floats = 24.5 KiB per image, ~220 MiB for 9,000 images). Above it sit blocks 13–16 (the
 * stride-2 block 13 and the whole 7×7 stage) and Conv_1: ~75 % of the parameters, few FLOPs. No
 * residual connection crosses this point. Later cuts (block_15_add, 7×7×56) are cheaper but leave
 * only block 16 + Conv_1 to adapt; earlier ones (block_13_expand_relu, 14×14×192) cost 6× the space.
 */
export const DEFAULT_CUT_LAYER = 'block_12_add';

export interface LoadedBackbone {
  model: LayersModel;
  /** sha256 of the topology + weight bytes (before any input-size patch). */
  hash: string;
  location: string;
  inputSize: number;
}

function patchInputSize(topology: unknown, inputSize: number): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.class_name === 'InputLayer' && o.config && typeof o.config === 'object') {
      const cfg = o.config as Record<string, unknown>;
      const shape = cfg.batch_input_shape as (number | null)[] | undefined;
      if (shape && shape.length === 4) cfg.batch_input_shape = [shape[0], inputSize, inputSize, shape[3]];
    }
    Object.values(o).forEach(visit);
  };
  visit(topology);
}

export interface BackboneArtifacts {
  artifacts: tfc.io.ModelArtifacts;
  weightData: ArrayBuffer;
  /** sha256 of the topology, weight specs and weight bytes. */
  hash: string;
  location: string;
}

/** Read (without building) a layers model's artifacts and hash them. No backend needed. */
export async function readBackboneArtifacts(location: string): Promise<BackboneArtifacts> {
  const handler = modelHandler(location);
  if (!handler.load) throw new Error(`no loader for ${location}`);
  const artifacts = await handler.load();
  const weightData = artifacts.weightData ? tfc.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
  const hash = hashBytes(
    Buffer.concat([
      Buffer.from(JSON.stringify(artifacts.modelTopology ?? null)),
      Buffer.from(JSON.stringify(artifacts.weightSpecs ?? null)),
      Buffer.from(weightData),
    ]),
  );
  return { artifacts, weightData, hash, location };
}

/** Load a MobileNetV2 layers model; `inputSize` rewrites the input layers' spatial size. */
export async function loadMobileNetV2(location: string, options: { inputSize?: number; artifacts?: BackboneArtifacts } = {}): Promise<LoadedBackbone> {
  const { artifacts, weightData, hash } = options.artifacts ?? (await readBackboneArtifacts(location));
  const topology = JSON.parse(JSON.stringify(artifacts.modelTopology)) as object;
  const declared = findInputSize(topology);
  const inputSize = options.inputSize ?? declared ?? 224;
  if (inputSize !== declared) patchInputSize(topology, inputSize);
  let model: LayersModel;
  try {
    model = await tfl.loadLayersModel(tfc.io.fromMemory({ ...artifacts, modelTopology: topology, weightData }));
  } catch (e) {
    throw new UserError(`${location}: cannot build the layers model (${(e as Error).message})`);
  }
  const out = model.outputs[0].shape;
  if (model.inputs[0].shape.length !== 4 || out.length !== 2) {
    throw new UserError(`${location}: expected an image → embedding model ([N,h,w,c] → [N,D]), got [${model.inputs[0].shape}] → [${out}]`);
  }
  return { model, hash, location, inputSize };
}

function findInputSize(topology: unknown): number | null {
  let found: number | null = null;
  const visit = (node: unknown): void => {
    if (found !== null || !node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    const o = node as Record<string, unknown>;
    if (o.class_name === 'InputLayer') {
      const s = (o.config as Record<string, unknown> | undefined)?.batch_input_shape as number[] | undefined;
      if (s && s.length === 4 && typeof s[1] === 'number') found = s[1];
    }
    Object.values(o).forEach(visit);
  };
  visit(topology);
  return found;
}

/** The model's layers with nested models flattened, in topological order (InputLayers dropped). */
export function layerNames(model: LayersModel): string[] {
  const names: string[] = [];
  for (const l of model.layers) {
    if (l instanceof tfl.LayersModel) names.push(...layerNames(l));
    else if (l.getClassName() !== 'InputLayer') names.push(l.name);
  }
  return names;
}

interface Container {
  model: LayersModel;
  /** Layers of the enclosing model applied after this container (e.g. avg_pool), in order. */
  tail: Layer[];
}

/** Find the (possibly nested) model that holds `name`, and the outer layers applied after it. */
function findContainer(model: LayersModel, name: string): Container | null {
  if (model.layers.some((l) => l.name === name && !(l instanceof tfl.LayersModel))) return { model, tail: [] };
  for (let i = 0; i < model.layers.length; i++) {
    const l = model.layers[i];
    if (!(l instanceof tfl.LayersModel)) continue;
    const inner = findContainer(l, name);
    if (inner) {
      const after = model.layers.slice(i + 1);
      if (after.some((a) => a instanceof tfl.LayersModel)) return null;
      return { model: inner.model, tail: [...inner.tail, ...after] };
    }
  }
  return null;
}

function cloneLayer(layer: Layer): Layer {
  const cls = layer.constructor as unknown as {
    fromConfig: (c: unknown, config: tfc.serialization.ConfigDict) => Layer;
  };
  return cls.fromConfig(cls, layer.getConfig());
}

function inboundLayerNames(layer: Layer): string[] {
  const nodes = (layer as unknown as { inboundNodes: { inboundLayers: Layer[] }[] }).inboundNodes;
  if (nodes.length !== 1) throw new Error(`layer ${layer.name} is used ${nodes.length} times; cannot split`);
  return nodes[0].inboundLayers.map((l) => l.name);
}

interface BuildTopOptions {
  /**
   * Fold each batch-norm layer into the conv before it (kernel scaled by γ/√(σ²+ε), bias
   * β − μ·γ/√(σ²+ε)); default true. The top then has no batch norm at all: it computes exactly the
   * backbone's inference function, trains as Keras's recommended fine-tuning with frozen BN
   * statistics would (tfjs batch norm would otherwise switch to batch statistics during fit), and
   * a training step is about twice as fast on wasm (no BN forward/backward, no Tile).
   */
  foldBatchNorm?: boolean;
}

export interface SplitModel {
  /** image → activations at the cut (inference only: run with predict()). */
  bottom: LayersModel;
  cutLayer: string;
  /** Activation shape at the cut, without batch: [h, w, c]. */
  cutShape: number[];
  /** cut activations → embedding; new layers carrying copies of the backbone's weights, trainable. */
  buildTop(options?: BuildTopOptions): LayersModel;
}

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D']);

/** Weights of `conv` with the following batch-norm `bn` folded in: [kernel, bias]. */
function foldedWeights(conv: Layer, bn: Layer): tfc.Tensor[] {
  return tfc.tidy(() => {
    const cfg = bn.getConfig() as { epsilon: number; center: boolean; scale: boolean };
    const w = bn.getWeights();
    let i = 0;
    const gamma = cfg.scale ? w[i++] : null;
    const beta = cfg.center ? w[i++] : null;
    const mean = w[i++];
    const variance = w[i++];
    const inv = tfc.rsqrt(tfc.add(variance, cfg.epsilon));
    const s = gamma ? tfc.mul(gamma, inv) : inv;
    const [kernel, convBias] = conv.getWeights();
    const kShape = kernel.shape;
    // Conv2D kernel [kh, kw, cin, cout]; DepthwiseConv2D [kh, kw, cin, mult], out channel cin·mult + m.
    const sShape = conv.getClassName() === 'Conv2D' ? [1, 1, 1, kShape[3]] : [1, 1, kShape[2], kShape[3]];
    const k = tfc.mul(kernel, tfc.reshape(s, sShape as number[]));
    let bias = tfc.mul(tfc.sub(convBias ?? tfc.zerosLike(mean), mean), s);
    if (beta) bias = tfc.add(bias, beta);
    return [k, bias];
  });
}

/** Split `model` (image → embedding) at `cutLayerName` for `partial` mode. */
export function splitAtLayer(model: LayersModel, cutLayerName: string): SplitModel {
  const c = findContainer(model, cutLayerName);
  if (!c) {
    throw new UserError(
      `cut_layer '${cutLayerName}' is not a layer of the backbone (e.g. ${DEFAULT_CUT_LAYER}; layers: ${layerNames(model).slice(-12).join(', ')}, ...)`,
    );
  }
  const layers = c.model.layers;
  const cutIndex = layers.findIndex((l) => l.name === cutLayerName);
  const cut = layers[cutIndex];
  const cutOut = cut.output as SymbolicTensor;
  const outputName = (c.model.outputs[0] as SymbolicTensor).sourceLayer.name;
  if (cutLayerName === outputName && c.tail.length === 0) {
    throw new UserError(`cut_layer '${cutLayerName}' is the backbone's output; nothing would be trained above it`);
  }
  // Check now (not only in buildTop) that no connection skips over the cut.
  const outIndex = layers.findIndex((l) => l.name === outputName);
  const above = layers.slice(cutIndex + 1, outIndex + 1).filter((l) => l.getClassName() !== 'InputLayer');
  const known = new Set([cutLayerName]);
  const consumers = new Map<string, string[]>();
  for (const l of above) {
    for (const n of inboundLayerNames(l)) {
      if (!known.has(n)) {
        throw new UserError(
          `cut_layer '${cutLayerName}': layer '${l.name}' also reads '${n}' from below the cut (a skip connection crosses it); cut at a block output such as ${DEFAULT_CUT_LAYER}`,
        );
      }
      consumers.set(n, [...(consumers.get(n) ?? []), l.name]);
    }
    known.add(l.name);
  }
  const byName = new Map(above.map((l) => [l.name, l]));
  /** The batch-norm layer that is the sole consumer of conv `l`, if any. */
  const bnAfter = (l: Layer): Layer | null => {
    if (!CONV_CLASSES.has(l.getClassName())) return null;
    const cons = consumers.get(l.name) ?? [];
    const bn = cons.length === 1 ? byName.get(cons[0]) : undefined;
    if (!bn || bn.getClassName() !== 'BatchNormalization') return null;
    const axis = (bn.getConfig() as { axis: number | number[] }).axis;
    return axis === -1 || axis === 3 ? bn : null;
  };
  const bottom = tfl.model({ inputs: c.model.inputs, outputs: cutOut, name: `bottom_${cutLayerName}` });
  const cutShape = cutOut.shape.slice(1) as number[];
  return {
    bottom,
    cutLayer: cutLayerName,
    cutShape,
    buildTop(options: BuildTopOptions = {}) {
      const fold = options.foldBatchNorm ?? true;
      const input = tfl.input({ shape: cutShape, name: `${cutLayerName}_activations` });
      const made = new Map<string, SymbolicTensor>([[cutLayerName, input]]);
      const copies: [Layer, tfc.Tensor[]][] = [];
      const folded = new Set<string>();
      let last: SymbolicTensor = input;
      for (const l of above) {
        if (folded.has(l.name)) continue;
        const ins = inboundLayerNames(l).map((n) => made.get(n) as SymbolicTensor);
        const bn = fold ? bnAfter(l) : null;
        let clone: Layer;
        if (bn) {
          const cls = l.constructor as unknown as { fromConfig: (c: unknown, config: tfc.serialization.ConfigDict) => Layer };
          clone = cls.fromConfig(cls, { ...l.getConfig(), useBias: true, name: `${l.name}_folded` });
        } else {
          clone = cloneLayer(l);
        }
        last = clone.apply(ins.length === 1 ? ins[0] : ins) as SymbolicTensor;
        made.set(l.name, last);
        if (bn) {
          made.set(bn.name, last);
          folded.add(bn.name);
          copies.push([clone, foldedWeights(l, bn)]);
        } else {
          copies.push([clone, l.getWeights()]);
        }
      }
      for (const l of c.tail) {
        const clone = cloneLayer(l);
        last = clone.apply(last) as SymbolicTensor;
        copies.push([clone, l.getWeights()]);
      }
      for (const [to, weights] of copies) {
        to.setWeights(weights);
        to.trainable = true;
      }
      return tfl.model({ inputs: input, outputs: last, name: `top_${cutLayerName}` });
    },
  };
}

/** The whole backbone, every layer trainable, for `full` mode (end-to-end training). */
export function trainableBackbone(model: LayersModel): LayersModel {
  const setAll = (m: LayersModel) => {
    m.trainable = true;
    for (const l of m.layers) {
      l.trainable = true;
      if (l instanceof tfl.LayersModel) setAll(l);
    }
  };
  setAll(model);
  return model;
}
