/**
 * Batch sources over the sets of an embed output: cached embeddings/activations held in memory,
 * or (kind 'pixels') images read from the set's image-set folder and preprocessed per batch.
 */
import { openImageSet, UserError } from '@mri-robust/core';
import type { EmbedOutput } from '../io/embed-output.ts';
import { imagesToTensor } from '../nets/preprocess.ts';
import { tf } from '../backend/tf.ts';
import { arraySource, type BatchSource } from './data.ts';

/** One set of the embed output as a batch source. */
export async function sourceForSet(features: EmbedOutput, name: string): Promise<BatchSource> {
  const m = features.manifest;
  const data = await features.load(name);
  if (m.kind !== 'pixels') return arraySource(data.features, [data.info.n, ...m.sampleShape], data.labels, data.ids);
  const set = await openImageSet(data.info.imageSetDir);
  const index = new Map(set.records.map((r, i) => [r.id, i]));
  const rows = Int32Array.from(data.ids, (id) => {
    const i = index.get(id);
    if (i === undefined) throw new UserError(`${data.info.imageSetDir}: record '${id}' of embed set '${name}' is missing`);
    return i;
  });
  const shape = { height: set.header.height, width: set.header.width, channels: set.header.channels };
  const target = { inputSize: m.inputSize, inputChannels: m.inputChannels, scaling: m.preprocessing, denoise: m.denoise ?? null };
  return {
    n: data.info.n,
    labels: data.labels,
    ids: data.ids,
    sampleShape: [m.inputSize, m.inputSize, m.inputChannels],
    batch: (indices) => {
      const pixels = set.batch(Array.from(indices as ArrayLike<number>, (i) => rows[i]));
      return imagesToTensor(pixels, indices.length, shape, target);
    },
  };
}

/** Several sources with the same sample shape, one after another. */
export function concatSources(sources: BatchSource[]): BatchSource {
  if (sources.length === 1) return sources[0];
  const offsets: number[] = [];
  let n = 0;
  for (const s of sources) {
    offsets.push(n);
    n += s.n;
  }
  const labels = new Int32Array(n);
  sources.forEach((s, k) => {
    labels.set(s.labels, offsets[k]);
  });
  const ids = sources.every((s) => s.ids) ? sources.flatMap((s) => [...s.ids!]) : undefined;
  return {
    n,
    labels,
    ids,
    sampleShape: sources[0]?.sampleShape ?? [],
    batch(indices) {
      // group consecutive indices of the same source, keep order
      const parts: ReturnType<BatchSource['batch']>[] = [];
      let cur = -1;
      let group: number[] = [];
      const flush = () => {
        if (group.length) parts.push(sources[cur].batch(group));
        group = [];
      };
      for (const i of Array.from(indices as ArrayLike<number>)) {
        let k = sources.length - 1;
        while (offsets[k] > i) k--;
        if (k !== cur) {
          flush();
          cur = k;
        }
        group.push(i - offsets[k]);
      }
      flush();
      if (parts.length === 1) return parts[0];
      const out = tf.concat(parts, 0);
      tf.dispose(parts);
      return out;
    },
  };
}
