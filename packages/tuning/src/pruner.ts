/**
 * Pruners (pure, after Optuna's MedianPruner and SuccessiveHalvingPruner): given each trial's
 * objective per epoch, decide whether a running trial continues. Values are stored oriented so
 * that higher is better. Epochs are 1-based.
 *
 * - median: after `warmupEpochs`, stop a trial whose best value so far is worse than the median of
 *   the values that completed trials had at the same epoch (needs `minTrials` of them).
 * - successive_halving (asynchronous, ASHA): rungs at epochs minEpochs·η^k; a trial reaching a
 *   rung continues only if its value there is in the top 1/η of all values recorded at that rung so
 *   far (the best one always continues).
 */
import { median } from '@mri-robust/core';
import { oriented, type Direction } from './objective.ts';
import type { PrunerSettings } from './schema.ts';

export type Decision = 'continue' | 'stop';

export interface Pruner {
  /** Records `value` of `trialId` at `epoch` and decides whether the trial goes on. */
  report(trialId: string, epoch: number, value: number): Decision;
  /** The trial ended normally (its values now count for the median). */
  complete(trialId: string): void;
  /** The trial is being rerun from scratch: forget what it reported. */
  reset(trialId: string): void;
}

export function createMedianPruner(direction: Direction, warmupEpochs: number, minTrials: number): Pruner {
  const running = new Map<string, Map<number, number>>();
  const completed = new Map<string, Map<number, number>>();
  const bestSoFar = new Map<string, number>();
  return {
    report(trialId, epoch, value) {
      const v = oriented(direction, value);
      let h = running.get(trialId);
      if (!h) running.set(trialId, (h = new Map()));
      h.set(epoch, v);
      const best = Math.max(bestSoFar.get(trialId) ?? Number.NEGATIVE_INFINITY, Number.isNaN(v) ? -Infinity : v);
      bestSoFar.set(trialId, best);
      if (epoch <= warmupEpochs) return 'continue';
      const others: number[] = [];
      for (const [id, hist] of completed) {
        if (id === trialId) continue;
        const x = hist.get(epoch);
        if (x !== undefined && Number.isFinite(x)) others.push(x);
      }
      if (others.length < minTrials) return 'continue';
      return best < median(others) ? 'stop' : 'continue';
    },
    complete(trialId) {
      const h = running.get(trialId);
      running.delete(trialId);
      if (h) completed.set(trialId, h);
    },
    reset(trialId) {
      running.delete(trialId);
      completed.delete(trialId);
      bestSoFar.delete(trialId);
    },
  };
}

/** Rung index of `epoch`, or -1 when the epoch is not a rung. */
export function rungOf(epoch: number, minEpochs: number, reductionFactor: number): number {
  let r = minEpochs;
  for (let k = 0; r <= epoch; k++, r *= reductionFactor) if (r === epoch) return k;
  return -1;
}

export function createSuccessiveHalvingPruner(direction: Direction, minEpochs: number, reductionFactor: number): Pruner {
  const rungs = new Map<number, Map<string, number>>();
  return {
    report(trialId, epoch, value) {
      const k = rungOf(epoch, minEpochs, reductionFactor);
      if (k < 0) return 'continue';
      const v = oriented(direction, value);
      let rung = rungs.get(k);
      if (!rung) rungs.set(k, (rung = new Map()));
      rung.set(trialId, Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v);
      const competing = [...rung.values()].sort((a, b) => b - a);
      let idx = Math.floor(competing.length / reductionFactor) - 1;
      if (idx < 0) idx = 0;
      return rung.get(trialId)! >= competing[idx] ? 'continue' : 'stop';
    },
    complete() {},
    reset(trialId) {
      for (const rung of rungs.values()) rung.delete(trialId);
    },
  };
}

export function createNoPruner(): Pruner {
  return { report: () => 'continue', complete() {}, reset() {} };
}

export function createPruner(settings: PrunerSettings, direction: Direction): Pruner {
  switch (settings.kind) {
    case 'none':
      return createNoPruner();
    case 'median':
      return createMedianPruner(direction, settings.warmupEpochs, settings.minTrials);
    case 'successive_halving':
      return createSuccessiveHalvingPruner(direction, settings.minEpochs, settings.reductionFactor);
  }
}
