/**
 * ONNX export (onnx/export.ts) of the new backbones, run by onnxruntime-node, against the same
 * tfjs-layers model run by tfjs (wasm); small inputs to keep the CPU cost low:
 * - MobileNetV1-0.75 with its real ImageNet weights (../shared) on real scans: the pooled backbone,
 *   the 1000-class top, the bottom up to a conv_pw cut and the trained top above it, and the
 *   multi-layer feature model of `model.features`;
 * - EfficientNetB0, VGG16, ResNet50, InceptionV3 with seeded random weights;
 * - one small network per converter family the new backbones need (activations relu6 / swish /
 *   sigmoid / softmax, depthwise with a depth multiplier, max / average pooling 'same' on odd
 *   sizes, concatenate / add / multiply with the squeeze-excitation broadcast, batch norm without
 *   scale and with other epsilons, 1×7 / 7×1 kernels, Normalization and KerasRescaling).
 * Each output agrees within 1e-4 (times the output's scale where that exceeds 1).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { selectInference, type InferenceEngine } from '../src/backend/inference.ts';
import { tf } from '../src/backend/tf.ts';
import { BACKBONE_SPECS, buildBackbone, loadBackbone } from '../src/nets/backbones.ts';
import { multiLayerFeatures } from '../src/nets/features.ts';
import { KerasRescaling, Normalization } from '../src/nets/keras/layers.ts';
import { splitAtLayer } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { exportOnnx } from '../src/onnx/export.ts';
import { createForward } from '../src/onnx/forward.ts';
import { createRng } from '@mri-robust/core';
import { randomizeWeights } from './nets-reference.ts';

const SHARED = process.env.MRI_SHARED ?? sharedDir();
const V1_WEIGHTS = path.join(SHARED, 'weights', 'mobilenet_v1_0.75_224');
const TOL = 1e-4;
let engine: InferenceEngine;

/** `n` real grey scans at `size` (sartaj Testing, all four classes). */
async function realScans(n: number, size: number): Promise<Uint8Array> {
  const root = path.join(SHARED, 'datasets', 'sartaj', 'Testing');
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

/** max |tfjs − onnxruntime| of every output of `model` on `x` (one exported model per output), and the largest |value| of each. */
async function compare(model: LayersModel, x: Tensor): Promise<{ diff: number; scale: number }[]> {
  const parts = model.outputs.length === 1 ? [model] : model.outputs.map((o) => tfl.model({ inputs: model.inputs, outputs: o }));
  const results: { diff: number; scale: number }[] = [];
  for (const part of parts) {
    const refT = part.predict(x) as Tensor;
    const ref = refT.dataSync() as Float32Array;
    const fwd = await createForward(part, engine);
    expect(fwd.engine).toBe('onnxruntime');
    const [y] = await fwd.run(x.dataSync() as Float32Array, x.shape[0]);
    await fwd.dispose();
    refT.dispose();
    expect(y.data.length).toBe(ref.length);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Math.abs(ref[i] - y.data[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    results.push({ diff, scale });
  }
  return results;
}

function expectClose(results: { diff: number; scale: number }[], what: string): void {
  for (const r of results) {
    expect(r.scale, `${what}: output is not all zeros`).toBeGreaterThan(1e-3);
    expect(r.diff, `${what}: max |Δ| (scale ${r.scale.toExponential(2)})`).toBeLessThanOrEqual(TOL * Math.max(1, r.scale));
  }
}

/** Seeded values in [lo, hi) as an image batch [n, s, s, c]. */
function randomInput(n: number, s: number, c: number, seed: number, lo = -1, hi = 1): Tensor {
  const rng = createRng(seed);
  return tf.tensor4d(
    Float32Array.from({ length: n * s * s * c }, () => rng.uniform(lo, hi)),
    [n, s, s, c],
  );
}

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
  engine = await selectInference('onnxruntime', 1);
});

describe('MobileNetV1-0.75 (real ImageNet weights) exports and matches on real scans', () => {
  const SIZE = 96;
  const N = 8;
  let x: Tensor;
  beforeAll(async () => {
    x = imagesToTensor(
      await realScans(N, SIZE),
      N,
      { height: SIZE, width: SIZE, channels: 1 },
      {
        inputSize: SIZE,
        inputChannels: 3,
        scaling: BACKBONE_SPECS.mobilenet_v1.scaling,
      },
    );
  });

  it('pooled backbone (head mode) and the 1000-class top', async () => {
    const b = await loadBackbone('mobilenet_v1', V1_WEIGHTS, { inputSize: SIZE });
    const ex = exportOnnx(b.model);
    expect(ex.folded.batchNorm).toBe(27); // conv1 + 13 × (dw, pw): every batch norm folded
    expectClose(await compare(b.model, x), 'pooled embedding');
    b.model.dispose();
    const top = await loadBackbone('mobilenet_v1', V1_WEIGHTS, { inputSize: SIZE, includeTop: true });
    expect(top.model.outputs[0].shape).toEqual([null, 1000]);
    expectClose(await compare(top.model, x), '1000-class softmax');
    top.model.dispose();
  });

  it('partial mode: bottom up to conv_pw_11_relu and the trained top above it', async () => {
    const b = await loadBackbone('mobilenet_v1', V1_WEIGHTS, { inputSize: SIZE });
    const split = splitAtLayer(b.model, 'conv_pw_11_relu');
    expectClose(await compare(split.bottom, x), 'cut activations');
    const act = split.bottom.predict(x) as Tensor;
    expectClose(await compare(split.buildTop(), act), 'top above the cut');
    act.dispose();
    b.model.dispose();
  });

  it('head mode with model.features: concatenated pooled activations of three depths', async () => {
    const b = await loadBackbone('mobilenet_v1', V1_WEIGHTS, { inputSize: SIZE });
    const multi = multiLayerFeatures(b.model, ['conv_pw_7_relu', 'conv_pw_11_relu', 'conv_pw_13_relu']);
    expect(multi.size).toBe(384 + 384 + 768);
    expectClose(await compare(multi.model, x), 'multi-layer features');
    b.model.dispose();
  });
});

describe('Keras-application backbones (seeded random weights) export and match', () => {
  const SMALL = { efficientnet_b0: 32, vgg16: 32, resnet50: 32, inception_v3: 75 } as const;
  it.each(Object.keys(SMALL) as (keyof typeof SMALL)[])('%s: pooled output and the last feature map', async (arch) => {
    const size = SMALL[arch];
    const m = buildBackbone(arch, { inputSize: size });
    randomizeWeights(m, 300 + Object.keys(SMALL).indexOf(arch), 0.1);
    // raw_0_255 (EfficientNet) takes pixels; the others scaled inputs of about unit size.
    const x = arch === 'efficientnet_b0' ? randomInput(2, size, 3, 5, 0, 255) : randomInput(2, size, 3, 5);
    const last = m.getLayer(BACKBONE_SPECS[arch].lastFeatureLayer).output as SymbolicTensor;
    const both = tfl.model({ inputs: m.inputs, outputs: [m.outputs[0], last] });
    expectClose(await compare(both, x), arch);
    x.dispose();
    m.dispose();
  });
});

describe('converters the new backbones use', () => {
  /** Build input → body → outputs, seed its weights, compare on a seeded input. */
  async function check(
    what: string,
    shape: [number, number, number],
    body: (x: SymbolicTensor) => SymbolicTensor | SymbolicTensor[],
    seed: number,
    lo = -1,
    hi = 1,
  ) {
    const input = tfl.input({ shape });
    const outs = body(input);
    const m = tfl.model({ inputs: input, outputs: outs });
    randomizeWeights(m, seed, 0.5);
    const x = randomInput(3, shape[0], shape[2], seed + 1, lo, hi);
    expectClose(await compare(m, x), what);
    x.dispose();
    m.dispose();
  }
  const conv = (x: SymbolicTensor, filters: number, kernel: number | [number, number], extra: Record<string, unknown> = {}) =>
    tfl.layers.conv2d({ filters, kernelSize: kernel, padding: 'same', ...extra }).apply(x) as SymbolicTensor;

  it('activations relu6, swish, sigmoid, softmax (as Activation layers and conv activations)', async () => {
    await check(
      'activations',
      [9, 9, 4],
      (x) => {
        const a = tfl.layers.activation({ activation: 'relu6' }).apply(conv(x, 6, 3)) as SymbolicTensor;
        const b = conv(a, 6, 1, { activation: 'swish' });
        const c = conv(b, 6, 1, { activation: 'sigmoid' });
        const d = tfl.layers.activation({ activation: 'swish' }).apply(c) as SymbolicTensor;
        const p = tfl.layers.globalAveragePooling2d({}).apply(d) as SymbolicTensor;
        return [d, tfl.layers.dense({ units: 5, activation: 'softmax' }).apply(p) as SymbolicTensor];
      },
      11,
      -8,
      8,
    );
  });

  it('depthwise with depth multiplier 2 (strides 1 and 2, odd size), batch norm folded into it', async () => {
    await check(
      'depthwise',
      [11, 11, 3],
      (x) => {
        let y = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: false }).apply(x) as SymbolicTensor;
        y = tfl.layers.batchNormalization({ epsilon: 1e-3 }).apply(y) as SymbolicTensor;
        return tfl.layers.depthwiseConv2d({ kernelSize: 5, strides: 2, depthMultiplier: 2, padding: 'same' }).apply(y) as SymbolicTensor;
      },
      12,
    );
  });

  it("max and average pooling 'same' on odd sizes (padding excluded from the average), strides 1 and 2", async () => {
    await check(
      'pooling',
      [9, 9, 3],
      (x) => [
        tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as SymbolicTensor,
        tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(x) as SymbolicTensor,
        tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as SymbolicTensor,
        tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid' }).apply(x) as SymbolicTensor,
      ],
      13,
    );
  });

  it('concatenate, add and the squeeze-excitation multiply ([N,h,w,c] × [N,1,1,c])', async () => {
    await check(
      'merges',
      [8, 8, 4],
      (x) => {
        const a = conv(x, 4, 1);
        const b = conv(x, 4, 3);
        const sum = tfl.layers.add({}).apply([a, b, x]) as SymbolicTensor;
        const cat = tfl.layers.concatenate({ axis: -1 }).apply([sum, a]) as SymbolicTensor;
        let se = tfl.layers.globalAveragePooling2d({}).apply(cat) as SymbolicTensor;
        se = tfl.layers.reshape({ targetShape: [1, 1, 8] }).apply(se) as SymbolicTensor;
        se = conv(se, 2, 1, { activation: 'swish' });
        se = conv(se, 8, 1, { activation: 'sigmoid' });
        return tfl.layers.multiply({}).apply([cat, se]) as SymbolicTensor;
      },
      14,
    );
  });

  it('batch norm without scale (ε 1e-3, folded) and with ε 1.001e-5 and 1e-5 (standalone, after a merge)', async () => {
    await check(
      'batch norm',
      [7, 7, 4],
      (x) => {
        const a = tfl.layers.batchNormalization({ scale: false, epsilon: 1e-3 }).apply(conv(x, 4, 3, { useBias: false })) as SymbolicTensor;
        const s = tfl.layers.add({}).apply([a, x]) as SymbolicTensor;
        const b = tfl.layers.batchNormalization({ epsilon: 1.001e-5 }).apply(s) as SymbolicTensor;
        return tfl.layers.batchNormalization({ epsilon: 1e-5, scale: false }).apply(b) as SymbolicTensor;
      },
      15,
    );
  });

  it('1×7 and 7×1 kernels (InceptionV3), strided 3×3 valid', async () => {
    await check(
      'asymmetric kernels',
      [12, 12, 3],
      (x) => {
        const a = conv(x, 5, [1, 7]);
        const b = conv(a, 5, [7, 1]);
        return tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid' }).apply(b) as SymbolicTensor;
      },
      16,
    );
  });

  it('Normalization ((x − mean) / max(√var, 1e-7), one variance 0) and KerasRescaling (scalar and per channel)', async () => {
    const input = tfl.input({ shape: [6, 6, 3] });
    let y = new KerasRescaling({ scale: 1 / 255 }).apply(input) as SymbolicTensor;
    const norm = new Normalization({ axis: -1 });
    y = norm.apply(y) as SymbolicTensor;
    y = new KerasRescaling({ scale: [1 / Math.sqrt(0.229), 1 / Math.sqrt(0.224), 1 / Math.sqrt(0.225)], offset: 0.5 }).apply(y) as SymbolicTensor;
    const m = tfl.model({ inputs: input, outputs: y });
    norm.setWeights([tf.tensor1d([0.485, 0, 0.406]), tf.tensor1d([0.229 ** 2, 0, 0.225 ** 2]), tf.scalar(0)]);
    // Channel 1 has variance 0 (divided by the 1e-7 floor): its pixels stay tiny so that its outputs are ~100.
    const rng = createRng(17);
    const data = Float32Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => (i % 3 === 1 ? rng.uniform(0, 2.55e-3) : rng.uniform(0, 255)));
    const x = tf.tensor4d(data, [2, 6, 6, 3]);
    expectClose(await compare(m, x), 'Normalization + KerasRescaling');
    x.dispose();
    m.dispose();
  });
});
