/**
 * Batch sources for the training loop: labels plus a function that builds the input tensor for a
 * list of sample indices (rows of a cached feature array, or decoded images).
 */
import { tf } from '../backend/tf.ts';
import type { Tensor } from '@tensorflow/tfjs-core';

export interface BatchSource {
  /** Number of samples. */
  readonly n: number;
  /** Class index of every sample. */
  readonly labels: Int32Array;
  /** Record id of every sample, where known (pairs clean and noisy copies for train.consistency). */
  readonly ids?: readonly string[];
  /** Shape of one sample (without the batch dimension). */
  readonly sampleShape: readonly number[];
  /** Float32 input tensor `[indices.length, ...sampleShape]`. */
  batch(indices: ArrayLike<number>): Tensor;
}

/** Gathers rows `indices` of a row-major array with `rowSize` values per row into a new array. */
function gatherRows(data: Float32Array | Uint8Array, rowSize: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * rowSize);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    const start = r * rowSize;
    if (data instanceof Float32Array) out.set(data.subarray(start, start + rowSize), i * rowSize);
    else for (let j = 0; j < rowSize; j++) out[i * rowSize + j] = data[start + j];
  }
  return out;
}

/** A batch source over an in-memory float32 array `[n, ...sampleShape]` (embeddings or activations). */
export function arraySource(data: Float32Array, shape: readonly number[], labels: Int32Array, ids?: readonly string[]): BatchSource {
  const n = shape[0];
  const sampleShape = shape.slice(1);
  const rowSize = sampleShape.reduce((a, b) => a * b, 1);
  if (data.length !== n * rowSize) throw new Error(`array of ${data.length} values does not match shape [${shape.join(', ')}]`);
  if (labels.length !== n) throw new Error(`${labels.length} labels for ${n} samples`);
  if (ids && ids.length !== n) throw new Error(`${ids.length} ids for ${n} samples`);
  return {
    n,
    labels,
    ids,
    sampleShape,
    batch: (indices) => tf.tensor(gatherRows(data, rowSize, indices), [indices.length, ...sampleShape], 'float32'),
  };
}

/** scikit-learn's 'balanced' weights: n / (k · count_c); 0 for an absent class. */
export function balancedClassWeights(labels: Int32Array, k: number): Float32Array {
  const counts = new Float64Array(k);
  for (const y of labels) counts[y]++;
  const w = new Float32Array(k);
  for (let c = 0; c < k; c++) w[c] = counts[c] > 0 ? labels.length / (k * counts[c]) : 0;
  return w;
}
