/**
 * Clean/noisy consistency (stability training, Zheng et al. 2016; the Jensen-Shannon form of
 * AugMix, Hendrycks et al. 2020): a training image and its noisy copy (`<id>` and `<id>~noise`, the
 * noise stage's `copies` mode; likewise `<id>~aug1` and `<id>~noise~aug1`) form a group, batches hold
 * whole groups, and the loss adds λ · the mean Jensen-Shannon divergence between the class
 * distributions the model gives a group's members. Pure helpers; the loop (loop.ts) wires them in.
 */
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../backend/tf.ts';

const NOISE_SEGMENT = /~noise(?=~|$)/;
const EPS = 1e-7;

/**
 * Groups of sample indices whose ids differ only by the noise stage's `~noise` segment, in order of
 * first appearance (members in index order). A sample without a partner is a group of one.
 */
export function pairGroups(ids: readonly string[]): number[][] {
  const byKey = new Map<string, number[]>();
  ids.forEach((id, i) => {
    const key = id.replace(NOISE_SEGMENT, '');
    const g = byKey.get(key);
    if (g) g.push(i);
    else byKey.set(key, [i]);
  });
  return [...byKey.values()];
}

/**
 * Batches of whole groups, taken in `order` (a permutation of group indices): a batch is closed
 * before the group that would take it past `batchSize` images (a group larger than that is a batch alone).
 */
export function groupBatches(groups: readonly (readonly number[])[], order: readonly number[], batchSize: number): number[][] {
  const batches: number[][] = [];
  let cur: number[] = [];
  for (const g of order) {
    const members = groups[g];
    if (cur.length > 0 && cur.length + members.length > batchSize) {
      batches.push(cur);
      cur = [];
    }
    cur.push(...members);
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}

/**
 * For a batch (sample indices, in batch order) the positions of each multi-member group: the
 * rows of `probs` that consistencyLoss compares. Groups of one are left out.
 */
export function batchGroups(batch: readonly number[], groupOf: Int32Array): number[][] {
  const byGroup = new Map<number, number[]>();
  batch.forEach((sample, pos) => {
    const g = groupOf[sample];
    const list = byGroup.get(g);
    if (list) list.push(pos);
    else byGroup.set(g, [pos]);
  });
  return [...byGroup.values()].filter((p) => p.length > 1);
}

/** Group index of every sample (inverse of pairGroups). */
export function groupIndex(groups: readonly (readonly number[])[], n: number): Int32Array {
  const out = new Int32Array(n).fill(-1);
  groups.forEach((g, gi) => {
    for (const i of g) out[i] = gi;
  });
  return out;
}

/**
 * Mean over groups of the generalised Jensen-Shannon divergence of the members' distributions
 * (rows of `probs` `[n, k]` at the given positions): JS = mean over members of KL(p_i ‖ M), M the
 * members' mean. 0 when there is no group; gradients flow through every member and through M.
 */
export function consistencyLoss(probs: Tensor, groups: readonly (readonly number[])[], batchSize: number): Scalar {
  return tf.tidy(() => {
    if (groups.length === 0) return tf.scalar(0);
    // Selections as one-hot matrices (matMul) rather than gather: gather's gradient needs
    // UnsortedSegmentSum, which the wasm backend lacks.
    const members = groups.reduce((n, g) => n + g.length, 0);
    const assign = new Float32Array(groups.length * batchSize); // [G, B]: 1/|g| on g's rows
    const select = new Float32Array(members * batchSize); // [R, B]: member r's row
    const owner = new Float32Array(members * groups.length); // [R, G]: member r's group
    const weight = new Float32Array(members); // 1 / (|g| · G)
    let r = 0;
    groups.forEach((g, gi) => {
      for (const pos of g) {
        assign[gi * batchSize + pos] = 1 / g.length;
        select[r * batchSize + pos] = 1;
        owner[r * groups.length + gi] = 1;
        weight[r] = 1 / (g.length * groups.length);
        r++;
      }
    });
    const p = tf.clipByValue(probs, EPS, 1);
    const mean = tf.matMul(tf.tensor2d(assign, [groups.length, batchSize]), p); // [G, k]
    const pi = tf.matMul(tf.tensor2d(select, [members, batchSize]), p); // [R, k]
    const mi = tf.matMul(tf.tensor2d(owner, [members, groups.length]), mean); // [R, k]
    const kl = tf.sum(tf.mul(pi, tf.sub(tf.log(pi), tf.log(mi))), -1);
    return tf.sum(tf.mul(kl, tf.tensor1d(weight))) as Scalar;
  });
}
