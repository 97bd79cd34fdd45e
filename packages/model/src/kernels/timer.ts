/**
 * A kernel timer for profiling: wraps every kernel registered for a backend so that each call's
 * time is recorded under `phase|kernelName`, as *self* time (time spent in kernels it calls,
 * e.g. by the project's composite kernels, is charged to those). The clock is wall time or the
 * process's CPU time (user + system, `process.cpuUsage`): on a shared machine wall time charges
 * every wait for a core to whichever kernel was running, CPU time does not. Synchronous backends
 * only (wasm, cpu): their kernels finish before they return. Used by the train-profile bench;
 * `restore()` puts the original kernels back.
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

export type TimerClock = 'wall' | 'cpu';

/** Milliseconds of the given clock (arbitrary origin). */
export function clockMs(clock: TimerClock): number {
  if (clock === 'wall') return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function kernelTimer(backendName: string, clock: TimerClock = 'wall'): KernelTimer {
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
        const t0 = clockMs(clock);
        try {
          return inner(args);
        } finally {
          const total = clockMs(clock) - t0;
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
