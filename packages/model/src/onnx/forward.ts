/**
 * One forward-pass API over both engines: a tfjs-layers model run either by ONNX Runtime (the
 * model exported to ONNX, or ONNX bytes given, e.g. a saved folder's model.onnx) or by tfjs
 * `predict()`. Inputs and outputs are plain row-major Float32Arrays in Keras (NHWC) order.
 */
import { UserError } from '@mri-robust/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { tf } from '../backend/tf.ts';
import type { InferenceEngine, InferenceEngineName } from '../backend/inference.ts';
import type { BatchSource } from '../train/data.ts';
import { exportOnnx, OUTPUT_NAME, type ExportOptions } from './export.ts';
import { OnnxSession, type OutputArray } from './runtime.ts';

export interface Forward {
  engine: InferenceEngineName;
  threads: number;
  /** Shape of one input sample (e.g. [224, 224, 3] or [1280]). */
  inputShape: number[];
  /** Output names in `run` order ('output' first). */
  outputNames: string[];
  /** Runs `n` samples; returns every output (batch first). */
  run(input: Float32Array, n: number): Promise<OutputArray[]>;
  dispose(): Promise<void>;
}

export interface ForwardOptions extends Pick<ExportOptions, 'activations' | 'cam'> {
  /** ONNX bytes to run instead of exporting `model` (they must compute the same function). */
  onnx?: Uint8Array;
  /** Output names to fetch from `onnx` (default: all). */
  outputs?: string[];
}

function sampleShape(model: LayersModel): number[] {
  return (model.inputs[0].shape.slice(1) as (number | null)[]).map((d) => {
    if (d == null) throw new Error(`model '${model.name}' has an input of unknown size`);
    return d;
  });
}

/** A forward pass of `model` on the selected engine. */
export async function createForward(model: LayersModel, engine: InferenceEngine, opts: ForwardOptions = {}): Promise<Forward> {
  const inputShape = sampleShape(model);
  let bytes = opts.onnx;
  if (engine.engine === 'onnxruntime' && engine.ort && !bytes) {
    try {
      bytes = exportOnnx(model, { activations: opts.activations, cam: opts.cam }).bytes;
    } catch (e) {
      // A layer without converter: 'auto' runs this network on tfjs (said on stderr), 'onnxruntime' fails.
      if (!(e instanceof UserError) || engine.strict || opts.activations?.length) throw e;
      process.stderr.write(`[inference] ${e.message}; '${model.name}' runs on TensorFlow.js\n`);
    }
  }
  if (engine.engine === 'onnxruntime' && engine.ort && bytes) {
    const session = await OnnxSession.create(engine.ort, bytes, engine.threads);
    const names = opts.outputs ?? [...session.outputNames];
    if (!names.includes(OUTPUT_NAME)) throw new Error(`ONNX model has no '${OUTPUT_NAME}' output`);
    const ordered = [OUTPUT_NAME, ...names.filter((n) => n !== OUTPUT_NAME)];
    return {
      engine: 'onnxruntime',
      threads: engine.threads,
      inputShape,
      outputNames: ordered,
      async run(input, n) {
        const res = await session.run(input, [n, ...inputShape], ordered);
        return ordered.map((k) => res[k]);
      },
      dispose: () => session.release(),
    };
  }
  if (opts.activations?.length) throw new Error('tfjs forward passes return only the model output');
  return {
    engine: 'tfjs',
    threads: 1,
    inputShape,
    outputNames: [OUTPUT_NAME],
    async run(input, n) {
      const x = tf.tensor(input, [n, ...inputShape], 'float32');
      const y = model.predict(x) as Tensor;
      const data = (await y.data()) as Float32Array;
      const dims = y.shape;
      tf.dispose([x, y]);
      return [{ data, dims }];
    },
    dispose: async () => {},
  };
}

/** The main output of `forward` over every sample of a batch source, row-major [n, ...]. */
export async function forwardSource(forward: Forward, src: BatchSource, batchSize: number): Promise<Float32Array> {
  let out: Float32Array | null = null;
  let row = 0;
  for (let start = 0; start < src.n; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, src.n - start) }, (_, i) => start + i);
    const x = src.batch(idx);
    const data = (await x.data()) as Float32Array;
    x.dispose();
    const [y] = await forward.run(data, idx.length);
    if (!out) {
      row = y.data.length / idx.length;
      out = new Float32Array(src.n * row);
    }
    out.set(y.data, start * row);
  }
  return out ?? new Float32Array(0);
}
