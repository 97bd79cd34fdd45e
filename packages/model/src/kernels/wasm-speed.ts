/**
 * A faster wasm `Tile`, the largest single cost of a training step there (tf.profile on
 * MobileNetV2's top blocks: 461 of ~1,300 ms): batch-norm gradients broadcast per-channel vectors
 * to the full activation shape, and wasm's Tile goes element by element. Here it is a broadcasting
 * add. (Sum/Mean over leading axes as a matMul with a row of ones was tried and is slower: wasm's
 * matMul with one row is slow.) Other dtypes call the original wasm kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

type KernelFunc = tf.KernelConfig['kernelFunc'];

function asTensor(t: tf.TensorInfo | undefined): tf.Tensor {
  if (t == null) throw new Error('project wasm kernel: missing input');
  return t instanceof tf.Tensor ? t : tf.engine().makeTensorFromTensorInfo(t);
}

/** tile(x, reps) as a broadcast: out viewed as [r0, d0, r1, d1, ...] = x viewed as [1, d0, 1, d1, ...]. */
export function tileViaBroadcast(x: tf.Tensor, reps: number[]): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape;
    const outShape = d.map((n, i) => n * reps[i]);
    if (d.every((n, i) => reps[i] === 1 || n === 1)) return tf.add(x, tf.zeros(outShape, x.dtype));
    const big: number[] = [];
    const small: number[] = [];
    d.forEach((n, i) => {
      if (reps[i] !== 1) {
        big.push(reps[i]);
        small.push(1);
      }
      big.push(n);
      small.push(n);
    });
    return tf.reshape(tf.add(tf.reshape(x, small), tf.zeros(big, x.dtype)), outShape);
  });
}

let registered = false;

export const WASM_SPEED_KERNELS = ['Tile'] as const;

/** Replace wasm's Tile (after the wasm backend was imported). Idempotent. */
export function registerWasmSpeedKernels(): void {
  if (registered) return;
  const original = (name: string): KernelFunc => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`wasm backend has no ${name} kernel to wrap (import the wasm backend first)`);
    return k.kernelFunc;
  };
  const tile = original(tf.Tile);
  const replace = (cfg: tf.KernelConfig) => {
    const old = tf.getKernel(cfg.kernelName, 'wasm');
    tf.unregisterKernel(cfg.kernelName, 'wasm');
    tf.registerKernel({ ...cfg, setupFunc: old?.setupFunc, disposeFunc: old?.disposeFunc });
  };
  replace({
    kernelName: tf.Tile,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = asTensor(args.inputs.x);
      if (x.dtype !== 'float32' && x.dtype !== 'int32') return tile(args);
      return tileViaBroadcast(x, (args.attrs as unknown as { reps: number[] }).reps);
    },
  });
  registered = true;
}
