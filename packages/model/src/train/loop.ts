/**
 * The training loop: seeded shuffling, Adam, categorical cross-entropy (optionally class-weighted),
 * seeded dropout, early stopping with best-weight restore, reduce-LR-on-plateau and a per-epoch
 * callback that may stop training (pruning), optionally validating and keeping an exponential moving
 * average of the weights (average.ts). Written over `optimizer.minimize` rather than
 * `model.fit`, whose shuffling and dropout use Math.random.
 */
import { createProgress, createRng, deriveSeed, type Progress, type Rng } from '@mri-robust/core';
import type { Tensor, Scalar, Variable, AdamOptimizer } from '@tensorflow/tfjs-core';
import { tf } from '../backend/tf.ts';
import type { BatchSource } from './data.ts';
import type { Classifier } from './classifier.ts';
import type { EpochRecord, OnEpoch } from './types.ts';
import { drawMixup, mixRows, smoothTargets } from './regularize.ts';
import { adam } from './adam.ts';
import { createWeightAverage } from './average.ts';
import { batchGroups, consistencyLoss, groupBatches, groupIndex, pairGroups } from './consistency.ts';
import { planTrunk, runTrunk } from './trunk-plan.ts';
import { fusedConvAvailable } from '../kernels/fused-conv.ts';

export interface LoopOptions {
  epochs: number;
  learningRate: number;
  batchSize: number;
  earlyStopping: { monitor: 'val_accuracy' | 'val_loss'; patience: number; restoreBest: boolean };
  reduceLr: { factor: number; patience: number; minLr: number };
  /** Per-class loss weights (length = classes), or null. */
  classWeights?: Float32Array | null;
  /** Label smoothing ε ∈ [0, 1): targets (1 − ε)·onehot + ε / k. Default 0. */
  labelSmoothing?: number;
  /** Mixup α (> 0 mixes every batch with a permutation of itself, λ ~ Beta(α, α)); 0 = off (default). */
  mixupAlpha?: number;
  /**
   * Decay of an exponential moving average of the trained weights (0 = off, the default). When on,
   * validation, the best-epoch snapshot and the final weights are the average's; the optimiser
   * steps the raw weights as usual, so the training curve is unchanged.
   */
  ema?: number;
  /**
   * Weight λ of the clean/noisy consistency term (consistency.ts; 0 = off, the default): batches
   * hold each image together with its noisy copy (paired by `train.ids`) and the loss adds λ · their
   * mean Jensen-Shannon divergence. The recorded training loss includes the term.
   */
  consistency?: number;
  seed: number;
  /** Run the trunk's batch-norm layers in training mode (batch statistics). Default false. */
  trunkTraining?: boolean;
  /** Optional noisy validation source: its accuracy is reported as `valNoisyAccuracy`. */
  valNoisy?: BatchSource | null;
  /** Batch size for inference passes (validation). Default max(batchSize, 64). */
  evalBatchSize?: number;
  onEpoch?: OnEpoch;
  /** Print per-epoch progress on stderr (every 10 s) with this label. */
  progressLabel?: string;
}

export interface LoopResult {
  epochs: EpochRecord[];
  /** 1-based epoch whose weights the model holds at the end (the best one when restoring). */
  bestEpoch: number;
  stoppedBy: 'epochs' | 'early_stopping' | 'callback';
}

const EPS = 1e-7;

/** Mean (optionally weighted) categorical cross-entropy of probabilities, as Keras (clipped to [ε, 1-ε]). */
export function crossEntropy(probs: Tensor, labels: Tensor, numClasses: number, classWeights?: Tensor | null): Scalar {
  return tf.tidy(() => {
    const y = tf.oneHot(tf.cast(labels, 'int32'), numClasses);
    const ce = tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(probs, EPS, 1 - EPS))), -1));
    const weighted = classWeights ? tf.mul(ce, tf.gather(classWeights, tf.cast(labels, 'int32'))) : ce;
    return tf.mean(weighted) as Scalar;
  });
}

/**
 * Mean categorical cross-entropy against target distributions `[n, k]` (soft labels: smoothing,
 * mixup), optionally weighted per sample; probabilities clipped to [ε, 1-ε] as Keras.
 */
export function softCrossEntropy(probs: Tensor, targets: Tensor, sampleWeights?: Tensor | null): Scalar {
  return tf.tidy(() => {
    const ce = tf.neg(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(probs, EPS, 1 - EPS))), -1));
    return tf.mean(sampleWeights ? tf.mul(ce, sampleWeights) : ce) as Scalar;
  });
}

/**
 * Training-mode forward pass through the classifier chain: the trunk (batch norm in training
 * mode only when asked), then seeded dropout, then the dense head. On wasm the trunk runs its
 * fused plan (trunk-plan.ts: convolution + bias + ReLU6 as one kernel with its own gradient).
 */
export function forwardTrain(clf: Classifier, x: Tensor, dropoutSeed: number, trunkTraining: boolean): Tensor {
  let h = x;
  for (const layer of clf.chain) {
    if (layer.name === 'head_dropout') {
      h = clf.dropout > 0 ? tf.dropout(h, clf.dropout, undefined, dropoutSeed) : h;
    } else if (layer.name === 'head_dense' || layer.name === 'head_gap') {
      h = layer.apply(h) as Tensor;
    } else {
      const plan = layer instanceof tf.LayersModel && h.dtype === 'float32' && fusedConvAvailable() ? planTrunk(layer) : null;
      h = plan ? runTrunk(plan, h, { training: trunkTraining }) : (layer.apply(h, { training: trunkTraining }) as Tensor);
    }
  }
  return h;
}

/** Inference-mode class probabilities `[n, k]` for every sample of `src`, in order. */
export function predictSource(clf: Classifier, src: BatchSource, batchSize: number): Float32Array {
  const k = clf.numClasses;
  const out = new Float32Array(src.n * k);
  for (let start = 0; start < src.n; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, src.n - start) }, (_, i) => start + i);
    const probs = tf.tidy(() => {
      const x = src.batch(idx);
      return clf.model.predict(x) as Tensor;
    });
    out.set(probs.dataSync() as Float32Array, start * k);
    probs.dispose();
  }
  return out;
}

/** Mean cross-entropy and accuracy of probabilities against labels (float64 in JS). */
export function lossAndAccuracy(probs: Float32Array, labels: Int32Array, k: number): { loss: number; accuracy: number } {
  const n = labels.length;
  if (n === 0) return { loss: Number.NaN, accuracy: Number.NaN };
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - EPS, Math.max(EPS, probs[i * k + labels[i]]));
    loss -= Math.log(p);
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
    if (best === labels[i]) correct++;
  }
  return { loss: loss / n, accuracy: correct / n };
}

function snapshot(clf: Classifier): Float32Array[] {
  return clf.model.getWeights().map((w) => (w.dataSync() as Float32Array).slice());
}

function restore(clf: Classifier, weights: Float32Array[]): void {
  const current = clf.model.getWeights();
  const tensors = weights.map((w, i) => tf.tensor(w, current[i].shape, current[i].dtype));
  clf.model.setWeights(tensors);
  tf.dispose(tensors);
}

/** This epoch's batches: `order` shuffled in place and cut every `batchSize` samples. */
function plainBatches(rng: Rng, order: number[], batchSize: number): number[][] {
  rng.shuffle(order);
  const out: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) out.push(order.slice(start, start + batchSize));
  return out;
}

/** Clean/noisy groups of the training set and batches of whole groups in a shuffled group order. */
function pairingOf(train: BatchSource, mixupAlpha: number) {
  if (mixupAlpha > 0) throw new Error('consistency and mixup cannot both be on (mixup blends the images the consistency term pairs)');
  if (!train.ids) throw new Error('consistency needs the record ids of the training samples');
  const groups = pairGroups(train.ids);
  if (!groups.some((g) => g.length > 1)) {
    throw new Error('consistency needs noisy copies beside the clean training images (noise.train mode copies); none were found');
  }
  const groupOf = groupIndex(groups, train.n);
  const groupOrder = groups.map((_, i) => i);
  return {
    groupOf,
    batches(rng: Rng, batchSize: number): number[][] {
      rng.shuffle(groupOrder);
      return groupBatches(groups, groupOrder, batchSize);
    },
  };
}

/** Trains `clf` on `train`, validating on `val` after every epoch. Deterministic for a given seed and backend. */
export async function trainLoop(clf: Classifier, train: BatchSource, val: BatchSource, opts: LoopOptions): Promise<LoopResult> {
  if (train.n === 0) throw new Error('training set is empty');
  if (val.n === 0) throw new Error('validation set is empty');
  const k = clf.numClasses;
  const shuffleRng = createRng(deriveSeed(opts.seed, 'train', 'shuffle'));
  const dropoutRng = createRng(deriveSeed(opts.seed, 'train', 'dropout'));
  const mixupRng = createRng(deriveSeed(opts.seed, 'train', 'mixup'));
  const smoothing = opts.labelSmoothing ?? 0;
  const mixupAlpha = opts.mixupAlpha ?? 0;
  const soft = smoothing > 0 || mixupAlpha > 0;
  const lambda = opts.consistency ?? 0;
  const pairing = lambda > 0 ? pairingOf(train, mixupAlpha) : null;
  const evalBatch = opts.evalBatchSize ?? Math.max(opts.batchSize, 64);
  const trunkTraining = opts.trunkTraining ?? false;
  let lr = opts.learningRate;
  const optimizer = adam(lr) as AdamOptimizer;
  const vars = clf.model.trainableWeights.map((w) => w.read() as Variable);
  const classWeights = opts.classWeights ? tf.tensor1d(opts.classWeights) : null;
  const average = (opts.ema ?? 0) > 0 ? createWeightAverage(vars, opts.ema!) : null;
  const { monitor, patience, restoreBest } = opts.earlyStopping;
  const better = (a: number, b: number) => (monitor === 'val_loss' ? a < b : a > b);

  const epochs: EpochRecord[] = [];
  let best = Number.NaN;
  let bestEpoch = 0;
  let bestWeights: Float32Array[] | null = null;
  let waitStop = 0;
  let waitLr = 0;
  let stoppedBy: LoopResult['stoppedBy'] = 'epochs';
  const order = Array.from({ length: train.n }, (_, i) => i);
  const cw = opts.classWeights ?? null;

  /** Soft targets (smoothing) and, with mixup, the batch mixed with a permutation of itself. */
  const softBatch = (x0: Tensor, labels: Int32Array): { x: Tensor; targets: Tensor; weights: Tensor | null } => {
    let t = smoothTargets(labels, k, smoothing);
    let w: Float32Array | null = cw ? Float32Array.from(labels, (c) => cw[c]) : null;
    let x = x0;
    if (mixupAlpha > 0 && labels.length > 1) {
      const draw = drawMixup(mixupRng, labels.length, mixupAlpha);
      t = mixRows(t, k, draw);
      if (w) w = mixRows(w, 1, draw);
      x = tf.tidy(() => tf.add(tf.mul(x0, draw.lambda), tf.mul(tf.gather(x0, draw.partner), 1 - draw.lambda)));
      x0.dispose();
    }
    return { x, targets: tf.tensor2d(t, [labels.length, k]), weights: w ? tf.tensor1d(w) : null };
  };

  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const t0 = performance.now();
      const batches = pairing ? pairing.batches(shuffleRng, opts.batchSize) : plainBatches(shuffleRng, order, opts.batchSize);
      let lossSum = 0;
      let correctSum = 0;
      const progress: Progress | null = opts.progressLabel
        ? createProgress(`${opts.progressLabel} epoch ${epoch}`, train.n, { intervalMs: 10_000, unit: 'img' })
        : null;
      for (const [b, idx] of batches.entries()) {
        const pairs = pairing ? batchGroups(idx, pairing.groupOf) : [];
        const seed = dropoutRng.seed();
        const labels = Int32Array.from(idx, (i) => train.labels[i]);
        const y = tf.tensor1d(labels, 'int32');
        const batch = soft ? softBatch(train.batch(idx), labels) : { x: train.batch(idx), targets: null, weights: null };
        const x = batch.x;
        let correct: Tensor | null = null;
        const cost = optimizer.minimize(
          () => {
            const probs = forwardTrain(clf, x, seed, trunkTraining);
            correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), y), 'float32')));
            const ce = batch.targets ? softCrossEntropy(probs, batch.targets, batch.weights) : crossEntropy(probs, y, k, classWeights);
            return pairs.length > 0 ? tf.add(ce, tf.mul(consistencyLoss(probs, pairs, idx.length), lambda)) : ce;
          },
          true,
          vars,
        );
        lossSum += (cost!.dataSync()[0] as number) * idx.length;
        correctSum += (correct as unknown as Tensor).dataSync()[0] as number;
        tf.dispose([x, y, cost!, correct as unknown as Tensor]);
        average?.update();
        if (batch.targets) tf.dispose(batch.targets);
        if (batch.weights) tf.dispose(batch.weights);
        progress?.tick(idx.length);
        if (b % 8 === 7) await new Promise((r) => setImmediate(r));
      }
      progress?.done();
      average?.swapIn();
      const valProbs = predictSource(clf, val, evalBatch);
      const v = lossAndAccuracy(valProbs, val.labels, k);
      const rec: EpochRecord = {
        epoch,
        trainLoss: lossSum / train.n,
        trainAccuracy: correctSum / train.n,
        valLoss: v.loss,
        valAccuracy: v.accuracy,
        learningRate: lr,
        seconds: 0,
      };
      if (opts.valNoisy && opts.valNoisy.n > 0) {
        rec.valNoisyAccuracy = lossAndAccuracy(predictSource(clf, opts.valNoisy, evalBatch), opts.valNoisy.labels, k).accuracy;
      }
      rec.seconds = (performance.now() - t0) / 1000;
      const value = monitor === 'val_loss' ? rec.valLoss : rec.valAccuracy;
      const improved = bestEpoch === 0 || better(value, best);
      if (improved && restoreBest) bestWeights = snapshot(clf);
      average?.swapOut();
      epochs.push(rec);
      if (!Number.isFinite(rec.trainLoss)) throw new Error(`training diverged at epoch ${epoch} (loss ${rec.trainLoss}); lower the learning rate`);

      if (improved) {
        best = value;
        bestEpoch = epoch;
        waitStop = 0;
        waitLr = 0;
      } else {
        waitStop++;
        waitLr++;
      }
      const decision = opts.onEpoch ? await opts.onEpoch(rec) : 'continue';
      if (decision === 'stop') {
        stoppedBy = 'callback';
        break;
      }
      if (waitStop >= patience && waitStop > 0) {
        stoppedBy = 'early_stopping';
        break;
      }
      if (waitLr >= opts.reduceLr.patience && waitLr > 0 && lr > opts.reduceLr.minLr) {
        lr = Math.max(opts.reduceLr.minLr, lr * opts.reduceLr.factor);
        (optimizer as unknown as { learningRate: number }).learningRate = lr;
        waitLr = 0;
      }
    }
    average?.finish();
    if (restoreBest && bestWeights && bestEpoch !== epochs.length) restore(clf, bestWeights);
    return { epochs, bestEpoch: restoreBest ? bestEpoch : epochs.length, stoppedBy };
  } finally {
    optimizer.dispose();
    classWeights?.dispose();
    average?.dispose();
  }
}
