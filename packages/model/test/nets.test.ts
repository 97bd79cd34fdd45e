/**
 * Nets on wasm with the project's training kernels: the cnn and MobileNetV2's top blocks (partial
 * mode) and the whole MobileNetV2 (full mode, tiny input) take gradient steps and the loss falls;
 * splitAtLayer reproduces the backbone and refuses cuts that a skip connection crosses.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { sharedDir } from '@mri-robust/core';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { buildCnn } from '../src/nets/cnn.ts';
import { DEFAULT_CUT_LAYER, layerNames, loadMobileNetV2, splitAtLayer, trainableBackbone } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';

const SHARED = process.env.MRI_SHARED ?? sharedDir();
const WEIGHTS = path.join(SHARED, 'weights', 'mobilenet_v2_0.35_224');
const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];

/** 2 real grey images per class at `size`, and their one-hot labels. */
async function realBatch(size: number): Promise<{ x: Tensor; y: Tensor }> {
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  for (let c = 0; c < CLASSES.length; c++) {
    const folder = path.join(SHARED, 'datasets', 'nickparvar', 'Training', CLASSES[c]);
    for (const f of readdirSync(folder).sort().slice(0, 2)) {
      chunks.push(new Uint8Array(await sharp(path.join(folder, f)).greyscale().resize(size, size, { fit: 'fill' }).raw().toBuffer()));
      labels.push(c);
    }
  }
  const pixels = new Uint8Array(chunks.reduce((a, b) => a + b.length, 0));
  chunks.reduce((o, ch) => (pixels.set(ch, o), o + ch.length), 0);
  return {
    x: imagesToTensor(pixels, labels.length, { height: size, width: size, channels: 1 }, { inputSize: size, inputChannels: 1 }),
    y: tf.oneHot(tf.tensor1d(labels, 'int32'), 4),
  };
}

function classifier(trunk: LayersModel): LayersModel {
  const out = tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(trunk.outputs[0]);
  const m = tf.model({ inputs: trunk.inputs, outputs: out as import('@tensorflow/tfjs-layers').SymbolicTensor });
  m.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
  return m;
}

async function losses(m: LayersModel, x: Tensor, y: Tensor, steps: number): Promise<number[]> {
  const h = await m.fit(x, y, { batchSize: x.shape[0], epochs: steps, shuffle: false, verbose: 0 });
  return h.history.loss as number[];
}

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

describe('nets on wasm', () => {
  it('cnn: conv blocks with batch norm and pooling train (loss falls)', async () => {
    const { x, y } = await realBatch(32);
    const cnn = buildCnn({ inputShape: [32, 32, 1], widths: [8, 16], seed: 5 });
    expect(cnn.outputs[0].shape).toEqual([null, 16]);
    expect(cnn.layers.map((l) => l.getClassName())).toContain('BatchNormalization');
    const l = await losses(classifier(cnn), x, y, 12);
    expect(l[l.length - 1]).toBeLessThan(l[0] * 0.7);
  });

  it('MobileNetV2: splitAtLayer reproduces the backbone; the top trains; full mode trains', async () => {
    const backbone = await loadMobileNetV2(WEIGHTS, { inputSize: 64 });
    const names = layerNames(backbone.model);
    expect(names).toContain(DEFAULT_CUT_LAYER);
    expect(names.at(-1)).toBe('avg_pool');
    const { x: grey, y } = await realBatch(64);
    const x = tf.tile(grey, [1, 1, 1, 3]);
    const split = splitAtLayer(backbone.model, DEFAULT_CUT_LAYER);
    expect(split.cutShape).toEqual([4, 4, 32]);
    const act = split.bottom.predict(x) as Tensor;
    const top = split.buildTop();
    const direct = backbone.model.predict(x) as Tensor;
    expect(tf.max(tf.abs(tf.sub(top.predict(act) as Tensor, direct))).dataSync()[0]).toBeLessThan(1e-4);
    expect(top.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(false); // folded
    const unfolded = split.buildTop({ foldBatchNorm: false });
    expect(unfolded.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(true);
    expect(tf.max(tf.abs(tf.sub(unfolded.predict(act) as Tensor, direct))).dataSync()[0]).toBeLessThan(1e-4);
    const lt = await losses(classifier(top), act, y, 6);
    expect(lt[lt.length - 1]).toBeLessThan(lt[0]);
    // The backbone is untouched by training the top.
    expect(tf.max(tf.abs(tf.sub(backbone.model.predict(x) as Tensor, direct))).dataSync()[0]).toBe(0);

    expect(() => splitAtLayer(backbone.model, 'block_14_project_BN')).toThrow(/skip connection crosses it/);
    expect(() => splitAtLayer(backbone.model, 'no_such_layer')).toThrow(/not a layer of the backbone/);

    const full = trainableBackbone((await loadMobileNetV2(WEIGHTS, { inputSize: 32 })).model);
    const small = tf.image.resizeBilinear(x as import('@tensorflow/tfjs-core').Tensor4D, [32, 32]);
    const lf = await losses(classifier(full), small, y, 4);
    expect(lf.every(Number.isFinite)).toBe(true);
    expect(lf[lf.length - 1]).toBeLessThan(lf[0]);
  });
});
