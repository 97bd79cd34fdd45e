/**
 * The project's wasm backprop kernels against the cpu backend's native gradients: the same
 * conv2d / depthwiseConv2d losses differentiated on both backends, max abs diff ≤ 1e-4.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { prepareWasm } from '../src/backend/select.ts';
import { WASM_TRAINING_KERNELS } from '../src/kernels/wasm-training.ts';
import { createRng } from '@mri-robust/core';

type Shape4 = [number, number, number, number];

function randomArray(n: number, seed: string): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
}

interface Grads {
  dx: Float32Array;
  dw: Float32Array;
}

/** Gradients of sum(conv(x, w) * r) w.r.t. x and w on `backend` (r fixed random weights). */
async function gradsOn(
  backend: string,
  kind: 'conv' | 'depthwise',
  xShape: Shape4,
  wShape: Shape4,
  stride: number,
  pad: 'same' | 'valid',
  seed: string,
): Promise<Grads> {
  expect(await tf.setBackend(backend)).toBe(true);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(size(xShape), seed + 'x'), xShape);
    const w = tf.tensor4d(randomArray(size(wShape), seed + 'w'), wShape);
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) => (kind === 'conv' ? tf.conv2d(a, b, stride, pad) : tf.depthwiseConv2d(a, b, stride, pad));
    const outShape = f(x, w).shape;
    const r = tf.tensor(randomArray(size(outShape), seed + 'r'), outShape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)));
    const [dx, dw] = g([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const CASES: { kind: 'conv' | 'depthwise'; x: Shape4; w: Shape4 }[] = [
  { kind: 'conv', x: [2, 9, 9, 3], w: [3, 3, 3, 4] },
  { kind: 'conv', x: [3, 8, 7, 5], w: [3, 3, 5, 2] },
  { kind: 'conv', x: [2, 6, 6, 4], w: [1, 1, 4, 6] },
  { kind: 'conv', x: [1, 10, 10, 2], w: [5, 5, 2, 3] },
  { kind: 'depthwise', x: [2, 9, 9, 3], w: [3, 3, 3, 1] },
  { kind: 'depthwise', x: [3, 8, 7, 4], w: [3, 3, 4, 1] },
  { kind: 'depthwise', x: [2, 8, 8, 3], w: [3, 3, 3, 2] },
  { kind: 'depthwise', x: [1, 11, 10, 2], w: [5, 5, 2, 1] },
];

describe('wasm training kernels vs cpu gradients', () => {
  beforeAll(async () => {
    await prepareWasm();
  });

  it('registers every kernel for wasm', () => {
    for (const k of WASM_TRAINING_KERNELS) expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
  });

  for (const c of CASES) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        it(`${c.kind} x[${c.x}] w[${c.w}] stride ${stride} ${pad}`, async () => {
          const seed = `${c.kind}${c.x}${c.w}${stride}${pad}`;
          const ref = await gradsOn('cpu', c.kind, c.x, c.w, stride, pad, seed);
          const got = await gradsOn('wasm', c.kind, c.x, c.w, stride, pad, seed);
          expect(maxAbsDiff(got.dw, ref.dw)).toBeLessThanOrEqual(1e-4);
          expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThanOrEqual(1e-4);
          // The check can fail: the gradients are not trivially zero.
          expect(Math.max(...ref.dw.map(Math.abs))).toBeGreaterThan(1e-3);
        });
      }
    }
  }

  it('Tile (replaced on wasm by a broadcast) matches cpu', async () => {
    const cases: [number[], number[]][] = [
      [
        [1, 1, 1, 5],
        [2, 3, 4, 1],
      ],
      [
        [2, 3],
        [3, 2],
      ],
      [
        [2, 1, 3],
        [1, 4, 2],
      ],
      [[4], [3]],
    ];
    for (const [shape, reps] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = randomArray(n, `tile${shape}`);
      const run = async (b: string, dtype: 'float32' | 'int32') => {
        expect(await tf.setBackend(b)).toBe(true);
        const v = dtype === 'float32' ? values : Int32Array.from(values, (x) => Math.round(x * 100));
        return tf.tidy(() => Array.from(tf.tile(tf.tensor(v, shape, dtype), reps).dataSync()));
      };
      for (const dtype of ['float32', 'int32'] as const) {
        const ref = await run('cpu', dtype);
        expect(ref.length).toBe(n * reps.reduce((a, b) => a * b, 1));
        expect(await run('wasm', dtype)).toEqual(ref);
      }
    }
  });

  it('refuses dilation > 1 with a clear message', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = tf.ones([1, 6, 6, 2]) as tf.Tensor4D;
    const dy = tf.ones([1, 6, 6, 2]) as tf.Tensor4D;
    expect(() =>
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, {
        strides: 1,
        pad: 'same',
        dilations: 2,
        filterShape: [3, 3, 2, 1],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dilations 2x2 not supported/);
  });
});
