/**
 * tfjs-layers model → ONNX (opset 17), generically over layer classes (converters in layers.ts):
 * - the model is flattened (nested models inlined, flatten.ts);
 * - NHWC → NCHW once: the input `input` [N, H, W, C] (exactly what the tfjs model takes) is
 *   transposed at the start; 4-D outputs are transposed back, so every output is in Keras order;
 * - a BatchNormalization whose input is read only by a Conv2D / DepthwiseConv2D / SeparableConv2D /
 *   Dense without activation is folded into that layer's weights; a ZeroPadding2D read only by a
 *   convolution becomes the convolution's pads;
 * - outputs: `output` (the model's output), one per requested activation layer (its name, NHWC),
 *   and optionally `cam` (below).
 *
 * `cam`: for a head where the feature map A (last conv activations, h × w × C) is followed only by
 * GlobalAveragePooling2D → (Dropout…) → Dense(K, softmax or linear) = the model output, the
 * Grad-CAM channel weights of class c are exactly W[:, c] / (h·w) (the gradient of logit c with
 * respect to A is constant), so the map Σ_k W[k, c]/(h·w) · A[i, j, k] of every class is one 1×1
 * convolution of A: output `cam` [N, K, h, w] (before the ReLU that Grad-CAM applies).
 */
import { UserError } from '@mri-robust/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { attr, GraphBuilder, OPSET, type Dim } from './builder.ts';
import { findValue, flattenModel, soleConsumer, usesOf, type IrGraph, type IrNode, type IrValue, type Uses } from './flatten.ts';
import {
  ABSORBS_PADDING,
  batchNormAffine,
  FOLDABLE_INTO,
  layerConverter,
  supportedLayerClasses,
  zeroPadding,
  type ChannelAffine,
  type OnnxValue,
} from './layers.ts';
import { encodeModel } from './proto.ts';

const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'output';
export const CAM_OUTPUT = 'cam';

export interface ExportOptions {
  /** Layers whose activations are extra outputs (named after the layer, NHWC). */
  activations?: string[];
  /** Add the `cam` output when the head allows it (see above); `layer` names the feature map. */
  cam?: boolean | { layer?: string };
  /** Fold batch norm into the preceding conv / dense (default true). */
  foldBatchNorm?: boolean;
  /** Key/value strings stored in the model's metadata_props. */
  metadata?: Record<string, string>;
}

export interface OnnxOutputInfo {
  name: string;
  kind: 'output' | 'activation' | 'cam';
  /** Layer whose value it is (for `cam`: the feature layer). */
  layer: string;
  /** Shape with the batch first (null); `cam`: [null, classes, h, w]. */
  shape: (number | null)[];
}

export interface CamInfo {
  /** Feature layer. */
  layer: string;
  height: number;
  width: number;
  channels: number;
  classes: number;
}

export interface OnnxExport {
  bytes: Uint8Array;
  input: { name: string; shape: (number | null)[] };
  outputs: OnnxOutputInfo[];
  opset: number;
  /** Set when the `cam` output was added. */
  cam: CamInfo | null;
  /** Why `cam` was asked for but not added. */
  camUnavailable?: string;
  /** Batch-norm layers folded and zero paddings absorbed. */
  folded: { batchNorm: number; padding: number };
}

const NOT_A_FEATURE_MAP = new Set([
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Dropout',
  'SpatialDropout2D',
  'ZeroPadding2D',
  'Cropping2D',
]);
const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

/** The feature map Grad-CAM explains: `name`, or the last 4-D value not made by pooling, padding or dropout. */
function featureValue(g: IrGraph, name?: string): IrValue {
  if (name) {
    const v = findValue(g, name);
    if (!v) throw new UserError(`ONNX export: no layer named '${name}' in the model`);
    return v;
  }
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.output.shape.length === 4 && !NOT_A_FEATURE_MAP.has(n.className)) return n.output;
  }
  throw new UserError('ONNX export: the model has no convolutional feature map (no 4-D layer output)');
}

/** The Dense layer of a feature → GAP → (Dropout…) → Dense = output head, or why there is none. */
function camHead(g: IrGraph, uses: Map<number, Uses>, feature: IrValue): { dense: IrNode } | { reason: string } {
  const gap = soleConsumer(uses, feature);
  if (!gap || gap.className !== 'GlobalAveragePooling2D' || gap.layer.getConfig().keepDims === true) {
    return { reason: `'${feature.layerName}' is not read only by a global average pooling` };
  }
  let v = gap.output;
  for (;;) {
    const next = soleConsumer(uses, v);
    if (!next) return { reason: `the pooled '${feature.layerName}' features are not read by a single dense layer` };
    if (PASS_THROUGH.has(next.className)) {
      v = next.output;
      continue;
    }
    if (next.className !== 'Dense') return { reason: `'${next.layer.name}' (${next.className}) sits between the pooling and the dense layer` };
    const act = String(next.layer.getConfig().activation ?? 'linear');
    if (act !== 'softmax' && act !== 'linear') return { reason: `dense '${next.layer.name}' has activation ${act}` };
    if (g.outputs[0].id !== next.output.id) return { reason: `dense '${next.layer.name}' is not the model output` };
    return { dense: next };
  }
}

function nchwAtInput(b: GraphBuilder, input: IrValue): OnnxValue {
  const dims: Dim[] = ['N', ...input.shape.slice(1).map((d, i) => d ?? `d${i + 1}`)];
  b.input(INPUT_NAME, dims);
  if (input.shape.length !== 4) return { name: INPUT_NAME, layout: 'plain', shape: input.shape };
  const t = b.node('Transpose', [INPUT_NAME], { perm: attr.ints([0, 3, 1, 2]) }, 'input_nchw');
  return { name: t, layout: 'nchw', shape: input.shape };
}

function emitOutput(b: GraphBuilder, v: OnnxValue, name: string): void {
  // `name` was reserved before any node was added.
  if (v.layout === 'nchw') b.node('Transpose', [v.name], { perm: attr.ints([0, 2, 3, 1]) }, name, name);
  else b.node('Identity', [v.name], {}, name, name);
  b.output(name, ['N', ...v.shape.slice(1).map((d, i) => d ?? `${name}_d${i + 1}`)]);
}

function outputName(layer: string, taken: Set<string>): string {
  let n = layer.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (taken.has(n)) n = `${n}_activation`;
  taken.add(n);
  return n;
}

/** Exports `model` (one input, one output) to ONNX bytes. */
export function exportOnnx(model: LayersModel, opts: ExportOptions = {}): OnnxExport {
  const g = flattenModel(model);
  if (g.inputs.length !== 1 || g.outputs.length !== 1) {
    throw new UserError(`ONNX export: model '${model.name}' has ${g.inputs.length} inputs and ${g.outputs.length} outputs (only one of each)`);
  }
  const activations = (opts.activations ?? []).map((name) => {
    const v = findValue(g, name);
    if (!v) throw new UserError(`ONNX export: no layer named '${name}' in model '${model.name}'`);
    return { name, v };
  });
  const uses = usesOf(
    g,
    activations.map((a) => a.v),
  );
  const fold = opts.foldBatchNorm ?? true;

  // Folding plan.
  const padOf = new Map<IrNode, [number, number, number, number]>();
  const bnOf = new Map<IrNode, ChannelAffine>();
  const skipped = new Set<IrNode>();
  for (const n of g.nodes) {
    if (n.className === 'ZeroPadding2D') {
      const c = soleConsumer(uses, n.output);
      if (c && ABSORBS_PADDING.has(c.className) && c.className !== 'MaxPooling2D' && !padOf.has(c)) {
        padOf.set(c, zeroPadding(n.layer.getConfig() as Record<string, unknown>));
        skipped.add(n);
      }
    } else if (fold && n.className === 'BatchNormalization') {
      const p = n.inputs[0].producer;
      const axis = Number(n.layer.getConfig().axis ?? -1);
      if (
        p &&
        FOLDABLE_INTO.has(p.className) &&
        String(p.layer.getConfig().activation ?? 'linear') === 'linear' &&
        soleConsumer(uses, p.output) === n &&
        (axis === -1 || axis === n.output.shape.length - 1)
      ) {
        bnOf.set(p, batchNormAffine(n.layer));
        skipped.add(n);
      }
    }
  }

  const b = new GraphBuilder();
  const taken = new Set([INPUT_NAME, OUTPUT_NAME, CAM_OUTPUT]);
  const activationNames = activations.map((a) => outputName(a.name, taken));
  for (const name of [OUTPUT_NAME, CAM_OUTPUT, ...activationNames]) b.reserve(name);
  const values = new Map<number, OnnxValue>();
  values.set(g.inputs[0].id, nchwAtInput(b, g.inputs[0]));
  for (const n of g.nodes) {
    const ins = n.inputs.map((v) => {
      const x = values.get(v.id);
      if (!x) throw new Error(`ONNX export: value of '${v.layerName}' used before it is computed`);
      return x;
    });
    if (skipped.has(n)) {
      // Folded: the value is the conv's (batch norm) or the padding's input (zero padding).
      values.set(n.output.id, n.className === 'BatchNormalization' ? values.get(n.inputs[0].id)! : ins[0]);
      continue;
    }
    const convert = layerConverter(n.className);
    if (!convert) {
      throw new UserError(
        `ONNX export: layer '${n.path.join('/')}' of class ${n.className} is not supported (supported: ${supportedLayerClasses().join(', ')}); use model.inference: tfjs`,
      );
    }
    const y = convert({
      b,
      node: n,
      layer: n.layer,
      config: n.layer.getConfig() as Record<string, unknown>,
      inputs: ins,
      base: n.path.join('/'),
      extraPads: padOf.get(n),
      affine: bnOf.get(n),
    });
    values.set(n.output.id, { ...y, shape: n.output.shape });
  }

  const outputs: OnnxOutputInfo[] = [];
  const main = values.get(g.outputs[0].id)!;
  emitOutput(b, main, OUTPUT_NAME);
  outputs.push({ name: OUTPUT_NAME, kind: 'output', layer: g.outputs[0].layerName, shape: g.outputs[0].shape });
  for (const [i, a] of activations.entries()) {
    const name = activationNames[i];
    emitOutput(b, values.get(a.v.id)!, name);
    outputs.push({ name, kind: 'activation', layer: a.name, shape: a.v.shape });
  }

  let cam: CamInfo | null = null;
  let camUnavailable: string | undefined;
  if (opts.cam) {
    const feature = featureValue(g, typeof opts.cam === 'object' ? opts.cam.layer : undefined);
    const head = camHead(g, uses, feature);
    if ('reason' in head) {
      camUnavailable = head.reason;
    } else {
      const [, h, w, c] = feature.shape as number[];
      const kernel = head.dense.layer.getWeights()[0];
      const [din, k] = kernel.shape;
      if (din !== c) throw new Error(`dense '${head.dense.layer.name}' reads ${din} features, the map has ${c} channels`);
      const W = kernel.dataSync() as Float32Array;
      const conv = new Float32Array(k * c);
      for (let cls = 0; cls < k; cls++) for (let ch = 0; ch < c; ch++) conv[cls * c + ch] = W[ch * k + cls] / (h * w);
      const x = values.get(feature.id)!;
      const weightsName = b.constFloat('cam/W', conv, [k, c, 1, 1]);
      b.node('Conv', [x.name, weightsName], { kernel_shape: attr.ints([1, 1]) }, CAM_OUTPUT, CAM_OUTPUT);
      b.output(CAM_OUTPUT, ['N', k, h, w]);
      cam = { layer: feature.layerName, height: h, width: w, channels: c, classes: k };
      outputs.push({ name: CAM_OUTPUT, kind: 'cam', layer: feature.layerName, shape: [null, k, h, w] });
    }
  }

  const proto = b.toModel({ name: model.name, docString: `exported from the tfjs-layers model '${model.name}'`, metadata: opts.metadata });
  return {
    bytes: encodeModel(proto),
    input: { name: INPUT_NAME, shape: g.inputs[0].shape },
    outputs,
    opset: OPSET,
    cam,
    camUnavailable,
    folded: { batchNorm: bnOf.size, padding: padOf.size },
  };
}
