/**
 * The fused convolutions of src/kernels/fused-conv.ts (bias + relu / relu6 in the wasm kernel,
 * with their own gradient) against the unfused ops on the cpu backend (max |Δ| ≤ 1e-4, forward
 * and every gradient), and the trunk plan of src/train/trunk-plan.ts on MobileNetV2-0.35's real
 * top above block_12_add: which layers it fuses, and the same forward pass and weight gradients
 * as the unfused model on cpu, on real scans; likewise for the full-mode trunks (the whole
 * MobileNetV2 with its batch-norm layers, the `cnn` with batch norm in training mode).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRng, sharedDir } from '@mri-robust/core';
import { prepareWasm } from '../src/backend/select.ts';
import { type FusedActivation, fusedConv, fusedConvAvailable } from '../src/kernels/fused-conv.ts';
import { buildCnn } from '../src/nets/cnn.ts';
import { loadMobileNetV2, splitAtLayer, trainableBackbone } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { buildClassifier, crossEntropy, forwardTrain } from '../src/train/index.ts';
import { planTrunk } from '../src/train/trunk-plan.ts';

type Shape4 = [number, number, number, number];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function randomArray(n: number, seed: string, lo = -1, hi = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

interface Case {
  depthwise: boolean;
  x: Shape4;
  w: Shape4;
  stride: number;
  /** 'same' | 'valid', or [top, bottom, left, right] explicit zero padding */
  pad: 'same' | 'valid' | [number, number, number, number];
  activation: FusedActivation;
}

/** Output and gradients (x, filter, bias) of sum(act(conv(x, w) + b) · r): fused on wasm, unfused ops elsewhere. */
function convCase(c: Case, fused: boolean) {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(size(c.x), `x${c.x}`, -1, 3), c.x);
    const w = tf.tensor4d(randomArray(size(c.w), `w${c.w}`, -0.6, 0.9), c.w);
    const b = tf.tensor1d(randomArray(c.depthwise ? c.w[2] : c.w[3], `b${c.w}`, -0.5, 2));
    const explicit = Array.isArray(c.pad) ? c.pad : null;
    const f = (xa: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor): tf.Tensor => {
      if (fused) {
        const pad = explicit
          ? ([
              [0, 0],
              [explicit[0], explicit[1]],
              [explicit[2], explicit[3]],
              [0, 0],
            ] as tf.backend_util.ExplicitPadding)
          : (c.pad as 'same' | 'valid');
        return fusedConv(xa, wa, ba, { strides: [c.stride, c.stride], pad, activation: c.activation }, c.depthwise);
      }
      // As the layers run them: zero padding layer, conv, bias add, relu, clipByValue.
      const xp = explicit
        ? tf.pad(xa, [
            [0, 0],
            [explicit[0], explicit[1]],
            [explicit[2], explicit[3]],
            [0, 0],
          ])
        : xa;
      const pad = explicit ? 'valid' : (c.pad as 'same' | 'valid');
      const z = c.depthwise
        ? tf.depthwiseConv2d(xp as tf.Tensor4D, wa as tf.Tensor4D, c.stride, pad)
        : tf.conv2d(xp as tf.Tensor4D, wa as tf.Tensor4D, c.stride, pad);
      const zb = tf.add(z, ba);
      if (c.activation === 'linear') return zb;
      const r = tf.relu(zb);
      return c.activation === 'relu6' ? tf.clipByValue(r, 0, 6) : r;
    };
    const y = f(x, w, b);
    const r = tf.tensor(randomArray(size(y.shape), `r${c.x}`), y.shape);
    const [dx, dw, db] = tf.grads((xa: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor) => tf.sum(tf.mul(f(xa, wa, ba), r)))([x, w, b]);
    return { y: y.dataSync(), shape: y.shape, dx: dx.dataSync(), dw: dw.dataSync(), db: db.dataSync(), clipped: y.dataSync().filter((v) => v === 6).length };
  });
}

describe('fused convolutions and the trunk plan on wasm', () => {
  beforeAll(async () => {
    await prepareWasm();
  });

  const CASES: Case[] = [
    { depthwise: false, x: [2, 14, 14, 32], w: [1, 1, 32, 192], stride: 1, pad: 'same', activation: 'relu6' },
    { depthwise: false, x: [2, 7, 7, 56], w: [1, 1, 56, 24], stride: 1, pad: 'same', activation: 'linear' },
    { depthwise: false, x: [3, 9, 8, 5], w: [3, 3, 5, 7], stride: 2, pad: 'same', activation: 'relu' },
    { depthwise: true, x: [2, 14, 14, 40], w: [3, 3, 40, 1], stride: 2, pad: [0, 1, 0, 1], activation: 'relu6' },
    { depthwise: true, x: [2, 7, 7, 21], w: [3, 3, 21, 1], stride: 1, pad: 'same', activation: 'relu6' },
    { depthwise: true, x: [1, 6, 5, 7], w: [3, 3, 7, 1], stride: 1, pad: 'valid', activation: 'linear' },
  ];
  for (const c of CASES) {
    const name = `${c.depthwise ? 'depthwise' : 'conv'} x[${c.x}] w[${c.w}] stride ${c.stride} pad ${c.pad} ${c.activation}`;
    it(`${name}: output and the gradients of x, filter and bias match the unfused ops on cpu`, async () => {
      expect(await tf.setBackend('cpu')).toBe(true);
      const ref = convCase(c, false);
      expect(await tf.setBackend('wasm')).toBe(true);
      expect(fusedConvAvailable()).toBe(true);
      const got = convCase(c, true);
      expect(got.shape).toEqual(ref.shape);
      expect(maxAbsDiff(got.y, ref.y)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(got.dw, ref.dw)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(got.db, ref.db)).toBeLessThanOrEqual(1e-4);
      if (c.activation === 'relu6') expect(ref.clipped).toBeGreaterThan(0); // the upper bound is exercised
    });
  }

  it('the real top above block_12_add on real scans: fuses every ReLU6 and the stride-2 padding; forward and weight gradients match cpu', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const root = path.join(sharedDir(), 'datasets', 'nickparvar', 'Training');
    const classes = ['glioma', 'meningioma', 'notumor'];
    const pixels = new Uint8Array(3 * 224 * 224);
    for (let i = 0; i < 3; i++) {
      const dir = path.join(root, classes[i]);
      const file = path.join(dir, readdirSync(dir).sort()[1]);
      pixels.set(await sharp(file).greyscale().resize(224, 224, { fit: 'fill' }).raw().toBuffer(), i * 224 * 224);
    }
    const b = await loadMobileNetV2(path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224'), { inputSize: 224 });
    const split = splitAtLayer(b.model, 'block_12_add');
    const img = imagesToTensor(pixels, 3, { height: 224, width: 224, channels: 1 }, { inputSize: 224, inputChannels: 3 });
    const act = split.bottom.predict(img) as tf.Tensor;
    const actValues = act.dataSync().slice();
    tf.dispose([img, act]);
    const trunk = split.buildTop();
    const plan = planTrunk(trunk);
    expect(plan?.fused.sort()).toEqual(
      [
        'block_13_expand_relu',
        'block_13_pad',
        'block_13_depthwise_relu',
        ...[14, 15, 16].flatMap((k) => [`block_${k}_expand_relu`, `block_${k}_depthwise_relu`]),
        'out_relu',
      ].sort(),
    );
    expect(plan?.steps.filter((s) => s.kind === 'conv')).toHaveLength(13); // 9 convs + 4 depthwise
    const clf = buildClassifier({ inputShape: split.cutShape, numClasses: 4, dropout: 0, seed: 5, trunk });
    const vars = clf.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () =>
      tf.tidy(() => {
        const x = tf.tensor(actValues, [3, ...split.cutShape]);
        const y = tf.tensor1d([0, 1, 2], 'int32');
        let probs: Float32Array = new Float32Array();
        const { grads } = tf.variableGrads(() => {
          const p = forwardTrain(clf, x, 1, false);
          probs = p.dataSync() as Float32Array;
          return crossEntropy(p, y, 4);
        }, vars);
        return { probs, grads: vars.map((v) => grads[v.name].dataSync().slice()) };
      });
    const ref = await tf.setBackend('cpu').then(step);
    expect(await tf.setBackend('wasm')).toBe(true);
    const got = step();
    expect(got.grads).toHaveLength(28); // 9 convs and 4 depthwise convs (kernel + folded bias) + dense
    expect(maxAbsDiff(got.probs, ref.probs)).toBeLessThanOrEqual(1e-5);
    let worst = 0;
    for (let i = 0; i < ref.grads.length; i++) worst = Math.max(worst, maxAbsDiff(got.grads[i], ref.grads[i]));
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(Math.max(...ref.grads.map(maxAbs))).toBeGreaterThan(1e-3);
    clf.model.dispose();
    b.model.dispose();
  }, 300_000);

  /** Probabilities and every weight gradient of one training step of `trunk` + head on `backend`. */
  async function fullStep(backend: string, trunk: import('@tensorflow/tfjs-layers').LayersModel, x: Float32Array, shape: number[], training: boolean) {
    expect(await tf.setBackend(backend)).toBe(true);
    const clf = buildClassifier({ inputShape: shape.slice(1), numClasses: 4, dropout: 0, seed: 7, trunk });
    const vars = clf.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const out = tf.tidy(() => {
      let probs: Float32Array = new Float32Array();
      const { grads } = tf.variableGrads(() => {
        const p = forwardTrain(clf, tf.tensor(x, shape), 2, training);
        probs = p.dataSync() as Float32Array;
        return crossEntropy(p, tf.tensor1d([0, 1, 2, 3].slice(0, shape[0]), 'int32'), 4);
      }, vars);
      return { probs, grads: vars.map((v) => grads[v.name].dataSync().slice()) };
    });
    return out;
  }

  it('full mode: the whole MobileNetV2 (batch norm layers, convolutions without bias, folded stride-2 pads) and the cnn (batch norm training) match cpu', async () => {
    await tf.setBackend('wasm');
    const mobilenet = trainableBackbone((await loadMobileNetV2(path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224'), { inputSize: 64 })).model);
    const plan = planTrunk(mobilenet);
    // Every depthwise stride-2 convolution reads its input unpadded; no conv is followed by a ReLU.
    expect(plan?.fused.filter((n) => n.endsWith('_pad')).length).toBeGreaterThanOrEqual(4);
    const cnn = buildCnn({ inputShape: [32, 32, 1], widths: [8, 16], seed: 3 });
    const cases = [
      { trunk: mobilenet, shape: [2, 64, 64, 3], training: false },
      { trunk: cnn, shape: [3, 32, 32, 1], training: true },
    ];
    for (const c of cases) {
      const x = randomArray(size(c.shape), `full${c.shape}`, -1, 1);
      const ref = await fullStep('cpu', c.trunk, x, c.shape, c.training);
      const got = await fullStep('wasm', c.trunk, x, c.shape, c.training);
      expect(maxAbsDiff(got.probs, ref.probs)).toBeLessThanOrEqual(1e-4);
      let worst = 0;
      for (let i = 0; i < ref.grads.length; i++) worst = Math.max(worst, maxAbsDiff(got.grads[i], ref.grads[i]));
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(Math.max(...ref.grads.map(maxAbs))).toBeGreaterThan(1e-3);
    }
    mobilenet.dispose();
    cnn.dispose();
  }, 300_000);

  it('MRI_WASM_KERNELS=unfused registers the SIMD kernels without the fused ones; a bad value is a one-line error naming it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wasm-kernels-env-'));
    try {
      const script = path.join(dir, 'probe.mts');
      const src = (f: string) => JSON.stringify(fileURLToPath(new URL(`../src/backend/${f}`, import.meta.url)));
      writeFileSync(
        script,
        [
          `const { tf } = await import(${src('tf.ts')});`,
          `const { selectBackend } = await import(${src('select.ts')});`,
          `await selectBackend('wasm');`,
          `console.log(JSON.stringify(['MriConv2D', 'MriAdam', 'MriReluGrad'].map((k) => tf.getKernel(k, 'wasm') != null)));`,
        ].join('\n'),
      );
      const run = (value: string) =>
        spawnSync(process.execPath, ['--import', 'tsx', script], {
          cwd: fileURLToPath(new URL('..', import.meta.url)),
          env: { ...process.env, MRI_BACKEND: '', MRI_WASM_KERNELS: value },
          encoding: 'utf8',
        });
      const lastLine = (out: string) => out.trim().split('\n').at(-1);
      expect(lastLine(run('').stdout)).toBe('[true,true,true]');
      expect(lastLine(run('unfused').stdout)).toBe('[false,false,true]');
      expect(lastLine(run('composite').stdout)).toBe('[false,false,false]');
      const bad = run('fastest');
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('MRI_WASM_KERNELS=fastest: use fast (or leave it unset), unfused or composite');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
