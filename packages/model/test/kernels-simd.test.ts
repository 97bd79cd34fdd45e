/**
 * The project's WebAssembly SIMD kernels (src/kernels/simd) against the cpu backend: the fused
 * Relu / ClipByValue gradients, the column Sum/Mean, the max-pool gradient, the zero-copy Identity,
 * the conv and depthwise gradients at the shapes of MobileNetV2-0.35's top blocks and of the `cnn`, and a whole training step's gradients
 * of the top above block_9_add with the real weights on real images (max |Δ| ≤ 1e-4). Also: the
 * committed .wasm is what simd/build.sh builds from kernels.c (where clang is installed), and it
 * has no memory of its own (it runs on the wasm backend's heap).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRng, sharedDir } from '@mri-robust/core';
import { prepareWasm } from '../src/backend/select.ts';
import { SIMD_WASM_FILE } from '../src/kernels/simd.ts';
import { middleSplit } from '../src/kernels/wasm-speed.ts';
import { loadMobileNetV2, splitAtLayer } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { buildClassifier, crossEntropy, forwardTrain } from '../src/train/index.ts';

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

async function on<T>(backend: string, f: () => T): Promise<T> {
  expect(await tf.setBackend(backend)).toBe(true);
  return f();
}

/** Gradients of sum(conv(x, w) * r) w.r.t. x and w. */
function convGrads(kind: 'conv' | 'depthwise', xShape: Shape4, wShape: Shape4, stride: number, pad: 'same' | 'valid', seed: string) {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(size(xShape), `${seed}x`), xShape);
    const w = tf.tensor4d(randomArray(size(wShape), `${seed}w`, -0.3, 0.3), wShape);
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) => (kind === 'conv' ? tf.conv2d(a, b, stride, pad) : tf.depthwiseConv2d(a, b, stride, pad));
    const outShape = f(x, w).shape;
    const r = tf.tensor(randomArray(size(outShape), `${seed}r`), outShape);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
    return { dx: dx.dataSync(), dw: dw.dataSync() };
  });
}

describe('wasm SIMD training kernels vs cpu', () => {
  beforeAll(async () => {
    await prepareWasm();
  });

  it('relu and relu6 (relu + clipByValue) gradients match, values on the bounds included', async () => {
    const n = 4 * 7 * 7 * 37;
    const v = randomArray(n, 'relu', -3, 9);
    for (let i = 0; i < 40; i++) v[i * 17] = [0, 6, -0, 6.000001][i % 4];
    const dyv = randomArray(n, 'relu-dy');
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(v, [4, 7, 7, 37]);
        const dy = tf.tensor4d(dyv, [4, 7, 7, 37]);
        const g1 = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy)))(x);
        const g2 = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(tf.relu(a), 0, 6), dy)))(x);
        const g3 = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(a, -0.5, 0.25), dy)))(x);
        return [g1, g2, g3].map((g) => Array.from(g.dataSync()));
      });
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    for (let i = 0; i < 3; i++) expect(maxAbsDiff(got[i], ref[i])).toBe(0); // exact (up to the sign of 0)
    expect(ref[1].filter((g) => g === 0).length).toBeGreaterThan(n / 4); // the masks cut something
  });

  it('Sum and Mean over the leading or middle axes (bias gradients, batch-norm moments, global average pooling) match; other reductions still work', async () => {
    const shape = [3, 5, 6, 21];
    const v = randomArray(size(shape), 'sum');
    expect(middleSplit(shape, [0, 1, 2])).toEqual({ axes: [0, 1, 2], outer: 1, reduced: 90, inner: 21 });
    expect(middleSplit(shape, [2, 0, 1])?.axes).toEqual([0, 1, 2]);
    expect(middleSplit(shape, [-4, -3, -2])?.axes).toEqual([0, 1, 2]);
    expect(middleSplit(shape, [1, 2])).toEqual({ axes: [1, 2], outer: 3, reduced: 30, inner: 21 });
    expect(middleSplit(shape, [1, 2, 3])).toBeNull();
    expect(middleSplit(shape, [0, 2])).toBeNull();
    expect(middleSplit([7], 0)).toBeNull();
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(v, shape);
        return [
          tf.sum(x, [0, 1, 2]),
          tf.sum(x, [0, 1, 2], true),
          tf.sum(tf.reshape(x, [90, 21]), 0),
          tf.sum(x, [1, 2]),
          tf.sum(x),
          tf.sum(x, -1),
          tf.mean(x, [0, 1, 2]),
          tf.mean(x, [0, 1, 2], true),
          tf.mean(x, [0, 2]),
          tf.mean(x),
          tf.mean(x, [1, 2]),
          tf.mean(x, [1, 2], true),
          tf.mean(x, 2),
        ].map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) }));
      });
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    for (let i = 0; i < ref.length; i++) {
      expect(got[i].shape).toEqual(ref[i].shape);
      expect(maxAbsDiff(got[i].values, ref[i].values)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('the gradient of a mean over the middle or leading axes (global average pooling) matches exactly', async () => {
    const shape: Shape4 = [3, 5, 6, 21];
    const v = randomArray(size(shape), 'mean-grad');
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(v, shape);
        return [[1, 2], [0, 1, 2], [2]].map((axes, i) => {
          const r = tf.tensor(randomArray(size(tf.mean(x, axes).shape), `mean-grad-${i}`), tf.mean(x, axes).shape);
          return Array.from(
            tf
              .grad((a: tf.Tensor) => tf.sum(tf.mul(tf.mean(a, axes), r)))(x)
              .dataSync(),
          );
        });
      });
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    for (let i = 0; i < ref.length; i++) expect(maxAbsDiff(got[i], ref[i])).toBe(0);
    expect(maxAbs(ref[0])).toBeGreaterThan(1e-3);
  });

  it('max-pool gradients match, ties (all-zero ReLU windows) and padding included', async () => {
    const shape: Shape4 = [2, 9, 8, 5];
    const v = randomArray(size(shape), 'pool', -1, 1).map((a) => Math.max(0, a)); // many zero ties
    const dyShapes: [number, number, 'same' | 'valid'][] = [
      [2, 2, 'valid'],
      [3, 2, 'same'],
      [2, 1, 'same'],
    ];
    const run = () =>
      dyShapes.map(([f, s, pad]) =>
        tf.tidy(() => {
          const x = tf.tensor4d(v, shape);
          const outShape = tf.maxPool(x, f, s, pad).shape;
          const r = tf.tensor(randomArray(size(outShape), `pool-r${f}${s}${pad}`), outShape);
          return Array.from(
            tf
              .grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, f, s, pad), r)))(x)
              .dataSync(),
          );
        }),
      );
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    for (let i = 0; i < ref.length; i++) expect(maxAbsDiff(got[i], ref[i])).toBeLessThanOrEqual(1e-6);
  });

  it('batch-norm gradients match, with frozen and with batch statistics (a cnn block end to end)', async () => {
    for (const shape of [
      [3, 6, 5, 20],
      [2, 4, 4, 7],
    ] as Shape4[]) {
      const c = shape[3];
      const v = randomArray(size(shape), `bn${shape}`, -2, 3);
      const r = randomArray(size(shape), `bn-r${shape}`);
      const stats = [randomArray(c, 'bn-mean'), randomArray(c, 'bn-var', 0.2, 2), randomArray(c, 'bn-scale', 0.5, 1.5), randomArray(c, 'bn-offset')];
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(v, shape);
          const rr = tf.tensor4d(r, shape);
          const [mean, variance, scale, offset] = stats.map((a) => tf.tensor1d(a));
          const frozen = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, mean, variance, b, g, 1e-3), rr)))([
            x,
            scale,
            offset,
          ]);
          const batch = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
            const m = tf.moments(a, [0, 1, 2]);
            return tf.sum(tf.mul(tf.relu(tf.batchNorm(a, m.mean, m.variance, b, g, 1e-3)), rr));
          })([x, scale, offset]);
          return [...frozen, ...batch].map((t) => Array.from(t.dataSync()));
        });
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      const tensors = tf.memory().numTensors;
      run();
      expect(tf.memory().numTensors).toBe(tensors); // nothing leaks from the fused gradient
      for (let i = 0; i < ref.length; i++) expect(maxAbsDiff(got[i], ref[i]), `shape ${shape} gradient ${i}`).toBeLessThanOrEqual(1e-4);
      expect(maxAbs(ref[3])).toBeGreaterThan(1e-2);
    }
  });

  it('Identity shares data without changing values; disposing either side leaves the other intact', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const before = tf.backend().numDataIds();
    const y = tf.clone(x);
    expect(tf.backend().numDataIds()).toBe(before); // no copy: one buffer for both
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    const v = tf.variable(y);
    v.assign(tf.tensor([5, 6, 7, 8], [2, 2]));
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
    expect(Array.from(v.dataSync())).toEqual([5, 6, 7, 8]);
    v.dispose();
  });

  // MobileNetV2-0.35 above block_9_add, batch 2: expand 1×1, depthwise 3×3 (stride 1 'same', the
  // stride-2 block 13 as 'valid' on its zero-padded 15×15 input), project 1×1, Conv_1 (112 → 1280).
  const REAL: { kind: 'conv' | 'depthwise'; x: Shape4; w: Shape4; stride: number; pad: 'same' | 'valid' }[] = [
    { kind: 'conv', x: [2, 14, 14, 24], w: [1, 1, 24, 144], stride: 1, pad: 'same' },
    { kind: 'depthwise', x: [2, 14, 14, 144], w: [3, 3, 144, 1], stride: 1, pad: 'same' },
    { kind: 'conv', x: [2, 14, 14, 192], w: [1, 1, 192, 32], stride: 1, pad: 'same' },
    { kind: 'depthwise', x: [2, 15, 15, 192], w: [3, 3, 192, 1], stride: 2, pad: 'valid' },
    { kind: 'conv', x: [2, 7, 7, 336], w: [1, 1, 336, 112], stride: 1, pad: 'same' },
    { kind: 'conv', x: [1, 7, 7, 112], w: [1, 1, 112, 1280], stride: 1, pad: 'same' },
    // the `cnn` (3×3, batch norm, from scratch) and MobileNetV2's stem (3×3 stride 2, 3 channels)
    { kind: 'conv', x: [2, 16, 16, 16], w: [3, 3, 16, 32], stride: 1, pad: 'same' },
    { kind: 'conv', x: [1, 24, 24, 3], w: [3, 3, 3, 16], stride: 2, pad: 'same' },
    // odd sizes: the kernels' vector remainders
    { kind: 'conv', x: [3, 5, 3, 13], w: [1, 1, 13, 11], stride: 1, pad: 'valid' },
    { kind: 'depthwise', x: [3, 6, 5, 7], w: [3, 3, 7, 1], stride: 2, pad: 'same' },
  ];
  for (const c of REAL) {
    it(`${c.kind} x[${c.x}] w[${c.w}] stride ${c.stride} ${c.pad}`, async () => {
      const seed = `${c.kind}${c.x}${c.w}`;
      const ref = await on('cpu', () => convGrads(c.kind, c.x, c.w, c.stride, c.pad, seed));
      const got = await on('wasm', () => convGrads(c.kind, c.x, c.w, c.stride, c.pad, seed));
      expect(maxAbsDiff(got.dw, ref.dw)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThanOrEqual(1e-4);
      expect(maxAbs(ref.dw)).toBeGreaterThan(1e-2);
    });
  }

  it('a training step of the real top above block_9_add on real images: every weight gradient matches cpu', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const root = path.join(sharedDir(), 'datasets', 'nickparvar', 'Training');
    const classes = ['glioma', 'meningioma'];
    const pixels = new Uint8Array(2 * 224 * 224);
    for (let i = 0; i < 2; i++) {
      const dir = path.join(root, classes[i]);
      const file = path.join(dir, readdirSync(dir).sort()[0]);
      pixels.set(await sharp(file).greyscale().resize(224, 224, { fit: 'fill' }).raw().toBuffer(), i * 224 * 224);
    }
    const b = await loadMobileNetV2(path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224'), { inputSize: 224 });
    const split = splitAtLayer(b.model, 'block_9_add');
    const img = imagesToTensor(pixels, 2, { height: 224, width: 224, channels: 1 }, { inputSize: 224, inputChannels: 3 });
    const act = split.bottom.predict(img) as tf.Tensor;
    const actValues = act.dataSync().slice();
    tf.dispose([img, act]);
    const clf = buildClassifier({ inputShape: split.cutShape, numClasses: 4, dropout: 0, seed: 3, trunk: split.buildTop() });
    const vars = clf.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () =>
      tf.tidy(() => {
        const x = tf.tensor(actValues, [2, ...split.cutShape]);
        const y = tf.tensor1d([0, 1], 'int32');
        const { grads } = tf.variableGrads(() => crossEntropy(forwardTrain(clf, x, 1, false), y, 4), vars);
        return vars.map((v) => ({ name: v.name, values: grads[v.name].dataSync().slice() }));
      });
    const ref = await on('cpu', step);
    const got = await on('wasm', step);
    expect(got.length).toBe(46); // 15 convs and 7 depthwise convs (kernel + folded bias) + dense
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, maxAbsDiff(got[i].values, ref[i].values));
    expect(worst).toBeLessThanOrEqual(1e-4);
    const largest = Math.max(...ref.map((g) => maxAbs(g.values)));
    expect(largest).toBeGreaterThan(1e-3);
    clf.model.dispose();
    b.model.dispose();
  }, 300_000);

  it('the committed kernels.wasm uses no memory of its own and imports only the backend heap', () => {
    const bytes = readFileSync(SIMD_WASM_FILE);
    const mod = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(mod)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const sections: number[] = [];
    for (let i = 8; i < bytes.length; ) {
      sections.push(bytes[i++]);
      let len = 0;
      let shift = 0;
      let b: number;
      do {
        b = bytes[i++];
        len |= (b & 127) << shift;
        shift += 7;
      } while (b & 128);
      i += len;
    }
    expect(sections).not.toContain(11); // no data segment written into the shared heap
    expect(sections).not.toContain(5); // no memory of its own
  });

  const clang = (() => {
    try {
      return execFileSync('clang', ['--version']).toString().split('\n')[0];
    } catch {
      return null;
    }
  })();
  it.skipIf(!clang)('simd/build.sh rebuilds the committed kernels.wasm byte for byte (Debian clang 14)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-build-'));
    try {
      const script = fileURLToPath(new URL('../src/kernels/simd/build.sh', import.meta.url));
      const out = path.join(dir, 'kernels.wasm');
      execFileSync('sh', [script, out]);
      const rebuilt = readFileSync(out);
      if (!/clang version 14\./.test(clang ?? '')) {
        // Another clang emits other (valid) bytes: check it builds a module with the same exports.
        expect(WebAssembly.Module.exports(new WebAssembly.Module(rebuilt))).toEqual(
          WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(SIMD_WASM_FILE))),
        );
        return;
      }
      expect(rebuilt.equals(readFileSync(SIMD_WASM_FILE))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
