/**
 * One block of each Keras-application architecture, built by the same functions as the full
 * networks and filled with seeded random weights, against the same block computed independently in
 * plain typed-array loops (nets-reference.ts): an MBConv with squeeze-excitation (stride 1 with its
 * skip, stride 2 with Keras's correct_pad), a VGG conv block, a ResNet bottleneck with its projection
 * shortcut, an Inception module (mixed0 type), plus EfficientNet's own input normalisation and the
 * caffe / [-1, 1] pixel scalings. Max |Δ| ≤ 1e-4.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SymbolicTensor, LayersModel } from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import { createRng } from '@mri-robust/core';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { mbConvBlock, buildEfficientNetB0, IMAGENET_STDDEV_RGB } from '../src/nets/keras/efficientnet-b0.ts';
import { vggBlock } from '../src/nets/keras/vgg16.ts';
import { bottleneckBlock } from '../src/nets/keras/resnet50.ts';
import { inceptionModuleA } from '../src/nets/keras/inception-v3.ts';
import { LayerNamer } from '../src/nets/keras/layers.ts';
import { CAFFE_MEAN_BGR, imagesToTensor } from '../src/nets/preprocess.ts';
import * as R from './nets-reference.ts';

const TOL = 1e-4;

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

function randomMap(h: number, w: number, c: number, seed: number): R.Map3 {
  const rng = createRng(seed);
  return R.map3(
    h,
    w,
    c,
    Float32Array.from({ length: h * w * c }, () => rng.uniform(-1, 1)),
  );
}

/** Build input → block(input) as a model, fill it with seeded weights, run it on `x`. */
function runBlock(x: R.Map3, block: (input: SymbolicTensor) => SymbolicTensor, seed: number): { model: LayersModel; out: Float32Array; shape: number[] } {
  const input = tf.input({ shape: [x.h, x.w, x.c] });
  const model = tf.model({ inputs: input, outputs: block(input) });
  R.randomizeWeights(model, seed);
  const y = model.predict(tf.tensor4d(x.data, [1, x.h, x.w, x.c])) as Tensor;
  return { model, out: y.dataSync() as Float32Array, shape: y.shape.slice(1) };
}

/** conv (by layer name, bias if the layer has one) → BN (by name) for reference computations. */
function convBn(m: LayersModel, x: R.Map3, conv: string, bn: string, opts: { stride?: number; padding?: 'same' | 'valid'; eps?: number } = {}): R.Map3 {
  const w = R.weightsOf(m, conv);
  const l = m.getLayer(conv);
  const [kh, kw, , cout] = l.weights[0].shape as number[];
  const y = R.conv2d(x, w.kernel, kh, kw, cout, { stride: opts.stride, padding: opts.padding, bias: w.bias });
  const b = R.weightsOf(m, bn);
  return R.batchNorm(y, b.gamma ?? null, b.beta, b.moving_mean, b.moving_variance, opts.eps ?? 1e-3);
}

describe('Keras application blocks against plain loops', () => {
  it('EfficientNet MBConv, stride 1, with squeeze-excitation, drop-connect and skip', () => {
    const x = randomMap(6, 6, 8, 1);
    const {
      model: m,
      out,
      shape,
    } = runBlock(
      x,
      (inp) => mbConvBlock(inp, { filtersIn: 8, filtersOut: 8, kernel: 5, strides: 1, expandRatio: 6, seRatio: 0.25, dropRate: 0.1, name: 'block2b_' }),
      11,
    );
    expect(m.layers.map((l) => l.name)).toEqual(expect.arrayContaining(['block2b_se_excite', 'block2b_drop', 'block2b_add']));
    let e = R.swish(convBn(m, x, 'block2b_expand_conv', 'block2b_expand_bn', { padding: 'same' }));
    const dw = R.weightsOf(m, 'block2b_dwconv');
    const bn = R.weightsOf(m, 'block2b_bn');
    e = R.swish(R.batchNorm(R.depthwise(e, dw.depthwise_kernel, 5, { padding: 'same' }), bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance, 1e-3));
    // squeeze-excitation: GAP → 1×1 conv (swish) → 1×1 conv (sigmoid) → channel scale
    const s = R.map3(1, 1, e.c, R.gap(e));
    const red = R.weightsOf(m, 'block2b_se_reduce');
    const r = R.swish(R.conv2d(s, red.kernel, 1, 1, 2, { bias: red.bias }));
    const exp = R.weightsOf(m, 'block2b_se_expand');
    const g = R.mapValues(R.conv2d(r, exp.kernel, 1, 1, e.c, { bias: exp.bias }), R.sigmoidOf);
    const excited = R.mapValues(e, (v, c) => v * g.data[c]);
    const p = convBn(m, excited, 'block2b_project_conv', 'block2b_project_bn', { padding: 'same' });
    const ref = R.add(p, x);
    expect(shape).toEqual([6, 6, 8]);
    expect(R.maxAbsDiff(out, ref.data)).toBeLessThan(TOL);
  });

  it("EfficientNet MBConv, stride 2, with Keras's correct_pad and no skip", () => {
    const x = randomMap(6, 6, 8, 2);
    const {
      model: m,
      out,
      shape,
    } = runBlock(
      x,
      (inp) => mbConvBlock(inp, { filtersIn: 8, filtersOut: 12, kernel: 3, strides: 2, expandRatio: 6, seRatio: 0.25, dropRate: 0, name: 'block3a_' }),
      12,
    );
    let e = R.swish(convBn(m, x, 'block3a_expand_conv', 'block3a_expand_bn', { padding: 'same' }));
    e = R.zeroPad(e, 0, 1, 0, 1); // even input, kernel 3: ((0, 1), (0, 1))
    const dw = R.weightsOf(m, 'block3a_dwconv');
    const bn = R.weightsOf(m, 'block3a_bn');
    e = R.swish(
      R.batchNorm(R.depthwise(e, dw.depthwise_kernel, 3, { stride: 2, padding: 'valid' }), bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance, 1e-3),
    );
    const s = R.map3(1, 1, e.c, R.gap(e));
    const red = R.weightsOf(m, 'block3a_se_reduce');
    const r = R.swish(R.conv2d(s, red.kernel, 1, 1, 2, { bias: red.bias }));
    const exp = R.weightsOf(m, 'block3a_se_expand');
    const g = R.mapValues(R.conv2d(r, exp.kernel, 1, 1, e.c, { bias: exp.bias }), R.sigmoidOf);
    const ref = convBn(
      m,
      R.mapValues(e, (v, c) => v * g.data[c]),
      'block3a_project_conv',
      'block3a_project_bn',
      { padding: 'same' },
    );
    expect(shape).toEqual([3, 3, 12]);
    expect(R.maxAbsDiff(out, ref.data)).toBeLessThan(TOL);
  });

  it('VGG16 conv block: two 3×3 ReLU convs with bias and a 2×2 max pool', () => {
    const x = randomMap(8, 8, 3, 3);
    const { model: m, out, shape } = runBlock(x, (inp) => vggBlock(inp, 1, 8, 2), 13);
    let y = x;
    for (const name of ['block1_conv1', 'block1_conv2']) {
      const w = R.weightsOf(m, name);
      y = R.relu(R.conv2d(y, w.kernel, 3, 3, 8, { padding: 'same', bias: w.bias }));
    }
    const ref = R.pool(y, 'max', 2, 2, 'valid');
    expect(shape).toEqual([4, 4, 8]);
    expect(R.maxAbsDiff(out, ref.data)).toBeLessThan(TOL);
  });

  it('ResNet50 bottleneck with projection shortcut (stride 2)', () => {
    const x = randomMap(8, 8, 6, 4);
    const { model: m, out, shape } = runBlock(x, (inp) => bottleneckBlock(inp, { filters: 4, stride: 2, convShortcut: true, name: 'conv3_block1' }), 14);
    const eps = 1.001e-5;
    const shortcut = convBn(m, x, 'conv3_block1_0_conv', 'conv3_block1_0_bn', { stride: 2, eps });
    let y = R.relu(convBn(m, x, 'conv3_block1_1_conv', 'conv3_block1_1_bn', { stride: 2, eps }));
    y = R.relu(convBn(m, y, 'conv3_block1_2_conv', 'conv3_block1_2_bn', { padding: 'same', eps }));
    y = convBn(m, y, 'conv3_block1_3_conv', 'conv3_block1_3_bn', { eps });
    const ref = R.relu(R.add(shortcut, y));
    expect(shape).toEqual([4, 4, 16]);
    expect(R.maxAbsDiff(out, ref.data)).toBeLessThan(TOL);
  });

  it('InceptionV3 module (mixed0): four branches, BN without γ, average pool excluding padding', () => {
    const x = randomMap(7, 7, 16, 5);
    const { model: m, out, shape } = runBlock(x, (inp) => inceptionModuleA(new LayerNamer(), inp, 32, 'mixed0'), 15);
    const cbr = (v: R.Map3, i: number) =>
      R.relu(convBn(m, v, i ? `conv2d_${i}` : 'conv2d', i ? `batch_normalization_${i}` : 'batch_normalization', { padding: 'same' }));
    const b1 = cbr(x, 0);
    const b5 = cbr(cbr(x, 1), 2);
    const b3 = cbr(cbr(cbr(x, 3), 4), 5);
    const bp = cbr(R.pool(x, 'avg', 3, 1, 'same'), 6);
    const ref = R.concat([b1, b5, b3, bp]);
    expect(m.getLayer('batch_normalization').weights.map((w) => w.originalName.split('/')[1])).toEqual(['beta', 'moving_mean', 'moving_variance']);
    expect(shape).toEqual([7, 7, 64 + 64 + 96 + 32]);
    expect(R.maxAbsDiff(out, ref.data)).toBeLessThan(TOL);
  });

  it("EfficientNet's own input layers: rescaling, normalization (file variance = stddev), rescaling_1 give (x/255 − mean)/std", () => {
    const net = buildEfficientNetB0({ inputSize: 32 });
    const stem = tf.model({ inputs: net.inputs, outputs: net.getLayer('rescaling_1').output as SymbolicTensor });
    const mean = [0.485, 0.456, 0.406];
    // Keras's ImageNet file stores the RGB standard deviations as the layer's variance.
    net.getLayer('normalization').setWeights([tf.tensor1d(mean), tf.tensor1d(IMAGENET_STDDEV_RGB), tf.scalar(0)]);
    const rng = createRng(6);
    const x = Float32Array.from({ length: 32 * 32 * 3 }, () => Math.round(rng.uniform(0, 255)));
    const y = (stem.predict(tf.tensor4d(x, [1, 32, 32, 3])) as Tensor).dataSync();
    const ref = x.map((v, i) => (v / 255 - mean[i % 3]) / IMAGENET_STDDEV_RGB[i % 3]);
    expect(R.maxAbsDiff(y, ref)).toBeLessThan(TOL);
  });

  it('pixel scalings: caffe (RGB → BGR, minus the mean), raw, [-1, 1]', () => {
    const sq = Uint8Array.from([10, 20, 30, 200, 100, 0, 1, 2, 3, 4, 5, 6]); // 2×2 RGB
    const sqRun = (scaling?: 'caffe_bgr_mean' | 'raw_0_255' | 'scale_-1_1') =>
      Array.from(imagesToTensor(sq, 1, { height: 2, width: 2, channels: 3 }, { inputSize: 2, inputChannels: 3, scaling }).dataSync());
    const caffe = sqRun('caffe_bgr_mean');
    const [mb, mg, mr] = CAFFE_MEAN_BGR;
    expect(R.maxAbsDiff(caffe.slice(0, 6), [30 - mb, 20 - mg, 10 - mr, 0 - mb, 100 - mg, 200 - mr])).toBeLessThan(1e-4);
    expect(sqRun('raw_0_255')).toEqual(Array.from(sq));
    expect(
      R.maxAbsDiff(
        sqRun(),
        Array.from(sq, (v) => v / 127.5 - 1),
      ),
    ).toBeLessThan(1e-6);
  });
});
