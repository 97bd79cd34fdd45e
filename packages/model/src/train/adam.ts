/**
 * Adam as tfjs-core's `tf.train.adam` (same state, same float32 operations in the same order, so
 * the same weights bit for bit), with the update of each variable run as one fused kernel on wasm
 * (`MriAdam`, src/kernels: one SIMD pass instead of ~13 tensor ops per variable, which took 15 %
 * of a partial training step there). Other backends, or wasm without the project's kernels
 * (`MRI_WASM_KERNELS=composite` or `unfused`), run tfjs-core's own update.
 */
import type { AdamOptimizer, Tensor, Variable } from '@tensorflow/tfjs-core';
import { tf } from '../backend/tf.ts';
import { ADAM_KERNEL } from '../kernels/wasm-training.ts';

/** AdamOptimizer's state, private in its typings (tfjs-core 4.x). */
interface AdamState {
  accBeta1: Variable;
  accBeta2: Variable;
  accumulatedFirstMoment: { originalName: string; variable: Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: Variable }[];
}

class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<AdamOptimizer['applyGradients']>[0]): void {
    if (tf.getBackend() !== 'wasm' || !tf.getKernel(ADAM_KERNEL, 'wasm')) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const attrs = { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, learningRate: this.learningRate };
    tf.tidy(() => {
      const c1 = tf.sub(1, state.accBeta1);
      const c2 = tf.sub(1, state.accBeta2);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const g = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (g == null) return;
        const m = state.accumulatedFirstMoment[i].variable;
        const v = state.accumulatedSecondMoment[i].variable;
        if (value.dtype !== 'float32' || g.dtype !== 'float32' || !tf.util.arraysEqual(value.shape, g.shape)) {
          throw new Error(`Adam: gradient of ${name} is ${g.dtype} [${g.shape}], the variable ${value.dtype} [${value.shape}]`);
        }
        const [w1, m1, v1] = tf.engine().runKernel(ADAM_KERNEL, { w: value, m, v, g, c1, c2 }, attrs) as unknown as Tensor[];
        m.assign(m1);
        v.assign(v1);
        value.assign(w1);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}

/** `tf.train.adam(learningRate)` with the fused update on wasm (β1 0.9, β2 0.999, ε of the backend). */
export function adam(learningRate: number): AdamOptimizer {
  return new FusedAdam(learningRate, 0.9, 0.999);
}
