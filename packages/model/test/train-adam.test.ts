/**
 * The fused Adam of src/train/adam.ts (one SIMD kernel per variable on wasm) against tfjs-core's
 * `tf.train.adam`: the same weights and moments bit for bit on wasm after many steps (sizes that
 * are and are not multiples of the SIMD width, a learning-rate change as reduce-LR makes), the
 * same as the cpu backend's Adam, and no tensors left behind.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRng } from '@mri-robust/core';
import { prepareWasm } from '../src/backend/select.ts';
import { kernelTimer } from '../src/kernels/timer.ts';
import { adam } from '../src/train/adam.ts';

const SHAPES = [[3, 3, 5, 7], [13], [1, 1, 32, 56], [2]];
const STEPS = 30;

/** Gradients of every step, drawn once (so every optimizer sees the same). */
const gradients = (() => {
  const rng = createRng('adam-grads');
  return Array.from({ length: STEPS }, (_, s) =>
    SHAPES.map((shape) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * (s % 7 === 3 ? 1e-3 : 1))),
  );
})();

let run = 0;
/** Weights and optimizer state (m, v of each variable) after STEPS steps of `make()`'s optimizer on `backend`. */
async function train(
  backend: string,
  make: (lr: number) => tf.Optimizer,
): Promise<{ initial: Float32Array[]; weights: Float32Array[]; state: Float32Array[]; leaked: number }> {
  expect(await tf.setBackend(backend)).toBe(true);
  const tag = `adam${run++}`;
  const rng = createRng('adam-init');
  const vars = SHAPES.map((shape, i) =>
    tf.variable(
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
        shape,
      ),
      true,
      `${tag}_${i}`,
    ),
  );
  const initial = vars.map((v) => (v.dataSync() as Float32Array).slice());
  const opt = make(3e-3);
  const before = tf.memory().numTensors;
  let after = before;
  for (let s = 0; s < STEPS; s++) {
    if (s === 20) (opt as unknown as { learningRate: number }).learningRate = 1.5e-3;
    const grads = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(gradients[s][i], v.shape) }));
    opt.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
    if (s === 1) after = tf.memory().numTensors; // moments created in the first step
  }
  const leaked = tf.memory().numTensors - after;
  const weights = vars.map((v) => v.dataSync() as Float32Array);
  const state = (await opt.getWeights()).slice(1).map((w) => w.tensor.dataSync() as Float32Array);
  opt.dispose();
  tf.dispose(vars);
  return { initial, weights, state, leaked };
}

describe('fused Adam', () => {
  beforeAll(async () => {
    await prepareWasm();
  });

  it('gives tf.train.adam’s weights and moments bit for bit on wasm, and leaves no tensors', async () => {
    const ref = await train('wasm', (lr) => tf.train.adam(lr));
    const timer = kernelTimer('wasm');
    const fused = await train('wasm', adam).finally(() => timer.restore());
    expect(timer.calls().get('|MriAdam')).toBe(STEPS * SHAPES.length); // the fused kernel did run
    expect(fused.weights).toEqual(ref.weights);
    expect(fused.state).toEqual(ref.state);
    expect(fused.state).toHaveLength(2 * SHAPES.length);
    expect(fused.leaked).toBe(0);
    // The weights moved, and a different learning rate gives other bits (the comparison can fail).
    for (const [i, w] of fused.weights.entries()) expect(w).not.toEqual(fused.initial[i]);
    expect(fused.weights[1]).not.toEqual((await train('wasm', (lr) => tf.train.adam(lr * 2))).weights[1]);
  });

  it('matches the cpu backend’s Adam', async () => {
    const cpu = await train('cpu', (lr) => tf.train.adam(lr));
    const fused = await train('wasm', adam);
    for (let i = 0; i < SHAPES.length; i++) {
      let d = 0;
      for (let j = 0; j < cpu.weights[i].length; j++) d = Math.max(d, Math.abs(cpu.weights[i][j] - fused.weights[i][j]));
      expect(d).toBeLessThanOrEqual(1e-6);
    }
  });
});
