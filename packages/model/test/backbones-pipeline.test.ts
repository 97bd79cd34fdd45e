/**
 * The new backbones through the project's own paths, on real scans: the embed stage with
 * `model.backbone: mobilenet_v1` (real ImageNet weights from ../shared) in head mode with
 * `model.features` and in partial mode at its default cut; a trial on the multi-layer features whose
 * saved predictor (image → multi-layer features → classifier, model.onnx) predicts a real file as
 * the tfjs model does and whose Grad-CAM default layer is conv_pw_13_relu; the predict path's pixel
 * scalings; and an experiment whose weight file belongs to another network fails with one line
 * naming the experiment, the file and the first bad weight.
 */
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSetWriter, openImageSet, parseExperiment, sharedDir, UserError, type Experiment } from '@mri-robust/core';
import { augmentSchemaPart, runAugment } from '@mri-robust/augment';
import { noiseSchemaPart, runNoise } from '@mri-robust/noise';
import type { Tensor } from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { findFeatureLayer } from '../src/gradcam/layers.ts';
import { openEmbedOutput } from '../src/io/embed-output.ts';
import { BACKBONE_SPECS, buildBackbone, loadBackbone } from '../src/nets/backbones.ts';
import { multiLayerFeatures } from '../src/nets/features.ts';
import { writeKerasH5 } from '../src/nets/h5-weights.ts';
import { splitAtLayer } from '../src/nets/mobilenet.ts';
import { imagesToTensor, type PixelScaling } from '../src/nets/preprocess.ts';
import { imageFileToInput, loadPredictor, predictWith } from '../src/predict.ts';
import { prepareImage } from '../src/prepare-image.ts';
import { loadModel, type Preprocessing } from '../src/save.ts';
import { modelSchemaParts } from '../src/schema.ts';
import { runEmbed, type EmbedUpstream } from '../src/stage-embed.ts';
import { trainTrial } from '../src/trial.ts';

const SHARED = process.env.MRI_SHARED ?? sharedDir();
const V1 = path.join(SHARED, 'weights', 'mobilenet_v1_0.75_224');
const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
const SIZE = 64;
const parts = [noiseSchemaPart, augmentSchemaPart, ...modelSchemaParts];
const quiet = { log: () => {} };

let root: string;
let upstream: EmbedUpstream;

async function writeRealSet(dir: string): Promise<void> {
  const w = await ImageSetWriter.create(dir, { height: SIZE, width: SIZE, channels: 1, classes: CLASSES });
  for (const label of CLASSES) {
    const folder = path.join(SHARED, 'datasets', 'nickparvar', 'Training', label);
    const files = readdirSync(folder).sort().slice(0, 5);
    for (let k = 0; k < files.length; k++) {
      const pixels = await sharp(path.join(folder, files[k])).greyscale().resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer();
      const split = k < 3 ? 'train' : k === 3 ? 'val' : 'test';
      await w.add(new Uint8Array(pixels), { id: `${label}/${k}`, label, split, source: 'nickparvar', path: files[k] });
    }
  }
  await w.close();
}

async function experiment(name: string, model: string): Promise<Experiment> {
  const text =
    `name: ${name}\nseed: 3\nruns: ./runs\ndata:\n  image: {size: ${SIZE}, channels: 1, fit: fill}\n` +
    `noise:\n  eval:\n    splits: [test]\n    kinds:\n      - {kind: rician, snr: [5]}\naugment:\n  copies: 1\n` +
    `train:\n  epochs: 2\n  batch_size: 8\nevaluate:\n  bootstrap_samples: 20\nmodel:\n${model}`;
  const file = path.join(root, `${name}.yaml`);
  await writeFile(file, text);
  return parseExperiment(text, file, parts);
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'model-backbones-'));
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

const FEATURES = ['conv_pw_11_relu', 'conv_pw_13_relu'];

describe('mobilenet_v1 through the embed stage, a trial and the predict path', () => {
  it('head with model.features: one row = pooled conv_pw_11_relu ‖ conv_pw_13_relu of the real backbone; a trial saves a predictor that predicts a real file', async () => {
    const exp = await experiment(
      'v1-multi',
      `  backbone: mobilenet_v1\n  weights: ${V1}\n  input_size: ${SIZE}\n  mode: head\n  features: [${FEATURES.join(', ')}]\n  embed_batch_size: 5\n`,
    );
    const res = await runEmbed(exp, upstream, quiet);
    const out = await openEmbedOutput(res.dir);
    expect(out.manifest.backbone).toBe('mobilenet_v1');
    expect(out.manifest.kind).toBe('embedding');
    expect(out.manifest.preprocessing).toBe(BACKBONE_SPECS.mobilenet_v1.scaling);
    expect(out.manifest.sampleShape).toEqual([384 + 768]);
    expect(out.manifest.features).toEqual([
      { layer: 'conv_pw_11_relu', size: 384, offset: 0 },
      { layer: 'conv_pw_13_relu', size: 768, offset: 384 },
    ]);
    const noisy = await out.load('test-rician-snr5');
    const set = await openImageSet(noisy.info.imageSetDir);
    const b = await loadBackbone('mobilenet_v1', V1, { inputSize: SIZE });
    const x = imagesToTensor(set.batch([0, 1, 2, 3]), 4, set.header, { inputSize: SIZE, inputChannels: 3, scaling: 'scale_-1_1' });
    set.close();
    const direct = multiLayerFeatures(b.model, FEATURES).model.predict(x) as Tensor;
    expect(maxDiff(direct.dataSync(), noisy.features)).toBeLessThan(1e-4);
    // the last block equals the backbone's own pooled output
    const pooled = (b.model.predict(x) as Tensor).dataSync();
    const rows = direct.arraySync() as number[][];
    expect(
      maxDiff(
        rows.flatMap((r) => r.slice(384)),
        pooled,
      ),
    ).toBeLessThan(1e-5);
    tf.dispose([x, direct]);
    b.model.dispose();

    // a changed feature list is another embed output
    const other = await runEmbed(
      await experiment('v1-multi2', `  backbone: mobilenet_v1\n  weights: ${V1}\n  input_size: ${SIZE}\n  mode: head\n  features: [conv_pw_13_relu]\n`),
      upstream,
      quiet,
    );
    expect(other.key).not.toBe(res.key);

    const trial = await trainTrial({
      experiment: exp,
      features: out,
      params: { learningRate: 1e-3, dropout: 0, batchSize: 8 },
      seed: 5,
      outDir: path.join(root, 'trial'),
    });
    const { model, metadata } = await loadModel(trial.modelDir);
    expect(metadata.backbone.name).toBe('mobilenet_v1');
    expect(metadata.preprocessing.scaling).toBe('scale_-1_1');
    expect(metadata.onnx).not.toBeNull();
    expect(findFeatureLayer([model]).layer.name).toBe('conv_pw_13_relu');
    const file = path.join(SHARED, 'datasets', 'sartaj', 'Testing', 'glioma_tumor', 'image(1).jpg');
    const input = await imageFileToInput(file, metadata.preprocessing);
    const ref = (model.predict(input) as Tensor).dataSync();
    const pred = await loadPredictor(trial.modelDir, { inference: 'onnxruntime', threads: 1 });
    const p = await predictWith(pred, file);
    expect(pred.inference.engine).toBe('onnxruntime');
    expect(
      maxDiff(
        CLASSES.map((c) => p.uncalibrated[c]),
        ref,
      ),
    ).toBeLessThan(1e-4);
    await pred.dispose();
    model.dispose();
    input.dispose();
  });

  it('partial: activations at the default cut conv_pw_12_relu; the trained top rebuilt from them gives the pooled embedding', async () => {
    const exp = await experiment('v1-partial', `  backbone: mobilenet_v1\n  weights: ${V1}\n  input_size: ${SIZE}\n  mode: partial\n`);
    const res = await runEmbed(exp, upstream, quiet);
    const out = await openEmbedOutput(res.dir);
    expect(out.manifest.kind).toBe('activation');
    expect(out.manifest.cutLayer).toBe(BACKBONE_SPECS.mobilenet_v1.defaultCutLayer);
    expect(out.manifest.sampleShape).toEqual([2, 2, 768]);
    const val = await out.load('val');
    const b = await loadBackbone('mobilenet_v1', V1, { inputSize: SIZE });
    const top = splitAtLayer(b.model, 'conv_pw_12_relu').buildTop();
    const emb = top.predict(tf.tensor4d(val.features, [val.info.n, 2, 2, 768])) as Tensor;
    const set = await openImageSet(val.info.imageSetDir);
    const idx = set.records
      .map((r, i) => [r, i] as const)
      .filter(([r]) => val.ids.includes(r.id))
      .map(([, i]) => i);
    const x = imagesToTensor(set.batch(idx), idx.length, set.header, { inputSize: SIZE, inputChannels: 3, scaling: 'scale_-1_1' });
    set.close();
    expect(maxDiff(emb.dataSync(), (b.model.predict(x) as Tensor).dataSync())).toBeLessThan(1e-4);
    b.model.dispose();
  });

  it('features outside head mode, and a weight file of another network, are one-line errors naming the experiment and the file', async () => {
    const partialFeatures = await experiment('bad-features', `  backbone: mobilenet_v1\n  weights: ${V1}\n  mode: partial\n  features: [conv_pw_13_relu]\n`);
    await expect(runEmbed(partialFeatures, upstream, quiet)).rejects.toThrow(
      new UserError(`${partialFeatures.file}: model.features applies to mode head only (mode is partial); remove it or set mode: head`),
    );
    const h5 = path.join(root, 'efficientnetb0_notop.h5');
    const effnet = buildBackbone('efficientnet_b0', { inputSize: 32 });
    await writeKerasH5(effnet, h5);
    effnet.dispose();
    const wrong = await experiment('wrong-weights', `  backbone: mobilenet_v1\n  weights: ${h5}\n  input_size: ${SIZE}\n  mode: head\n`);
    const err = await runEmbed(wrong, upstream, quiet).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`${wrong.file}: model.weights: ${h5}: no weight 'conv1/kernel' [3, 3, 3, 32·α]: not MobileNet (v1) weights`);
  });
});

describe('predict path: every pixel scaling', () => {
  it.each(['scale_-1_1', 'caffe_bgr_mean', 'raw_0_255'] as PixelScaling[])(
    '%s: prepareImage gives what imagesToTensor gives the embed stage',
    async (scaling) => {
      const file = path.join(SHARED, 'datasets', 'sartaj', 'Testing', 'no_tumor', 'image(1).jpg');
      const bytes = new Uint8Array(await (await import('node:fs/promises')).readFile(file));
      const pre: Preprocessing = { decode: { size: 48, channels: 1, fit: 'pad' }, inputSize: 40, inputChannels: 3, scaling };
      const prepared = await prepareImage(bytes, pre, 5e7);
      const ref = imagesToTensor(prepared.scan.pixels, 1, { height: 48, width: 48, channels: 1 }, { inputSize: 40, inputChannels: 3, scaling });
      expect(maxDiff(prepared.input.dataSync(), ref.dataSync())).toBe(0);
      const fromFile = await imageFileToInput(file, pre);
      expect(maxDiff(fromFile.dataSync(), ref.dataSync())).toBe(0);
      const range = [tf.min(ref).dataSync()[0], tf.max(ref).dataSync()[0]];
      if (scaling === 'scale_-1_1') expect(range[0]).toBeGreaterThanOrEqual(-1);
      if (scaling === 'raw_0_255') expect(range[1]).toBeGreaterThan(100);
      if (scaling === 'caffe_bgr_mean') expect(range[0]).toBeLessThan(-100);
      tf.dispose([prepared.input, ref, fromFile]);
    },
  );

  it('an unknown scaling is refused', async () => {
    const pre = { decode: { size: 48, channels: 1, fit: 'pad' }, inputSize: 40, inputChannels: 3, scaling: 'zscore' } as Preprocessing;
    await expect(prepareImage(new Uint8Array([0xff, 0xd8, 0xff, 0]), pre, 5e7)).rejects.toThrow(
      "pixel scaling 'zscore' is not one of scale_-1_1, caffe_bgr_mean, raw_0_255",
    );
  });
});
