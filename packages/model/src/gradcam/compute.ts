/**
 * Grad-CAM with TensorFlow.js. The pipeline is a list of LayersModels applied in sequence to the
 * preprocessed input (e.g. [classifier] for `cnn`/`full`, [backbone, head] for `head` mode); their
 * composition maps an image to class probabilities. The feature layer's `call` is wrapped for one
 * pass so that its output A is captured and returned as A + δ with δ = 0: ∂score/∂δ = ∂score/∂A,
 * obtained with `tf.grad`, which only differentiates the ops between δ and the score (the layers
 * above the feature map — no gradient kernels of the layers below are needed). The class score is
 * the logit (the softmax of the last Dense layer is switched to linear during the pass).
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import type { Layer } from '@tensorflow/tfjs-layers/dist/engine/topology';
import { tf } from '../backend/tf.ts';
import { camFromGradients, normalizeMap } from './cam.ts';
import { findFeatureLayer, outputLayer, singleOutputShape } from './layers.ts';

export interface GradCamOptions {
  /** Models applied in sequence to the input; the last one outputs class probabilities (softmax) or logits. */
  stages: readonly LayersModel[];
  /** One preprocessed sample `[1, H, W, C]`, exactly what `stages[0]` takes. */
  input: Tensor4D;
  /** Feature layer name; default: the last convolutional feature map (see `findFeatureLayer`). */
  layerName?: string;
  /** Class whose score is explained; default: the predicted class. */
  classIndex?: number;
}

export interface GradCamResult {
  classIndex: number;
  /** Logits of the pass (pre-softmax scores), one per class. */
  logits: Float32Array;
  /** softmax(logits) (the model's uncalibrated probabilities). */
  probabilities: Float32Array;
  /** Normalised map in [0, 1], `height × width` (the feature map's grid), row-major. */
  cam: Float32Array;
  height: number;
  width: number;
  /** Name of the feature layer used. */
  layerName: string;
  /** Largest raw map value (≤ 0: the class score does not rise with any feature; the map is all zeros). */
  rawMax: number;
  constant: boolean;
}

type CallFn = (inputs: Tensor | Tensor[], kwargs: Record<string, unknown>) => Tensor | Tensor[];
interface ActivationLike {
  getClassName(): string;
  apply(x: Tensor): Tensor;
}

const LINEAR: ActivationLike = { getClassName: () => 'linear', apply: (x: Tensor) => x };

function runStages(stages: readonly LayersModel[], x: Tensor): Tensor {
  let h = x;
  for (const s of stages) {
    const out = s.apply(h);
    if (Array.isArray(out)) throw new Error('Grad-CAM: every stage must have exactly one output');
    h = out as Tensor;
  }
  return h;
}

/** Temporarily replaces a Dense softmax activation by the identity; returns the undo function. */
function logitsMode(layer: Layer): { undo: () => void; softmax: boolean } {
  const l = layer as unknown as { activation?: ActivationLike };
  const act = l.activation;
  if (!act || typeof act.getClassName !== 'function' || act.getClassName() !== 'softmax') {
    return { undo: () => {}, softmax: false };
  }
  l.activation = LINEAR;
  return { undo: () => (l.activation = act), softmax: true };
}

const busy = new WeakSet<object>();

/** Activations A and gradients ∂score/∂A of one feature layer (row-major HWC). */
interface LayerGradients {
  layerName: string;
  height: number;
  width: number;
  channels: number;
  activations: Float32Array;
  gradients: Float32Array;
}

export interface GradientPassOptions {
  stages: readonly LayersModel[];
  input: Tensor4D;
  /** Feature layers (default: the last convolutional feature map). */
  layerNames?: readonly string[];
  classIndex?: number;
}

export interface GradientPass {
  classIndex: number;
  logits: Float32Array;
  probabilities: Float32Array;
  layers: LayerGradients[];
}

/**
 * One forward + backward pass giving, for each feature layer, its activations and the gradient of
 * the class logit with respect to them (every layer's call wrapped as A + δ_l, δ_l = 0; `tf.grads`
 * over all δ at once).
 */
export function gradientPass(opts: GradientPassOptions): GradientPass {
  const { stages, input } = opts;
  if (input.rank !== 4 || input.shape[0] !== 1) throw new Error(`Grad-CAM: input must be [1, H, W, C], got [${input.shape.join(', ')}]`);
  const names = opts.layerNames?.length ? [...opts.layerNames] : [undefined];
  const targets = names.map((n) => findFeatureLayer(stages, n).layer);
  if (new Set(targets).size !== targets.length) throw new Error(`Grad-CAM: a feature layer is named twice (${names.join(', ')})`);
  for (const t of targets) if (busy.has(t)) throw new Error('Grad-CAM: a pass on this model is already running');
  const deltas: (Tensor | null)[] = targets.map(() => null);
  const captured: (Tensor | null)[] = targets.map(() => null);
  const restore: (() => void)[] = [];
  for (const [i, target] of targets.entries()) {
    busy.add(target);
    const t = target as unknown as { call: CallFn };
    const ownCall = Object.hasOwn(t, 'call');
    const originalCall = t.call;
    t.call = function (this: unknown, inputs, kwargs) {
      const out = originalCall.call(this, inputs, kwargs);
      if (Array.isArray(out)) throw new Error(`Grad-CAM: layer '${target.name}' has several outputs`);
      captured[i]?.dispose();
      captured[i] = tf.keep(out.clone());
      const d = deltas[i];
      return d ? tf.add(out, d) : out;
    };
    restore.push(() => {
      if (ownCall) t.call = originalCall;
      else delete (t as { call?: CallFn }).call;
      busy.delete(target);
    });
  }
  // Softmax head switched to linear during the pass: the score is the logit (as in the paper).
  const logitMode = logitsMode(outputLayer(stages));
  let logitsKept: Tensor | null = null;
  let grads: Tensor[] = [];
  let zeros: Tensor[] = [];
  try {
    const shapes = targets.map((t) => singleOutputShape(t));
    if (shapes.some((sh) => !sh || sh.slice(1).some((d) => d == null))) {
      // Unknown spatial size (fully convolutional model): one plain pass to learn it.
      tf.tidy(() => void runStages(stages, input));
      targets.forEach((_, i) => {
        shapes[i] = captured[i] ? captured[i]!.shape : shapes[i];
      });
    }
    for (const [i, sh] of shapes.entries()) {
      if (!sh || sh.length !== 4) throw new Error(`Grad-CAM: layer '${targets[i].name}' does not output a 4-D feature map`);
    }
    let cls = opts.classIndex;
    zeros = shapes.map((sh) => tf.zeros([1, ...(sh as number[]).slice(1)]));
    grads = tf.grads((...ds: Tensor[]) => {
      ds.forEach((d, i) => {
        deltas[i] = d;
      });
      const out = runStages(stages, input);
      if (out.rank !== 2 || out.shape[0] !== 1) throw new Error(`Grad-CAM: model output must be [1, classes], got [${out.shape.join(', ')}]`);
      const k = out.shape[1] as number;
      logitsKept = tf.keep(out.clone());
      if (cls === undefined) {
        const v = out.dataSync();
        cls = 0;
        for (let j = 1; j < k; j++) if (v[j] > v[cls]) cls = j;
      }
      if (!(Number.isInteger(cls) && cls >= 0 && cls < k)) throw new Error(`Grad-CAM: class index ${cls} is not in [0, ${k})`);
      return tf.sum(tf.mul(out, tf.oneHot(tf.tensor1d([cls], 'int32'), k)));
    })(zeros);
    const layers = targets.map((t, i): LayerGradients => {
      const a = captured[i];
      if (!a) throw new Error(`Grad-CAM: layer '${t.name}' was not run by the model`);
      const [, h, w, c] = a.shape as number[];
      return {
        layerName: t.name,
        height: h,
        width: w,
        channels: c,
        activations: Float32Array.from(a.dataSync()),
        gradients: Float32Array.from(grads[i].dataSync()),
      };
    });
    const logits = Float32Array.from((logitsKept as unknown as Tensor).dataSync());
    return { classIndex: cls as unknown as number, logits, probabilities: softmax(logits), layers };
  } finally {
    for (const r of restore) r();
    logitMode.undo();
    tf.dispose([...captured, logitsKept as Tensor | null, ...grads, ...zeros].filter((x): x is Tensor => x !== null));
  }
}

export function gradCam(opts: GradCamOptions): GradCamResult {
  const pass = gradientPass({ stages: opts.stages, input: opts.input, layerNames: opts.layerName ? [opts.layerName] : undefined, classIndex: opts.classIndex });
  const l = pass.layers[0];
  const norm = normalizeMap(camFromGradients(l.activations, l.gradients, l.height, l.width, l.channels));
  return {
    classIndex: pass.classIndex,
    logits: pass.logits,
    probabilities: pass.probabilities,
    cam: norm.map,
    height: l.height,
    width: l.width,
    layerName: l.layerName,
    rawMax: norm.max,
    constant: norm.constant,
  };
}

function softmax(z: Float32Array): Float32Array {
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v);
  let s = 0;
  const out = new Float32Array(z.length);
  for (let i = 0; i < z.length; i++) s += out[i] = Math.exp(z[i] - m);
  for (let i = 0; i < z.length; i++) out[i] /= s;
  return out;
}
