/**
 * ONNX converters for tfjs-layers layer classes, keyed by `getClassName()`. Values of rank 4 are
 * kept NCHW inside the graph (the exporter transposes once at the input and back at 4-D outputs);
 * other ranks keep Keras order ('plain'). A converter receives the layer, its input values and
 * what the exporter folded into it (a preceding ZeroPadding2D, a following BatchNormalization)
 * and returns its output value. `registerLayerConverter` (below) adds the classes; a new backbone
 * adds its own here.
 */
import { UserError } from '@mri-robust/core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { attr, type GraphBuilder } from './builder.ts';
import type { IrNode } from './flatten.ts';

type Layer = tfl.layers.Layer;

type Layout = 'nchw' | 'plain';

export interface OnnxValue {
  name: string;
  layout: Layout;
  /** Keras (NHWC) shape, batch first. */
  shape: (number | null)[];
}

/** Batch norm as y = x·scale + shift per channel (float64 while folding). */
export interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

interface ConvertContext {
  b: GraphBuilder;
  node: IrNode;
  layer: Layer;
  /** `layer.getConfig()`. */
  config: Record<string, unknown>;
  inputs: OnnxValue[];
  /** Node name base (the layer's path). */
  base: string;
  /** Zero padding [top, bottom, left, right] of a ZeroPadding2D folded into this conv. */
  extraPads?: [number, number, number, number];
  /** A following batch norm folded into this conv / dense. */
  affine?: ChannelAffine;
}

export type LayerConverter = (ctx: ConvertContext) => OnnxValue;

const converters = new Map<string, LayerConverter>();

/** Adds or replaces the converter of a layer class (`layer.getClassName()`). */
function registerLayerConverter(className: string, fn: LayerConverter): void {
  converters.set(className, fn);
}

export function layerConverter(className: string): LayerConverter | undefined {
  return converters.get(className);
}

export function supportedLayerClasses(): string[] {
  return [...converters.keys()].sort();
}

/** Layer classes whose following batch norm can be folded into their weights. */
export const FOLDABLE_INTO = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']);
/** Layer classes that can absorb a preceding ZeroPadding2D into their pads. */
export const ABSORBS_PADDING = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'MaxPooling2D']);

// ---------- helpers ----------

function fail(ctx: ConvertContext, why: string): never {
  throw new UserError(`ONNX export: layer '${ctx.layer.name}' (${ctx.node.className}): ${why}`);
}

function weights(layer: Layer): { data: Float32Array; shape: number[] }[] {
  return layer.getWeights().map((w) => ({ data: Float32Array.from(w.dataSync() as Float32Array), shape: w.shape }));
}

function pair(v: unknown, what: string, ctx: ConvertContext): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x))) fail(ctx, `${what} ${JSON.stringify(v)} is not two integers`);
  return [a[0] as number, a[1] as number];
}

function channelsLast(ctx: ConvertContext): void {
  const f = ctx.config.dataFormat;
  if (f !== undefined && f !== 'channelsLast') fail(ctx, `data format '${String(f)}' (only channelsLast)`);
}

function spatial(ctx: ConvertContext): [number, number] {
  const s = ctx.inputs[0].shape;
  if (s.length !== 4 || typeof s[1] !== 'number' || typeof s[2] !== 'number') fail(ctx, `needs a 4-D input with a known size, got [${s.join(', ')}]`);
  return [s[1], s[2]];
}

/** Keras 'same' padding of one axis: total = max((⌈n/s⌉ − 1)·s + (k − 1)·d + 1 − n, 0), more at the end. */
export function samePads(n: number, k: number, s: number, d = 1): [number, number] {
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - n, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** ONNX `pads` [top, left, bottom, right] for a window op, with any folded zero padding added. */
function windowPads(ctx: ConvertContext, kernel: [number, number], strides: [number, number], dil: [number, number]): number[] {
  const [h, w] = spatial(ctx);
  const e = ctx.extraPads ?? [0, 0, 0, 0];
  const ph = h + e[0] + e[1];
  const pw = w + e[2] + e[3];
  const padding = ctx.config.padding;
  let t = 0,
    bo = 0,
    l = 0,
    r = 0;
  if (padding === 'same') {
    [t, bo] = samePads(ph, kernel[0], strides[0], dil[0]);
    [l, r] = samePads(pw, kernel[1], strides[1], dil[1]);
  } else if (padding !== 'valid') {
    fail(ctx, `padding '${String(padding)}' (only 'same' and 'valid')`);
  }
  return [t + e[0], l + e[2], bo + e[1], r + e[3]];
}

function requireLayout(ctx: ConvertContext, layout: Layout, rank?: number): OnnxValue {
  const x = ctx.inputs[0];
  if (x.layout !== layout || (rank !== undefined && x.shape.length !== rank)) {
    fail(ctx, `expects a ${rank ?? ''}${rank ? '-D ' : ''}${layout === 'nchw' ? 'image-like (4-D)' : 'flat'} input, got [${x.shape.join(', ')}]`);
  }
  return x;
}

function out(name: string, layout: Layout, shape: (number | null)[]): OnnxValue {
  return { name, layout, shape };
}

/** Softmax / concat axis of a Keras axis on a value of this layout. */
function onnxAxis(axis: number, v: OnnxValue): number {
  const rank = v.shape.length;
  const a = axis < 0 ? axis + rank : axis;
  if (v.layout !== 'nchw') return a;
  return [0, 2, 3, 1][a];
}

/** Emits a Keras activation (by its serialised name) applied to `x`. */
function emitActivation(b: GraphBuilder, name: string, x: OnnxValue, base: string, where: string): OnnxValue {
  const unary = (op: string, attrs = {}) => out(b.node(op, [x.name], attrs, base), x.layout, x.shape);
  switch (name) {
    case 'linear':
    case undefined:
      return x;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return out(
        b.node('Clip', [x.name, b.constFloat(`${base}/min`, new Float32Array([0]), []), b.constFloat(`${base}/max`, new Float32Array([6]), [])], {}, base),
        x.layout,
        x.shape,
      );
    case 'sigmoid':
      return unary('Sigmoid');
    case 'tanh':
      return unary('Tanh');
    case 'elu':
      return unary('Elu', { alpha: attr.float(1) });
    case 'selu':
      return unary('Selu', { alpha: attr.float(1.6732632423543772), gamma: attr.float(1.0507009873554805) });
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'hardSigmoid':
      // Keras: clip(0.2·x + 0.5, 0, 1).
      return unary('HardSigmoid', { alpha: attr.float(0.2), beta: attr.float(0.5) });
    case 'swish': {
      const s = b.node('Sigmoid', [x.name], {}, base);
      return out(b.node('Mul', [x.name, s], {}, base), x.layout, x.shape);
    }
    case 'softmax':
      return unary('Softmax', { axis: attr.int(onnxAxis(-1, x)) });
    default:
      throw new UserError(`ONNX export: ${where}: activation '${name}' is not supported`);
  }
}

function activationOf(ctx: ConvertContext, y: OnnxValue): OnnxValue {
  return emitActivation(ctx.b, String(ctx.config.activation ?? 'linear'), y, ctx.base, `layer '${ctx.layer.name}'`);
}

/** Batch-norm parameters of a BatchNormalization layer as a per-channel affine map. */
export function batchNormAffine(layer: Layer): ChannelAffine {
  const cfg = layer.getConfig() as { epsilon: number; center: boolean; scale: boolean };
  const w = weights(layer);
  let i = 0;
  const gamma = cfg.scale ? w[i++].data : null;
  const beta = cfg.center ? w[i++].data : null;
  const mean = w[i++].data;
  const variance = w[i++].data;
  const n = mean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const s = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + cfg.epsilon);
    scale[c] = s;
    shift[c] = (beta ? beta[c] : 0) - mean[c] * s;
  }
  return { scale, shift };
}

/** Output channel `o` scaled by the folded batch norm: w·scale, bias·scale + shift. */
function foldInto(
  kernel: Float32Array,
  perOut: number,
  bias: Float32Array | null,
  units: number,
  affine?: ChannelAffine,
): { kernel: Float32Array; bias: Float32Array | null } {
  if (!affine) return { kernel, bias };
  if (affine.scale.length !== units) throw new Error(`batch norm of ${affine.scale.length} channels after ${units} units`);
  const k = new Float32Array(kernel.length);
  for (let o = 0; o < units; o++) for (let j = 0; j < perOut; j++) k[o * perOut + j] = kernel[o * perOut + j] * affine.scale[o];
  const b = new Float32Array(units);
  for (let o = 0; o < units; o++) b[o] = (bias ? bias[o] : 0) * affine.scale[o] + affine.shift[o];
  return { kernel: k, bias: b };
}

/** HWIO [kh, kw, cin, cout] → OIHW [cout, cin, kh, kw]. */
function hwioToOihw(k: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const o = new Float32Array(k.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++) for (let c = 0; c < cout; c++) o[((c * cin + i) * kh + y) * kw + x] = k[((y * kw + x) * cin + i) * cout + c];
  return o;
}

/** Depthwise [kh, kw, cin, mult] → [cin·mult, 1, kh, kw] (output channel c·mult + m, as tfjs). */
function depthwiseToOihw(k: Float32Array, kh: number, kw: number, cin: number, mult: number): Float32Array {
  const o = new Float32Array(k.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < cin; c++) for (let m = 0; m < mult; m++) o[((c * mult + m) * kh + y) * kw + x] = k[((y * kw + x) * cin + c) * mult + m];
  return o;
}

function convNode(
  ctx: ConvertContext,
  x: OnnxValue,
  kernelOihw: Float32Array,
  dims: [number, number, number, number],
  bias: Float32Array | null,
  opts: { strides: [number, number]; dilations: [number, number]; pads: number[]; group: number },
  outChannels: number,
  outShape: (number | null)[],
  suffix = '',
): OnnxValue {
  const b = ctx.b;
  const inputs = [x.name, b.constFloat(`${ctx.base}${suffix}/W`, kernelOihw, dims)];
  if (bias) inputs.push(b.constFloat(`${ctx.base}${suffix}/B`, bias, [outChannels]));
  const y = b.node(
    'Conv',
    inputs,
    {
      kernel_shape: attr.ints([dims[2], dims[3]]),
      strides: attr.ints(opts.strides),
      dilations: attr.ints(opts.dilations),
      pads: attr.ints(opts.pads),
      group: attr.int(opts.group),
    },
    ctx.base + suffix,
  );
  return out(y, 'nchw', outShape);
}

// ---------- converters ----------

registerLayerConverter('Conv2D', (ctx) => {
  channelsLast(ctx);
  const x = requireLayout(ctx, 'nchw', 4);
  const [kh, kw] = pair(ctx.config.kernelSize, 'kernelSize', ctx);
  const strides = pair(ctx.config.strides, 'strides', ctx);
  const dil = pair(ctx.config.dilationRate ?? 1, 'dilationRate', ctx);
  const [k, bias] = weights(ctx.layer);
  const [, , cin, cout] = k.shape;
  if (Number(ctx.config.groups ?? 1) !== 1) fail(ctx, 'grouped convolution');
  const f = foldInto(hwioToOihw(k.data, kh, kw, cin, cout), cin * kh * kw, ctx.config.useBias ? bias.data : null, cout, ctx.affine);
  const y = convNode(
    ctx,
    x,
    f.kernel,
    [cout, cin, kh, kw],
    f.bias,
    { strides, dilations: dil, pads: windowPads(ctx, [kh, kw], strides, dil), group: 1 },
    cout,
    ctx.node.output.shape,
  );
  return activationOf(ctx, y);
});

registerLayerConverter('DepthwiseConv2D', (ctx) => {
  channelsLast(ctx);
  const x = requireLayout(ctx, 'nchw', 4);
  const [kh, kw] = pair(ctx.config.kernelSize, 'kernelSize', ctx);
  const strides = pair(ctx.config.strides, 'strides', ctx);
  const dil = pair(ctx.config.dilationRate ?? 1, 'dilationRate', ctx);
  const [k, bias] = weights(ctx.layer);
  const [, , cin, mult] = k.shape;
  const cout = cin * mult;
  const f = foldInto(depthwiseToOihw(k.data, kh, kw, cin, mult), kh * kw, ctx.config.useBias ? bias.data : null, cout, ctx.affine);
  const y = convNode(
    ctx,
    x,
    f.kernel,
    [cout, 1, kh, kw],
    f.bias,
    { strides, dilations: dil, pads: windowPads(ctx, [kh, kw], strides, dil), group: cin },
    cout,
    ctx.node.output.shape,
  );
  return activationOf(ctx, y);
});

registerLayerConverter('SeparableConv2D', (ctx) => {
  channelsLast(ctx);
  const x = requireLayout(ctx, 'nchw', 4);
  const [kh, kw] = pair(ctx.config.kernelSize, 'kernelSize', ctx);
  const strides = pair(ctx.config.strides, 'strides', ctx);
  const dil = pair(ctx.config.dilationRate ?? 1, 'dilationRate', ctx);
  const [dk, pk, bias] = weights(ctx.layer);
  const [, , cin, mult] = dk.shape;
  const mid = cin * mult;
  const cout = pk.shape[3];
  const midShape = [...ctx.node.output.shape.slice(0, 3), mid];
  const d = convNode(
    ctx,
    x,
    depthwiseToOihw(dk.data, kh, kw, cin, mult),
    [mid, 1, kh, kw],
    null,
    { strides, dilations: dil, pads: windowPads(ctx, [kh, kw], strides, dil), group: cin },
    mid,
    midShape,
    '/depthwise',
  );
  const f = foldInto(hwioToOihw(pk.data, 1, 1, mid, cout), mid, ctx.config.useBias ? bias.data : null, cout, ctx.affine);
  const y = convNode(
    ctx,
    d,
    f.kernel,
    [cout, mid, 1, 1],
    f.bias,
    { strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1 },
    cout,
    ctx.node.output.shape,
    '/pointwise',
  );
  return activationOf(ctx, y);
});

registerLayerConverter('Dense', (ctx) => {
  const x = ctx.inputs[0];
  if (x.layout !== 'plain' || x.shape.length !== 2) fail(ctx, `Dense on a ${x.shape.length}-D input [${x.shape.join(', ')}] (only [batch, features])`);
  const [k, bias] = weights(ctx.layer);
  const [din, units] = k.shape;
  // Gemm B = kernel [din, units]; folding scales columns, so transpose to [units, din] and use transB.
  const t = new Float32Array(k.data.length);
  for (let i = 0; i < din; i++) for (let o = 0; o < units; o++) t[o * din + i] = k.data[i * units + o];
  const f = foldInto(t, din, ctx.config.useBias ? bias.data : null, units, ctx.affine);
  const inputs = [x.name, ctx.b.constFloat(`${ctx.base}/W`, f.kernel, [units, din])];
  if (f.bias) inputs.push(ctx.b.constFloat(`${ctx.base}/B`, f.bias, [units]));
  const y = ctx.b.node('Gemm', inputs, { transB: attr.int(1) }, ctx.base);
  return activationOf(ctx, out(y, 'plain', ctx.node.output.shape));
});

registerLayerConverter('BatchNormalization', (ctx) => {
  const x = ctx.inputs[0];
  const axis = Number(ctx.config.axis ?? -1);
  const rank = x.shape.length;
  if (!(axis === -1 || axis === rank - 1)) fail(ctx, `axis ${axis} (only the channel axis, -1)`);
  const { scale, shift } = batchNormAffine(ctx.layer);
  const c = scale.length;
  const dims = x.layout === 'nchw' ? [c, 1, 1] : [c];
  const m = ctx.b.node('Mul', [x.name, ctx.b.constFloat(`${ctx.base}/scale`, Float32Array.from(scale), dims)], {}, ctx.base);
  const a = ctx.b.node('Add', [m, ctx.b.constFloat(`${ctx.base}/shift`, Float32Array.from(shift), dims)], {}, ctx.base);
  return out(a, x.layout, ctx.node.output.shape);
});

registerLayerConverter('Activation', (ctx) => activationOf(ctx, ctx.inputs[0]));

registerLayerConverter('ReLU', (ctx) => {
  const x = ctx.inputs[0];
  const max = ctx.config.maxValue as number | null | undefined;
  const slope = Number(ctx.config.negativeSlope ?? 0);
  const threshold = Number(ctx.config.threshold ?? 0);
  if (slope !== 0 || threshold !== 0) fail(ctx, `negativeSlope ${slope} / threshold ${threshold} (only 0)`);
  if (max == null) return out(ctx.b.node('Relu', [x.name], {}, ctx.base), x.layout, x.shape);
  const lo = ctx.b.constFloat(`${ctx.base}/min`, new Float32Array([0]), []);
  const hi = ctx.b.constFloat(`${ctx.base}/max`, new Float32Array([max]), []);
  return out(ctx.b.node('Clip', [x.name, lo, hi], {}, ctx.base), x.layout, x.shape);
});

registerLayerConverter('LeakyReLU', (ctx) => {
  const x = ctx.inputs[0];
  return out(ctx.b.node('LeakyRelu', [x.name], { alpha: attr.float(Number(ctx.config.alpha ?? 0.3)) }, ctx.base), x.layout, x.shape);
});

registerLayerConverter('ELU', (ctx) => {
  const x = ctx.inputs[0];
  return out(ctx.b.node('Elu', [x.name], { alpha: attr.float(Number(ctx.config.alpha ?? 1)) }, ctx.base), x.layout, x.shape);
});

registerLayerConverter('Softmax', (ctx) => {
  const x = ctx.inputs[0];
  const axis = Number(ctx.config.axis ?? -1);
  return out(ctx.b.node('Softmax', [x.name], { axis: attr.int(onnxAxis(axis, x)) }, ctx.base), x.layout, x.shape);
});

function merge(op: string, manyOp: string | null): LayerConverter {
  return (ctx) => {
    const ins = ctx.inputs;
    const layout = ins[0].layout;
    if (ins.some((v) => v.layout !== layout || v.shape.length !== ins[0].shape.length)) fail(ctx, 'inputs of different ranks');
    let name: string;
    if (ins.length === 2 || !manyOp) {
      name = ins[0].name;
      for (let i = 1; i < ins.length; i++) name = ctx.b.node(op, [name, ins[i].name], {}, ctx.base);
    } else {
      name = ctx.b.node(
        manyOp,
        ins.map((v) => v.name),
        {},
        ctx.base,
      );
    }
    return out(name, layout, ctx.node.output.shape);
  };
}
registerLayerConverter('Add', merge('Add', 'Sum'));
registerLayerConverter('Multiply', merge('Mul', null));
registerLayerConverter('Subtract', merge('Sub', null));
registerLayerConverter('Maximum', merge('Max', 'Max'));
registerLayerConverter('Minimum', merge('Min', 'Min'));
registerLayerConverter('Average', (ctx) => {
  const ins = ctx.inputs;
  if (ins.some((v) => v.layout !== ins[0].layout)) fail(ctx, 'inputs of different ranks');
  return out(
    ctx.b.node(
      'Mean',
      ins.map((v) => v.name),
      {},
      ctx.base,
    ),
    ins[0].layout,
    ctx.node.output.shape,
  );
});

registerLayerConverter('Concatenate', (ctx) => {
  const ins = ctx.inputs;
  if (ins.some((v) => v.layout !== ins[0].layout)) fail(ctx, 'inputs of different ranks');
  const axis = onnxAxis(Number(ctx.config.axis ?? -1), ins[0]);
  return out(
    ctx.b.node(
      'Concat',
      ins.map((v) => v.name),
      { axis: attr.int(axis) },
      ctx.base,
    ),
    ins[0].layout,
    ctx.node.output.shape,
  );
});

/** [[top, bottom], [left, right]] of a ZeroPadding2D config. */
export function zeroPadding(config: Record<string, unknown>): [number, number, number, number] {
  const p = config.padding;
  if (typeof p === 'number') return [p, p, p, p];
  const [a, b] = p as [number | number[], number | number[]];
  const ph = Array.isArray(a) ? a : [a, a];
  const pw = Array.isArray(b) ? b : [b, b];
  return [ph[0], ph[1], pw[0], pw[1]];
}

registerLayerConverter('ZeroPadding2D', (ctx) => {
  channelsLast(ctx);
  const x = requireLayout(ctx, 'nchw', 4);
  const [t, bo, l, r] = zeroPadding(ctx.config);
  const pads = ctx.b.constInt64(`${ctx.base}/pads`, [0, 0, t, l, 0, 0, bo, r]);
  return out(ctx.b.node('Pad', [x.name, pads], { mode: attr.str('constant') }, ctx.base), 'nchw', ctx.node.output.shape);
});

function globalPool(op: string): LayerConverter {
  return (ctx) => {
    channelsLast(ctx);
    const x = requireLayout(ctx, 'nchw', 4);
    const p = ctx.b.node(op, [x.name], {}, ctx.base);
    if (ctx.config.keepDims === true) return out(p, 'nchw', ctx.node.output.shape);
    return out(ctx.b.node('Flatten', [p], { axis: attr.int(1) }, ctx.base), 'plain', ctx.node.output.shape);
  };
}
registerLayerConverter('GlobalAveragePooling2D', globalPool('GlobalAveragePool'));
registerLayerConverter('GlobalMaxPooling2D', globalPool('GlobalMaxPool'));

function pool(op: string): LayerConverter {
  return (ctx) => {
    channelsLast(ctx);
    const x = requireLayout(ctx, 'nchw', 4);
    const k = pair(ctx.config.poolSize, 'poolSize', ctx);
    const s = pair(ctx.config.strides ?? ctx.config.poolSize, 'strides', ctx);
    const attrs = { kernel_shape: attr.ints(k), strides: attr.ints(s), pads: attr.ints(windowPads(ctx, k, s, [1, 1])) };
    // AveragePool excludes padding from the count by default (count_include_pad = 0), as Keras 'same'.
    return out(ctx.b.node(op, [x.name], attrs, ctx.base), 'nchw', ctx.node.output.shape);
  };
}
registerLayerConverter('MaxPooling2D', pool('MaxPool'));
registerLayerConverter('AveragePooling2D', (ctx) => {
  if (ctx.extraPads) fail(ctx, 'zero padding folded into average pooling');
  return pool('AveragePool')(ctx);
});

/** A 4-D NCHW value back in Keras (NHWC) order, as a 'plain' value. */
function toNhwc(ctx: ConvertContext, x: OnnxValue): OnnxValue {
  if (x.layout !== 'nchw') return x;
  return out(ctx.b.node('Transpose', [x.name], { perm: attr.ints([0, 2, 3, 1]) }, ctx.base), 'plain', x.shape);
}

registerLayerConverter('Flatten', (ctx) => {
  const x = toNhwc(ctx, ctx.inputs[0]);
  if (x.shape.length === 2) return x;
  return out(ctx.b.node('Flatten', [x.name], { axis: attr.int(1) }, ctx.base), 'plain', ctx.node.output.shape);
});

registerLayerConverter('Reshape', (ctx) => {
  const x = toNhwc(ctx, ctx.inputs[0]);
  const target = ctx.config.targetShape as number[];
  const shape = ctx.b.constInt64(`${ctx.base}/shape`, [0, ...target]);
  const y = out(ctx.b.node('Reshape', [x.name, shape], {}, ctx.base), 'plain', ctx.node.output.shape);
  if (ctx.node.output.shape.length !== 4) return y;
  return out(ctx.b.node('Transpose', [y.name], { perm: attr.ints([0, 3, 1, 2]) }, ctx.base), 'nchw', y.shape);
});

const identity: LayerConverter = (ctx) => ctx.inputs[0];
for (const c of ['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']) {
  registerLayerConverter(c, identity);
}

registerLayerConverter('Rescaling', (ctx) => {
  const x = ctx.inputs[0];
  const m = ctx.b.node('Mul', [x.name, ctx.b.constFloat(`${ctx.base}/scale`, new Float32Array([Number(ctx.config.scale)]), [])], {}, ctx.base);
  const a = ctx.b.node('Add', [m, ctx.b.constFloat(`${ctx.base}/offset`, new Float32Array([Number(ctx.config.offset ?? 0)]), [])], {}, ctx.base);
  return out(a, x.layout, x.shape);
});

/** Per-channel y = x·scale + shift on a value of either layout (channels last in Keras terms). */
function channelAffine(ctx: ConvertContext, x: OnnxValue, scale: Float32Array, shift: Float32Array | null): OnnxValue {
  const c = scale.length;
  const dims = c === 1 ? [] : x.layout === 'nchw' ? [c, 1, 1] : [c];
  let y = ctx.b.node('Mul', [x.name, ctx.b.constFloat(`${ctx.base}/scale`, scale, dims)], {}, ctx.base);
  if (shift) y = ctx.b.node('Add', [y, ctx.b.constFloat(`${ctx.base}/shift`, shift, dims)], {}, ctx.base);
  return out(y, x.layout, x.shape);
}

/** Channel count of the last Keras axis of `x`. */
function lastAxis(ctx: ConvertContext, x: OnnxValue): number {
  const c = x.shape[x.shape.length - 1];
  if (typeof c !== 'number') fail(ctx, 'needs a known channel dimension');
  return c;
}

// Keras Normalization over the channel axis (nets/keras/layers.ts): (x − mean) / max(√variance, 1e-7).
registerLayerConverter('Normalization', (ctx) => {
  const x = ctx.inputs[0];
  const axis = Number(ctx.config.axis ?? -1);
  if (!(axis === -1 || axis === x.shape.length - 1)) fail(ctx, `axis ${axis} (only the channel axis, -1)`);
  const [mean, variance] = weights(ctx.layer);
  const c = lastAxis(ctx, x);
  if (mean.data.length !== c || variance.data.length !== c) fail(ctx, `mean/variance of ${mean.data.length} values for ${c} channels`);
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    const s = 1 / Math.max(Math.sqrt(variance.data[i]), 1e-7);
    scale[i] = s;
    shift[i] = -mean.data[i] * s;
  }
  return channelAffine(ctx, x, scale, shift);
});

// Keras Rescaling with a scalar or per-channel scale (nets/keras/layers.ts KerasRescaling).
registerLayerConverter('KerasRescaling', (ctx) => {
  const x = ctx.inputs[0];
  const raw = ctx.config.scale as number | number[];
  const offset = Number(ctx.config.offset ?? 0);
  const scale = Float32Array.from(Array.isArray(raw) ? raw : [raw]);
  if (scale.length !== 1 && scale.length !== lastAxis(ctx, x)) fail(ctx, `scale of ${scale.length} values for ${lastAxis(ctx, x)} channels`);
  return channelAffine(ctx, x, scale, offset === 0 ? null : new Float32Array(scale.length).fill(offset));
});
