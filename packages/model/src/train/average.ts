/**
 * Exponential moving average of the trained weights (Polyak averaging; TensorFlow's
 * `tf.train.ExponentialMovingAverage` with `num_updates`): after optimiser step t,
 * avg ← d_t·avg + (1 − d_t)·w with d_t = min(decay, (1 + t) / (10 + t)), so the first steps do not
 * leave the average stuck near the initial weights. The loop validates, snapshots the best epoch
 * and ends with the average swapped in; training itself always steps the raw weights.
 */
import type { Variable, Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../backend/tf.ts';

/** The decay applied at step `step` (1-based): min(decay, (1 + step) / (10 + step)). */
export function emaDecayAt(decay: number, step: number): number {
  if (!(decay >= 0 && decay < 1)) throw new Error(`EMA decay must be in [0, 1), got ${decay}`);
  return Math.min(decay, (1 + step) / (10 + step));
}

export interface WeightAverage {
  /** Folds the variables' current values into the average (call after every optimiser step). */
  update(): void;
  /** Puts the average into the variables, keeping the raw values aside. */
  swapIn(): void;
  /** Puts the raw values back (after `swapIn`). */
  swapOut(): void;
  /** Puts the average into the variables for good and frees what the average held. */
  finish(): void;
  /** Frees the average (idempotent). */
  dispose(): void;
}

/** A moving average of `vars` starting from their current values. */
export function createWeightAverage(vars: readonly Variable[], decay: number): WeightAverage {
  emaDecayAt(decay, 1);
  const shadow = vars.map((v) => {
    const start = v.clone();
    const s = tf.variable(start, false);
    start.dispose();
    return s;
  });
  let raw: Tensor[] | null = null;
  let step = 0;
  let disposed = false;
  // Once only: tfjs's Variable.dispose does not check whether it was already disposed, and a second
  // one would release the data a variable shares with the average after `finish`.
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    tf.dispose(shadow);
    if (raw) tf.dispose(raw);
    raw = null;
  };
  return {
    update() {
      step++;
      const d = emaDecayAt(decay, step);
      tf.tidy(() => {
        for (let i = 0; i < vars.length; i++) shadow[i].assign(tf.add(tf.mul(shadow[i], d), tf.mul(vars[i], 1 - d)));
      });
    },
    swapIn() {
      if (raw) throw new Error('weight average already swapped in');
      raw = vars.map((v) => tf.keep(v.clone()));
      for (let i = 0; i < vars.length; i++) vars[i].assign(shadow[i]);
    },
    swapOut() {
      if (!raw) throw new Error('weight average not swapped in');
      for (let i = 0; i < vars.length; i++) vars[i].assign(raw[i]);
      tf.dispose(raw);
      raw = null;
    },
    finish() {
      for (let i = 0; i < vars.length; i++) vars[i].assign(shadow[i]);
      dispose();
    },
    dispose,
  };
}
