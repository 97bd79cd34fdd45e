/**
 * Embed stage on real images: a small image set from ../shared/datasets, the real noise and augment
 * stages, then head embeddings and partial activations from the shared MobileNetV2 (wasm), checked
 * against the backbone run directly; cache hit on rerun; the 'pixels' kind for the cnn.
 */
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSetWriter, openImageSet, parseExperiment, sharedDir, type Experiment } from '@mri-robust/core';
import { augmentSchemaPart, runAugment } from '@mri-robust/augment';
import { noiseSchemaPart, runNoise } from '@mri-robust/noise';
import { modelSchemaParts } from '../src/schema.ts';
import { runEmbed, type EmbedUpstream } from '../src/stage-embed.ts';
import { openEmbedOutput } from '../src/io/embed-output.ts';
import { selectBackend } from '../src/backend/select.ts';
import { loadMobileNetV2, splitAtLayer } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';

const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
const SIZE = 64;
const WEIGHTS = path.join(process.env.MRI_SHARED ?? sharedDir(), 'weights', 'mobilenet_v2_0.35_224');
const parts = [noiseSchemaPart, augmentSchemaPart, ...modelSchemaParts];

let root: string;
let upstream: EmbedUpstream;

async function writeRealSet(dir: string): Promise<void> {
  const w = await ImageSetWriter.create(dir, { height: SIZE, width: SIZE, channels: 1, classes: CLASSES });
  for (const label of CLASSES) {
    const folder = path.join(process.env.MRI_SHARED ?? sharedDir(), 'datasets', 'nickparvar', 'Training', label);
    const files = readdirSync(folder).sort().slice(0, 5);
    for (let k = 0; k < files.length; k++) {
      const pixels = await sharp(path.join(folder, files[k])).greyscale().resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer();
      const split = k < 3 ? 'train' : k === 3 ? 'val' : 'test';
      await w.add(new Uint8Array(pixels), { id: `${label}/${k}`, label, split, source: 'nickparvar', path: files[k] });
    }
  }
  await w.close();
}

async function experiment(name: string, model: string, evalNoise = '    splits: [test]\n    kinds:\n      - {kind: rician, snr: [5]}\n'): Promise<Experiment> {
  const text = `name: ${name}\nseed: 3\nruns: ./runs\nnoise:\n  eval:\n${evalNoise}augment:\n  copies: 1\nmodel:\n${model}`;
  const file = path.join(root, `${name}.yaml`);
  await writeFile(file, text);
  return parseExperiment(text, file, parts);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'model-embed-'));
  await writeRealSet(path.join(root, 'ingest'));
  const base = await experiment('base', '  backbone: cnn\n');
  const noise = await runNoise(base, { key: 'fixture-ingest-0000', dir: path.join(root, 'ingest') }, { workers: 0, log: () => {} });
  const augment = await runAugment(base, { key: noise.key, dir: noise.dir }, { workers: 0, log: () => {} });
  upstream = { augmentDir: augment.dir, noiseDir: noise.dir, augmentKey: augment.key, noiseKey: noise.key };
  await selectBackend('wasm');
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('runEmbed', () => {
  it('head: embeddings of every split and eval set equal the backbone run directly; rerun hits', async () => {
    const exp = await experiment('head', `  backbone: mobilenet_v2\n  weights: ${WEIGHTS}\n  input_size: 96\n  mode: head\n  embed_batch_size: 7\n`);
    const res = await runEmbed(exp, upstream, { log: () => {} });
    expect(res.hit).toBe(false);
    expect(res.sets.map((s) => s.name)).toEqual(['train', 'val', 'test', 'test-rician-snr5']);
    expect(res.sets.map((s) => s.n)).toEqual([24, 4, 4, 4]); // 12 train + 12 augmented copies
    const out = await openEmbedOutput(res.dir);
    expect(out.manifest.kind).toBe('embedding');
    expect(out.manifest.sampleShape).toEqual([1280]);
    expect(out.manifest.backend).toBe('wasm');
    expect(out.evalSets().map((s) => [s.noiseKind, s.split])).toEqual([['rician', 'test']]);

    const noisy = await out.load('test-rician-snr5');
    const set = await openImageSet(noisy.info.imageSetDir);
    const backbone = await loadMobileNetV2(WEIGHTS, { inputSize: 96 });
    const x = imagesToTensor(set.batch([0, 1, 2, 3]), 4, set.header, { inputSize: 96, inputChannels: 3 });
    const direct = (backbone.model.predict(x) as import('@tensorflow/tfjs-core').Tensor).dataSync();
    set.close();
    let maxDiff = 0;
    for (let i = 0; i < direct.length; i++) maxDiff = Math.max(maxDiff, Math.abs(direct[i] - noisy.features[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(Array.from(noisy.labels)).toEqual([0, 1, 2, 3]);
    expect(noisy.ids).toEqual(set.records.map((r) => r.id));

    const again = await runEmbed(exp, upstream, { log: () => {} });
    expect(again.hit).toBe(true);
    expect(again.key).toBe(res.key);
    expect(again.sets).toEqual(res.sets);
  });

  it('partial: activations at the cut; buildTop on them gives the head embeddings', async () => {
    const exp = await experiment('partial', `  backbone: mobilenet_v2\n  weights: ${WEIGHTS}\n  input_size: 96\n  mode: partial\n  cut_layer: block_15_add\n`);
    const res = await runEmbed(exp, upstream, { log: () => {} });
    const out = await openEmbedOutput(res.dir);
    expect(out.manifest.kind).toBe('activation');
    expect(out.manifest.cutLayer).toBe('block_15_add');
    expect(out.manifest.sampleShape).toEqual([3, 3, 56]);
    const val = await out.load('val');
    const backbone = await loadMobileNetV2(WEIGHTS, { inputSize: 96 });
    const top = splitAtLayer(backbone.model, 'block_15_add').buildTop();
    const { tf } = await selectBackend('wasm');
    const emb = top.predict(tf.tensor4d(val.features, [val.info.n, 3, 3, 56])) as import('@tensorflow/tfjs-core').Tensor;
    const head = await runEmbed(
      await experiment('head', `  backbone: mobilenet_v2\n  weights: ${WEIGHTS}\n  input_size: 96\n  mode: head\n  embed_batch_size: 7\n`),
      upstream,
      { log: () => {} },
    );
    expect(head.hit).toBe(true);
    const ref = await (await openEmbedOutput(head.dir)).load('val');
    const got = emb.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref.features[i]));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('cnn: pixels kind, labels and ids only; missing weights is a clear error', async () => {
    const res = await runEmbed(await experiment('cnn', '  backbone: cnn\n  input_size: 64\n'), upstream, { log: () => {} });
    const out = await openEmbedOutput(res.dir);
    expect(out.manifest.kind).toBe('pixels');
    expect(out.manifest.sampleShape).toEqual([64, 64, 1]);
    const train = await out.load('train');
    expect(train.features.length).toBe(0);
    expect(train.labels.length).toBe(24);
    await expect(runEmbed(await experiment('noweights', '  backbone: mobilenet_v2\n'), upstream)).rejects.toThrow(/model.weights is required/);
  });

  it('an added noisy test set embeds that set only and keeps the training key; a noisy val set changes it (issue 11 item 3)', async () => {
    const model = `  backbone: mobilenet_v2\n  weights: ${WEIGHTS}\n  input_size: 96\n  mode: head\n  embed_batch_size: 7\n`;
    const logged: string[] = [];
    const log = (l: string) => logged.push(l);
    const ingest = { key: 'fixture-ingest-0000', dir: path.join(root, 'ingest') };
    const embedWith = async (name: string, evalNoise: string) => {
      const exp = await experiment(name, model, evalNoise);
      const noise = await runNoise(exp, ingest, { workers: 0, log });
      const augment = await runAugment(exp, { key: noise.key, dir: noise.dir }, { workers: 0, log });
      return runEmbed(exp, { augmentDir: augment.dir, noiseDir: noise.dir, augmentKey: augment.key, noiseKey: noise.key }, { log });
    };
    const first = await embedWith('head', '    splits: [test]\n    kinds:\n      - {kind: rician, snr: [5]}\n');
    logged.length = 0;
    const more = await embedWith('more', '    splits: [test]\n    kinds:\n      - {kind: rician, snr: [5]}\n      - {kind: gaussian, severities: [2]}\n');
    expect(more.key).not.toBe(first.key);
    expect(more.trainingKey).toBe(first.trainingKey);
    expect(more.sets.map((s) => s.name)).toEqual(['train', 'val', 'test', 'test-rician-snr5', 'test-gaussian-s2']);
    // The clean splits and the unchanged noisy set are cache hits; only the new set was computed.
    expect(logged.filter((l) => l.startsWith('[embed-base]'))).toEqual([expect.stringMatching(/cache hit/)]);
    expect(logged.filter((l) => l.startsWith('[embed-set]') && l.includes('building'))).toHaveLength(1);
    expect(logged.filter((l) => l.startsWith('[embed-set]') && l.includes('cache hit'))).toHaveLength(1);
    const a = await (await openEmbedOutput(first.dir)).load('test-rician-snr5');
    const b = await (await openEmbedOutput(more.dir)).load('test-rician-snr5');
    expect(Array.from(b.features)).toEqual(Array.from(a.features));
    const val = await embedWith('val', '    splits: [test, val]\n    kinds:\n      - {kind: rician, snr: [5]}\n');
    expect(val.trainingKey).not.toBe(first.trainingKey);
  });
});
