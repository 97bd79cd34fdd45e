/**
 * ONNX export (onnx/export.ts) run by onnxruntime-node against the same tfjs-layers model run by
 * tfjs (wasm), on real scans from ../shared: every network the project builds or loads — the cnn,
 * the whole MobileNetV2 backbone, the trunk up to a cut, the trained top above a cut, the classifier
 * head — plus a synthetic net covering the other converters (stride-2 'same' padding on odd and
 * even sizes, pooling, separable conv, concat, flatten, reshape, dense + batch norm).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, UserError } from '@mri-robust/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { selectInference, type InferenceEngine } from '../src/backend/inference.ts';
import { tf } from '../src/backend/tf.ts';
import { buildCnn } from '../src/nets/cnn.ts';
import { loadMobileNetV2, splitAtLayer } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { buildClassifier } from '../src/train/classifier.ts';
import { exportOnnx } from '../src/onnx/export.ts';
import { createForward } from '../src/onnx/forward.ts';
import { samePads } from '../src/onnx/layers.ts';
import { decodeModel } from '../src/onnx/proto.ts';

const WEIGHTS = path.join(process.env.MRI_SHARED ?? sharedDir(), 'weights', 'mobilenet_v2_0.35_224');
const SIZE = 96;
const N = 12;
let engine: InferenceEngine;
let pixels: Uint8Array;

async function realScans(n: number, size: number): Promise<Uint8Array> {
  const root = path.join(process.env.MRI_SHARED ?? sharedDir(), 'datasets', 'sartaj', 'Testing');
  const files = ['glioma_tumor', 'meningioma_tumor', 'no_tumor', 'pituitary_tumor'].flatMap((c) =>
    readdirSync(path.join(root, c))
      .sort()
      .slice(0, Math.ceil(n / 4))
      .map((f) => path.join(root, c, f)),
  );
  const out = new Uint8Array(n * size * size);
  for (let i = 0; i < n; i++) out.set(await sharp(files[i]).greyscale().resize(size, size, { fit: 'fill' }).raw().toBuffer(), i * size * size);
  return out;
}

function input(channels: 1 | 3, size = SIZE): Tensor {
  return imagesToTensor(pixels.subarray(0, N * SIZE * SIZE), N, { height: SIZE, width: SIZE, channels: 1 }, { inputSize: size, inputChannels: channels });
}

/** max |tfjs − onnxruntime| of `model` on `x`, and the largest |value| (scale of the output). */
async function compare(model: LayersModel, x: Tensor): Promise<{ maxAbsDiff: number; scale: number; ort: Float32Array; tfjs: Float32Array }> {
  const ref = (model.predict(x) as Tensor).dataSync() as Float32Array;
  const fwd = await createForward(model, engine);
  const [y] = await fwd.run(x.dataSync() as Float32Array, x.shape[0]);
  await fwd.dispose();
  expect(y.data.length).toBe(ref.length);
  let maxAbsDiff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref[i] - y.data[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { maxAbsDiff, scale, ort: y.data, tfjs: ref };
}

beforeAll(async () => {
  await selectBackend('wasm');
  engine = await selectInference('onnxruntime', 1);
  pixels = await realScans(N, SIZE);
});

describe('ONNX export equals tfjs on real scans (max |Δ| ≤ 1e-4)', () => {
  it('whole MobileNetV2-0.35 backbone: pooled embeddings', async () => {
    const b = await loadMobileNetV2(WEIGHTS, { inputSize: SIZE });
    const ex = exportOnnx(b.model);
    expect(ex.folded).toEqual({ batchNorm: 52, padding: 5 }); // every batch norm folded, every ZeroPadding2D absorbed
    const r = await compare(b.model, input(3));
    expect(r.scale).toBeGreaterThan(0.5);
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    b.model.dispose();
  });

  it('trunk up to a cut and the trained top above it (partial mode); cut activations within 1e-4 (scaled by their range)', async () => {
    const b = await loadMobileNetV2(WEIGHTS, { inputSize: SIZE });
    for (const cut of ['block_9_add', 'block_12_add', 'block_15_add']) {
      const split = splitAtLayer(b.model, cut);
      const x = input(3);
      const bottom = await compare(split.bottom, x);
      // Activations at a cut reach |a| ≈ 30: float32 rounding differs between engines (and between
      // tfjs's own wasm and cpu backends: 1.8e-4 at block_12_add, 224 px) in proportion to |a|.
      expect(bottom.maxAbsDiff).toBeLessThanOrEqual(1e-4 * Math.max(1, bottom.scale / 8));
      const acts = split.bottom.predict(x) as Tensor;
      const top = split.buildTop();
      const t = await compare(top, acts);
      expect(t.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      const withBn = split.buildTop({ foldBatchNorm: false });
      expect((await compare(withBn, acts)).maxAbsDiff).toBeLessThanOrEqual(1e-4);
      tf.dispose([x, acts]);
      top.dispose();
      withBn.dispose();
    }
    b.model.dispose();
  });

  it('classifier heads: Dropout → Dense softmax on embeddings, and GAP → Dropout → Dense on activations', async () => {
    const b = await loadMobileNetV2(WEIGHTS, { inputSize: SIZE });
    const emb = b.model.predict(input(3)) as Tensor;
    const head = buildClassifier({ inputShape: [1280], numClasses: 4, dropout: 0.3, seed: 5 });
    const h = await compare(head.model, emb);
    expect(h.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const split = splitAtLayer(b.model, 'block_12_add');
    const partial = buildClassifier({ inputShape: split.cutShape, numClasses: 4, dropout: 0.2, seed: 6, trunk: split.buildTop() });
    const acts = split.bottom.predict(input(3)) as Tensor;
    const p = await compare(partial.model, acts);
    expect(p.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    tf.dispose([emb, acts]);
    b.model.dispose();
  });

  it('the cnn (batch norm with trained statistics folded), grey input', async () => {
    const cnn = buildCnn({ inputShape: [SIZE, SIZE, 1], widths: [8, 16, 32], seed: 3 });
    // Non-trivial moving statistics, as after training.
    for (const l of cnn.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
      const c = l.getWeights()[0].shape[0];
      l.setWeights([
        tf.randomUniform([c], 0.5, 1.5, 'float32', 1),
        tf.randomNormal([c], 0, 0.2, 'float32', 2),
        tf.randomNormal([c], 0, 0.5, 'float32', 3),
        tf.randomUniform([c], 0.2, 2, 'float32', 4),
      ]);
    }
    const clf = buildClassifier({ inputShape: [SIZE, SIZE, 1], numClasses: 4, dropout: 0.1, seed: 8, trunk: cnn });
    expect((await compare(cnn, input(1))).maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect((await compare(clf.model, input(1))).maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(exportOnnx(clf.model).folded.batchNorm).toBe(3);
  });

  it("other converters: 'same' padding with stride 2 on odd and even sizes, pooling, separable conv, concat, flatten, reshape, dense + batch norm", async () => {
    // Keras pads 'same' asymmetrically (the extra pixel at the end).
    expect(samePads(7, 3, 2)).toEqual([1, 1]);
    expect(samePads(8, 3, 2)).toEqual([0, 1]);
    expect(samePads(8, 4, 2)).toEqual([1, 1]);
    expect(samePads(9, 1, 2)).toEqual([0, 0]);
    for (const size of [31, 32]) {
      const inp = tf.input({ shape: [size, size, 1] });
      const l = tf.layers;
      const a = l.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', seed: 1 } as never).apply(inp) as SymbolicTensor;
      const a2 = l
        .conv2d({ filters: 6, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })
        .apply(inp) as SymbolicTensor;
      let x = l.concatenate().apply([a, a2]) as SymbolicTensor;
      x = l
        .batchNormalization({
          movingMeanInitializer: tf.initializers.constant({ value: 0.1 }),
          movingVarianceInitializer: tf.initializers.constant({ value: 2 }),
        })
        .apply(x) as SymbolicTensor;
      x = l.leakyReLU({ alpha: 0.1 }).apply(x) as SymbolicTensor;
      x = l
        .separableConv2d({
          filters: 8,
          kernelSize: 3,
          padding: 'same',
          depthMultiplier: 2,
          depthwiseInitializer: tf.initializers.glorotUniform({ seed: 3 }),
          pointwiseInitializer: tf.initializers.glorotUniform({ seed: 4 }),
        })
        .apply(x) as SymbolicTensor;
      x = l.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as SymbolicTensor;
      x = l.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(x) as SymbolicTensor;
      x = l
        .zeroPadding2d({
          padding: [
            [1, 0],
            [0, 2],
          ],
        })
        .apply(x) as SymbolicTensor; // read by flatten: a real Pad node
      const flat = l.flatten().apply(x) as SymbolicTensor;
      let d = l.dense({ units: 16, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(flat) as SymbolicTensor;
      d = l.batchNormalization({ movingMeanInitializer: tf.initializers.constant({ value: -0.2 }) }).apply(d) as SymbolicTensor;
      d = l.activation({ activation: 'tanh' }).apply(d) as SymbolicTensor;
      const r = l.reshape({ targetShape: [2, 2, 4] }).apply(d) as SymbolicTensor;
      const g = l.globalMaxPooling2d({}).apply(r) as SymbolicTensor;
      const out = l.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }).apply(g) as SymbolicTensor;
      const m = tf.model({ inputs: inp, outputs: out });
      const x0 = imagesToTensor(pixels.subarray(0, 4 * SIZE * SIZE), 4, { height: SIZE, width: SIZE, channels: 1 }, { inputSize: size, inputChannels: 1 });
      const res = await compare(m, x0);
      expect(res.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      expect(exportOnnx(m).folded).toEqual({ batchNorm: 1, padding: 0 }); // dense + BN folded; conv BN reads a concat
    }
  });

  it('activations requested as extra outputs come back in NHWC order', async () => {
    const b = await loadMobileNetV2(WEIGHTS, { inputSize: SIZE });
    const x = input(3);
    const fwd = await createForward(b.model, engine, { activations: ['block_12_add', 'Conv1'] });
    const [, cut, conv1] = await fwd.run(x.dataSync() as Float32Array, N);
    await fwd.dispose();
    expect(cut.dims).toEqual([N, 6, 6, 32]);
    expect(conv1.dims).toEqual([N, 48, 48, 16]);
    const ref = (splitAtLayer(b.model, 'block_12_add').bottom.predict(x) as Tensor).dataSync();
    let m = 0;
    for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(ref[i] - cut.data[i]));
    expect(m).toBeLessThan(1e-3);
    b.model.dispose();
  });

  it('writes a valid ONNX file: opset 17, NHWC input with a symbolic batch, one Transpose at the input', () => {
    const cnn = buildCnn({ inputShape: [32, 32, 1], widths: [4], seed: 1 });
    const m = decodeModel(exportOnnx(cnn).bytes);
    expect(m.opsetImport.map((o) => [o.domain ?? '', o.version])).toEqual([['', 17]]);
    expect(m.graph.input[0].name).toBe('input');
    expect(m.graph.input[0].type.tensorType.shape.dim).toEqual([{ dimParam: 'N' }, { dimValue: 32 }, { dimValue: 32 }, { dimValue: 1 }]);
    expect(m.graph.node.filter((n) => n.opType === 'Transpose')).toHaveLength(1);
    expect(m.graph.node.map((n) => n.opType)).not.toContain('BatchNormalization');
    expect(m.graph.output.map((o) => o.name)).toEqual(['output']);
  });

  it('an unsupported layer is a clear error naming it', () => {
    const inp = tf.input({ shape: [8, 8, 1] });
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'my_upsampling' }).apply(inp) as SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: tf.layers.globalAveragePooling2d({}).apply(up) as SymbolicTensor });
    expect(() => exportOnnx(m)).toThrow(UserError);
    expect(() => exportOnnx(m)).toThrow(/layer 'my_upsampling' of class UpSampling2D is not supported \(supported: .*Conv2D/);
  });
});
