/**
 * `model.backbone: mobilenet_v1` against the real ImageNet MobileNetV1-0.75 in ../shared: the project
 * builds the network in code (α read from the weights) and loads the weights by layer name; on real
 * scans its conv_pw_13_relu activations and, with the top, its 1000-class output equal those of the
 * same model.json loaded as it is by tf.loadLayersModel. The same weights written to a Keras .h5
 * load back to the same outputs; an experiment with it validates and loads; partial mode cuts at any
 * conv_pw_* layer; full mode trains.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { loadExperiment, sharedDir } from '@mri-robust/core';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { modelHandler } from '../src/io/file-handler.ts';
import { modelSchemaParts } from '../src/schema.ts';
import { BACKBONE_SPECS, loadBackbone, loadExperimentBackbone } from '../src/nets/backbones.ts';
import { writeKerasH5 } from '../src/nets/h5-weights.ts';
import { splitAtLayer, trainableBackbone } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';

const SHARED = process.env.MRI_SHARED ?? sharedDir();
const WEIGHTS = path.join(SHARED, 'weights', 'mobilenet_v1_0.75_224');
const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];

/** `perClass` real grey scans per class at `size`, as the embed stage feeds them ([-1, 1], 3 channels). */
async function realScans(size: number, perClass: number): Promise<{ x: Tensor4D; y: Tensor }> {
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  for (let c = 0; c < CLASSES.length; c++) {
    const folder = path.join(SHARED, 'datasets', 'nickparvar', 'Training', CLASSES[c]);
    for (const f of readdirSync(folder).sort().slice(0, perClass)) {
      chunks.push(new Uint8Array(await sharp(path.join(folder, f)).greyscale().resize(size, size, { fit: 'fill' }).raw().toBuffer()));
      labels.push(c);
    }
  }
  const pixels = new Uint8Array(chunks.reduce((a, b) => a + b.length, 0));
  chunks.reduce((o, ch) => (pixels.set(ch, o), o + ch.length), 0);
  const x = imagesToTensor(
    pixels,
    labels.length,
    { height: size, width: size, channels: 1 },
    { inputSize: size, inputChannels: 3, scaling: BACKBONE_SPECS.mobilenet_v1.scaling },
  );
  return { x, y: tf.oneHot(tf.tensor1d(labels, 'int32'), 4) };
}

const maxDiff = (a: Tensor, b: Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

let dir: string;
let reference: LayersModel;
let scans: { x: Tensor4D; y: Tensor };

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
  dir = mkdtempSync(path.join(os.tmpdir(), 'mobilenet-v1-'));
  reference = await tf.loadLayersModel(modelHandler(WEIGHTS));
  scans = await realScans(224, 1);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mobilenet_v1 backbone (real ImageNet weights, real scans)', () => {
  it('conv_pw_13_relu and the 1000-class output equal the model.json loaded as is (max |Δ| ≤ 1e-5)', async () => {
    const features = await loadBackbone('mobilenet_v1', WEIGHTS, { pool: false });
    expect(features.model.getLayer('conv1').getWeights()[0].shape).toEqual([3, 3, 3, 24]); // α = 0.75 from the weights
    expect(features.weightsFormat).toBe('tfjs');
    const refFeatures = tf.model({ inputs: reference.inputs, outputs: reference.getLayer('conv_pw_13_relu').output as SymbolicTensor });
    const a = features.model.predict(scans.x) as Tensor;
    const b = refFeatures.predict(scans.x) as Tensor;
    expect(a.shape).toEqual([4, 7, 7, 768]);
    expect(tf.max(b).dataSync()[0]).toBeGreaterThan(0.5); // real, non-trivial activations
    expect(maxDiff(a, b)).toBeLessThanOrEqual(1e-5);

    const withTop = await loadBackbone('mobilenet_v1', WEIGHTS, { includeTop: true });
    expect(withTop.model.countParams()).toBe(2_601_976);
    const p = withTop.model.predict(scans.x) as Tensor;
    const q = reference.predict(scans.x) as Tensor;
    expect(p.shape).toEqual([4, 1000]);
    expect(maxDiff(p, q)).toBeLessThanOrEqual(1e-5);

    // The default (head-mode) backbone: the pooled 768-value embedding.
    const pooled = await loadBackbone('mobilenet_v1', WEIGHTS);
    expect(pooled.model.outputs[0].shape).toEqual([null, 768]);
    expect(pooled.model.layers.at(-1)!.name).toBe('global_average_pooling2d_1');
    expect(maxDiff(pooled.model.predict(scans.x) as Tensor, tf.mean(b, [1, 2]))).toBeLessThanOrEqual(1e-5);
  });

  it('the same weights written as a Keras .h5 load back to the same 1000-class output', async () => {
    const withTop = await loadBackbone('mobilenet_v1', WEIGHTS, { includeTop: true });
    const file = path.join(dir, 'mobilenet_7_5_224_tf.h5');
    await writeKerasH5(withTop.model, file);
    const fromH5 = await loadBackbone('mobilenet_v1', file, { includeTop: true });
    expect(fromH5.weightsFormat).toBe('h5');
    expect(maxDiff(fromH5.model.predict(scans.x) as Tensor, reference.predict(scans.x) as Tensor)).toBeLessThanOrEqual(1e-5);
    // and, without the top, the classifier weights in the file are left unused
    const noTop = await loadBackbone('mobilenet_v1', file, { inputSize: 96 });
    expect(noTop.model.outputs[0].shape).toEqual([null, 768]);
  });

  it('an experiment with backbone mobilenet_v1 validates and loads; partial mode cuts at any conv_pw_* layer', async () => {
    const yaml = path.join(dir, 'v1.yaml');
    writeFileSync(
      yaml,
      `name: v1\nseed: 3\nmodel:\n  backbone: mobilenet_v1\n  weights: ${WEIGHTS}\n  input_size: 96\n  mode: partial\n  cut_layer: conv_pw_11_relu\n`,
    );
    const experiment = loadExperiment(yaml, modelSchemaParts);
    const backbone = await loadExperimentBackbone(experiment);
    expect(backbone.inputSize).toBe(96);
    const small = tf.image.resizeBilinear(scans.x, [96, 96]);
    const direct = backbone.model.predict(small) as Tensor;
    for (const cut of ['conv_pw_3_relu', 'conv_pw_11_relu', 'conv_pw_12', 'conv_pw_12_relu']) {
      const split = splitAtLayer(backbone.model, cut);
      const viaCut = split.buildTop().predict(split.bottom.predict(small) as Tensor) as Tensor;
      expect(maxDiff(viaCut, direct), cut).toBeLessThan(1e-4);
    }
    expect(splitAtLayer(backbone.model, BACKBONE_SPECS.mobilenet_v1.defaultCutLayer).cutShape).toEqual([3, 3, 768]);
  });

  it('full mode: the whole backbone trains (loss falls on real scans)', async () => {
    const net = trainableBackbone((await loadBackbone('mobilenet_v1', WEIGHTS, { inputSize: 64 })).model);
    const x = tf.image.resizeBilinear(scans.x, [64, 64]);
    const out = tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(net.outputs[0]);
    const m = tf.model({ inputs: net.inputs, outputs: out as SymbolicTensor });
    m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const h = await m.fit(x, scans.y, { batchSize: 4, epochs: 4, shuffle: false, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
  });
});
