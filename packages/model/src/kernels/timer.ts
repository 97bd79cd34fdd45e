/**
 * A kernel timer for profiling: wraps every kernel registered for a backend so that each call's
 * wall time is recorded under `phase|kernelName`, as *self* time (time spent in kernels it calls,
 * e.g. by the project's composite kernels, is charged to those). Synchronous backends only (wasm,
 * cpu): their kernels finish before they return. Used by the train-profile bench; `restore()`
 * puts the original kernels back.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface KernelTimer {
  /** Label prefixed to the kernel names recorded from now on. */
  phase: string;
  reset(): void;
  /** Self milliseconds per `phase|kernel` since the last reset. */
  selfMs(): Map<string, number>;
  /** Calls per `phase|kernel` since the timer was made. */
  calls(): Map<string, number>;
  restore(): void;
}

export function kernelTimer(backendName: string): KernelTimer {
  const originals = tf.getKernelsForBackend(backendName);
  let self = new Map<string, number>();
  const calls = new Map<string, number>();
  const stack: number[] = []; // child time accumulated by each open call
  const timer: KernelTimer = {
    phase: '',
    reset: () => {
      self = new Map();
    },
    selfMs: () => self,
    calls: () => calls,
    restore: () => {
      for (const cfg of originals) {
        tf.unregisterKernel(cfg.kernelName, backendName);
        tf.registerKernel(cfg);
      }
    },
  };
  for (const cfg of originals) {
    const inner = cfg.kernelFunc;
    tf.unregisterKernel(cfg.kernelName, backendName);
    tf.registerKernel({
      ...cfg,
      kernelFunc: (args) => {
        const key = `${timer.phase}|${cfg.kernelName}`;
        stack.push(0);
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          const total = performance.now() - t0;
          const child = stack.pop() ?? 0;
          if (stack.length) stack[stack.length - 1] += total;
          self.set(key, (self.get(key) ?? 0) + total - child);
          calls.set(key, (calls.get(key) ?? 0) + 1);
        }
      },
    });
  }
  return timer;
}
