/**
 * A tfjs-layers model (functional or Sequential, nested models included) as one flat DAG of layer
 * applications: every value knows the layer that produced it and its (NHWC, Keras) shape. Walks
 * back from the outputs through each SymbolicTensor's `sourceLayer` and `inputs`; a nested model
 * applied as a layer is entered with its inputs bound to the caller's values, so the same model
 * used twice yields two copies of its nodes.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '@mri-robust/core';

type LayersModel = tfl.LayersModel;
type Layer = tfl.layers.Layer;
type SymbolicTensor = tfl.SymbolicTensor;

export interface IrValue {
  id: number;
  /** Keras shape, batch first (null = unknown). */
  shape: (number | null)[];
  /** The node that computes it; null for a graph input. */
  producer: IrNode | null;
  /** Name of the producing layer (or of the input layer). */
  layerName: string;
}

export interface IrNode {
  layer: Layer;
  className: string;
  inputs: IrValue[];
  output: IrValue;
  /** Nested model names down to the layer, e.g. ['model2', 'block_1_add']. */
  path: string[];
}

export interface IrGraph {
  name: string;
  inputs: IrValue[];
  outputs: IrValue[];
  /** Topological order. */
  nodes: IrNode[];
}

function isModel(layer: Layer): layer is LayersModel {
  return layer instanceof tfl.LayersModel;
}

export function flattenModel(model: LayersModel): IrGraph {
  let nextId = 0;
  const nodes: IrNode[] = [];
  const newValue = (shape: (number | null)[], layerName: string): IrValue => ({ id: nextId++, shape: [...shape], producer: null, layerName });

  const evalModel = (m: LayersModel, inputs: IrValue[], prefix: string[]): IrValue[] => {
    const memo = new Map<number, IrValue>();
    if (inputs.length !== m.inputs.length) throw new Error(`model ${m.name}: ${inputs.length} inputs for ${m.inputs.length}`);
    m.inputs.forEach((st, i) => {
      memo.set(st.id, inputs[i]);
    });
    const visit = (st: SymbolicTensor): IrValue => {
      const hit = memo.get(st.id);
      if (hit) return hit;
      const layer = st.sourceLayer;
      if (layer.getClassName() === 'InputLayer') {
        throw new UserError(`ONNX export: model '${m.name}' reads '${st.name}', which is not one of its inputs`);
      }
      const ins = (st.inputs ?? []).map(visit);
      let out: IrValue;
      if (isModel(layer)) {
        const outs = evalModel(layer, ins, [...prefix, layer.name]);
        out = outs[st.tensorIndex ?? 0];
      } else {
        if (Array.isArray(layer.outputShape) && Array.isArray((layer.outputShape as unknown[])[0])) {
          throw new UserError(`ONNX export: layer '${layer.name}' (${layer.getClassName()}) has several outputs; not supported`);
        }
        out = newValue(st.shape, layer.name);
        const node: IrNode = { layer, className: layer.getClassName(), inputs: ins, output: out, path: [...prefix, layer.name] };
        out.producer = node;
        nodes.push(node);
      }
      memo.set(st.id, out);
      return out;
    };
    return m.outputs.map(visit);
  };

  const inputs = model.inputs.map((st) => newValue(st.shape, st.sourceLayer.name));
  const outputs = evalModel(model, inputs, []);
  return { name: model.name, inputs, outputs, nodes };
}

export interface Uses {
  nodes: IrNode[];
  /** Read as a graph output. */
  output: boolean;
}

/** Who reads each value: nodes, and whether it is a graph output (`extraOutputs` count as outputs). */
export function usesOf(g: IrGraph, extraOutputs: IrValue[] = []): Map<number, Uses> {
  const m = new Map<number, Uses>();
  const get = (v: IrValue): Uses => {
    let u = m.get(v.id);
    if (!u) {
      u = { nodes: [], output: false };
      m.set(v.id, u);
    }
    return u;
  };
  for (const n of g.nodes) for (const v of n.inputs) get(v).nodes.push(n);
  for (const v of [...g.outputs, ...extraOutputs]) get(v).output = true;
  return m;
}

/** The only node reading `v`, when nothing else (no other node, no graph output) reads it. */
export function soleConsumer(uses: Map<number, Uses>, v: IrValue): IrNode | null {
  const u = uses.get(v.id);
  return u && !u.output && u.nodes.length === 1 ? u.nodes[0] : null;
}

/** The last value produced by a layer named `name` (nested models searched too), or null. */
export function findValue(g: IrGraph, name: string): IrValue | null {
  for (let i = g.nodes.length - 1; i >= 0; i--) if (g.nodes[i].layer.name === name) return g.nodes[i].output;
  return g.inputs.find((v) => v.layerName === name) ?? null;
}
