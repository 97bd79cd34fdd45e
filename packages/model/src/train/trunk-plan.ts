/**
 * The training-mode forward pass of a trunk (a functional tfjs LayersModel) with its convolutions
 * fused on wasm: a Conv2D or DepthwiseConv2D whose only consumer is a ReLU layer (MobileNetV2's
 * ReLU6 after every expand and depthwise convolution) runs as one kernel with bias and activation
 * (src/kernels/fused-conv.ts), and a ZeroPadding2D whose only consumer is a 'valid' depthwise
 * convolution becomes that convolution's explicit padding (no pad forward, no slice back). Every
 * other layer runs as the model would run it (`layer.apply`); a nested model runs its own plan.
 * The plan is made once per model from its graph nodes (in tfjs-layers' execution order); `null`
 * for a model with several inputs or outputs (then the caller applies the model as usual).
 */
import type { Tensor, backend_util } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { type FusedActivation, type FusedConvAttrs, fusedConv } from '../kernels/fused-conv.ts';

/** What this module reads of tfjs-layers' graph (internal fields, stable across tfjs 4.x). */
interface SymbolicRef {
  id: number;
}
interface GraphNode {
  outboundLayer: GraphLayer;
  inputTensors: SymbolicRef[];
  outputTensors: SymbolicRef[];
}
interface GraphLayer {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  apply(inputs: Tensor | Tensor[], kwargs?: Record<string, unknown>): Tensor | Tensor[];
  kernel?: { read(): Tensor };
  depthwiseKernel?: { read(): Tensor };
  bias?: { read(): Tensor } | null;
}
interface Graph {
  inputs: SymbolicRef[];
  outputs: SymbolicRef[];
  /** This model's own nodes (one per layer call inside it), by depth from the output. */
  nodesByDepth: Record<string, GraphNode[]>;
}

interface ConvStep {
  kind: 'conv';
  layer: GraphLayer;
  depthwise: boolean;
  input: number;
  output: number;
  attrs: FusedConvAttrs;
}
interface ModelStep {
  kind: 'model';
  layer: GraphLayer;
  plan: TrunkPlan;
  input: number;
  output: number;
}
interface LayerStep {
  kind: 'layer';
  layer: GraphLayer;
  inputs: number[];
  outputs: number[];
}
type Step = ConvStep | ModelStep | LayerStep;

export interface TrunkPlan {
  input: number;
  output: number;
  steps: Step[];
  /** Layers fused into a convolution (ReLU, ZeroPadding2D), by name, nested models' included. */
  fused: string[];
  /** How many steps read each tensor (to dispose intermediates after their last use). */
  uses: Map<number, number>;
}

const pair = (v: unknown): [number, number] | null =>
  Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n)) ? [v[0] as number, v[1] as number] : null;

/** The conv's attributes when the project's fused kernel can run it as configured, else null. */
function convAttrs(layer: GraphLayer, depthwise: boolean): FusedConvAttrs | null {
  const c = layer.getConfig();
  const strides = pair(c.strides);
  const ok =
    c.activation === 'linear' &&
    (c.dataFormat ?? 'channelsLast') === 'channelsLast' &&
    (c.dilationRate == null || pair(c.dilationRate)?.every((d) => d === 1) === true) &&
    (c.padding === 'same' || c.padding === 'valid') &&
    strides != null &&
    (!depthwise || (c.depthMultiplier ?? 1) === 1);
  return ok ? { strides: strides as [number, number], pad: c.padding as 'same' | 'valid', activation: 'linear' } : null;
}

/** Activation of a ReLU layer that can be fused (relu, or relu6 as maxValue 6), else null. */
function reluActivation(layer: GraphLayer): FusedActivation | null {
  if (layer.getClassName() !== 'ReLU') return null;
  const max = layer.getConfig().maxValue;
  return max == null ? 'relu' : max === 6 ? 'relu6' : null;
}

/** Explicit NHWC padding of a ZeroPadding2D layer, or null. */
function zeroPadding(layer: GraphLayer): backend_util.ExplicitPadding | null {
  if (layer.getClassName() !== 'ZeroPadding2D') return null;
  const c = layer.getConfig();
  const p = c.padding as unknown[] | undefined;
  const [h, w] = [pair(p?.[0]), pair(p?.[1])];
  if ((c.dataFormat ?? 'channelsLast') !== 'channelsLast' || !h || !w) return null;
  return [[0, 0], h, w, [0, 0]];
}

const isGraph = (layer: unknown): boolean => typeof layer === 'object' && layer != null && 'nodesByDepth' in layer && 'outputs' in layer;

const plans = new WeakMap<object, TrunkPlan | null>();

/** The fused plan of `trunk` (cached), or null when its graph is not one this module can run. */
export function planTrunk(trunk: LayersModel): TrunkPlan | null {
  if (!plans.has(trunk)) plans.set(trunk, makePlan(trunk as unknown as Graph));
  return plans.get(trunk) ?? null;
}

function makePlan(m: Graph): TrunkPlan | null {
  if (m.inputs.length !== 1 || m.outputs.length !== 1) return null;
  // The model's own nodes in execution order (deepest first, as tfjs-layers runs them).
  const nodes = Object.keys(m.nodesByDepth)
    .map(Number)
    .sort((a, b) => b - a)
    .flatMap((d) => m.nodesByDepth[d])
    .filter((n) => n.outboundLayer.getClassName() !== 'InputLayer');
  const consumers = new Map<number, GraphNode[]>();
  const producer = new Map<number, GraphNode>();
  for (const n of nodes) {
    for (const t of n.inputTensors) consumers.set(t.id, [...(consumers.get(t.id) ?? []), n]);
    for (const t of n.outputTensors) producer.set(t.id, n);
  }
  const output = m.outputs[0].id;
  const onlyConsumer = (id: number): GraphNode | null => {
    const c = consumers.get(id) ?? [];
    return c.length === 1 && id !== output ? c[0] : null;
  };
  const single = (n: GraphNode) =>
    n.inputTensors.length === 1 && n.outputTensors.length === 1 ? { input: n.inputTensors[0].id, output: n.outputTensors[0].id } : null;

  const absorbed = new Set<GraphNode>(); // ReLU and pad nodes run inside a convolution
  const fused: string[] = [];
  const steps: Step[] = [];
  for (const node of nodes) {
    if (absorbed.has(node)) continue;
    const layer = node.outboundLayer;
    const cls = layer.getClassName();
    const depthwise = cls === 'DepthwiseConv2D';
    const attrs = cls === 'Conv2D' || depthwise ? convAttrs(layer, depthwise) : null;
    const io = single(node);
    const sub = io && isGraph(layer) ? planTrunk(layer as unknown as LayersModel) : null;
    if (io && sub) {
      steps.push({ kind: 'model', layer, plan: sub, ...io });
      fused.push(...sub.fused);
      continue;
    }
    if (!attrs || !io) {
      steps.push({ kind: 'layer', layer, inputs: node.inputTensors.map((t) => t.id), outputs: node.outputTensors.map((t) => t.id) });
      continue;
    }
    let { input, output: out } = io;
    // A zero-padding layer feeding only this 'valid' depthwise conv becomes its explicit padding.
    const padNode = producer.get(input);
    const padding = padNode && depthwise && attrs.pad === 'valid' && onlyConsumer(input) === node ? zeroPadding(padNode.outboundLayer) : null;
    const padIo = padNode ? single(padNode) : null;
    const at = steps.findIndex((s) => s.kind === 'layer' && s.layer === padNode?.outboundLayer);
    if (padNode && padding && padIo && at >= 0) {
      steps.splice(at, 1);
      absorbed.add(padNode);
      fused.push(padNode.outboundLayer.name);
      input = padIo.input;
      attrs.pad = padding;
    }
    // A ReLU (or ReLU6) that alone reads the conv's output runs in the conv's kernel.
    const next = onlyConsumer(out);
    const act = next ? reluActivation(next.outboundLayer) : null;
    const nextIo = next ? single(next) : null;
    if (next && act && nextIo) {
      attrs.activation = act;
      absorbed.add(next);
      fused.push(next.outboundLayer.name);
      out = nextIo.output;
    }
    steps.push({ kind: 'conv', layer, depthwise, input, output: out, attrs });
  }
  const uses = new Map<number, number>();
  for (const s of steps) for (const id of s.kind === 'layer' ? s.inputs : [s.input]) uses.set(id, (uses.get(id) ?? 0) + 1);
  return { input: m.inputs[0].id, output, steps, fused, uses };
}

/**
 * Runs the plan on x (a batch of the trunk's input), `kwargs` as for `apply` (`training`). As the
 * model's own executor, intermediate tensors are disposed after their last use unless training
 * (the tape keeps what the gradients need).
 */
export function runTrunk(plan: TrunkPlan, x: Tensor, kwargs: { training?: boolean }): Tensor {
  const values = new Map<number, Tensor>([[plan.input, x]]);
  const left = new Map(plan.uses);
  const get = (id: number) => {
    const v = values.get(id);
    if (!v) throw new Error(`trunk plan: tensor ${id} used before it was computed`);
    return v;
  };
  const done = (id: number) => {
    const n = (left.get(id) ?? 0) - 1;
    left.set(id, n);
    if (n === 0 && !kwargs.training && id !== plan.input && id !== plan.output) get(id).dispose();
  };
  for (const s of plan.steps) {
    if (s.kind === 'conv') {
      const kernel = (s.depthwise ? s.layer.depthwiseKernel : s.layer.kernel)?.read();
      if (!kernel) throw new Error(`trunk plan: ${s.layer.name} has no kernel`);
      values.set(s.output, fusedConv(get(s.input), kernel, s.layer.bias?.read() ?? null, s.attrs, s.depthwise));
      done(s.input);
    } else if (s.kind === 'model') {
      values.set(s.output, runTrunk(s.plan, get(s.input), kwargs));
      done(s.input);
    } else {
      const ins = s.inputs.map(get);
      const outs = s.layer.apply(ins.length === 1 ? ins[0] : ins, kwargs);
      const list = Array.isArray(outs) ? outs : [outs];
      for (const [i, id] of s.outputs.entries()) values.set(id, list[i]);
      for (const id of s.inputs) done(id);
    }
  }
  return get(plan.output);
}
