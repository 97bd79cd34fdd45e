/**
 * A small ONNX graph builder: unique names, float32/int64 initialisers (raw little-endian bytes),
 * nodes with typed attributes, graph inputs/outputs with a symbolic batch dimension, and the
 * ModelProto around them (IR version 8, default-domain opset OPSET).
 */
import { AttributeType, DataType, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.ts';

/** Default-domain operator set written into every exported model. */
export const OPSET = 17;
/** ONNX IR version matching OPSET 17 (IR_VERSION_2021_7_30). */
const IR_VERSION = 8;

export type Attr = Omit<AttributeProto, 'name'>;

/** Typed attribute values. */
export const attr = {
  int: (i: number): Attr => ({ type: AttributeType.INT, i }),
  ints: (ints: number[]): Attr => ({ type: AttributeType.INTS, ints }),
  float: (f: number): Attr => ({ type: AttributeType.FLOAT, f }),
  floats: (floats: number[]): Attr => ({ type: AttributeType.FLOATS, floats }),
  str: (s: string): Attr => ({ type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
};

/** A dimension: a size, or a symbolic name (the batch). */
export type Dim = number | string;

function valueInfo(name: string, dims: Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian; so is every platform Node and onnxruntime-node ship for.
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Set<string>();

  /** A name not used yet, derived from `base` (non-alphanumerics become '_'). */
  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./-]/g, '_') || 'v';
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Reserves an exact name (graph inputs/outputs); throws if taken. */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX name '${name}' is already used`);
    this.used.add(name);
    return name;
  }

  constFloat(base: string, data: Float32Array, dims: number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`initializer ${base}: ${data.length} values for dims [${dims}]`);
    const name = this.unique(base);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: bytesOf(data) });
    return name;
  }

  constInt64(base: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims, dataType: DataType.INT64, rawData: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))) });
    return name;
  }

  /** Adds a node with one output; returns the output's name. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, base = opType, output?: string): string {
    const out = output ?? this.unique(base);
    this.nodes.push({
      name: this.unique(`${base}/${opType}`),
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([name, a]) => ({ name, ...a })),
    });
    return out;
  }

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.reserve(name), dims));
    return name;
  }

  /** Declares `name` (already produced by a node) a graph output. */
  output(name: string, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  toModel(opts: { name: string; docString?: string; metadata?: Record<string, string> }): ModelProto {
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'mri-robust',
      producerVersion: '1',
      docString: opts.docString ?? '',
      graph: { name: opts.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }
}
