/**
 * Pruners (pure, after Optuna's MedianPruner and SuccessiveHalvingPruner): given each trial's
 * objective per epoch, decide whether a running trial continues. Values are stored oriented so
 * that higher is better. Epochs are 1-based; trials are known by their index in the plan.
 *
 * Every decision is a function of the experiment and seed alone, never of timing: the decision
 * for trial i at epoch e looks only at trials of lower index, and only once each of them has either
 * reported epoch e or ended (finished, pruned or failed) before it. Until then `decide` answers
 * 'wait' and the orchestrator asks again when something new is reported. Trials are dispatched
 * in index order, so the lowest unfinished trial never waits, and the decisions (hence the epochs
 * each trial runs) are those of running the trials one by one.
 *
 * - median: after `warmupEpochs`, stop a trial whose best value so far is worse than the median of
 *   the values that lower-index trials had at the same epoch (needs `minTrials` of them).
 * - successive_halving: rungs at epochs minEpochs·η^k; a trial reaching a rung continues only if
 *   its value there is in the top 1/η of the values of itself and the lower-index trials that
 *   reached that rung (the best one always continues).
 */
import { median } from '@mri-robust/core';
import { oriented, type Direction } from './objective.ts';
import type { PrunerSettings } from './schema.ts';

export type Decision = 'continue' | 'stop';

export interface Pruner {
  /** Records `value` of trial `index` at `epoch`. */
  report(index: number, epoch: number, value: number): void;
  /** Trial `index` will report no more epochs (finished, pruned, failed). */
  end(index: number): void;
  /** The trial is being rerun from scratch: forget what it reported. */
  reset(index: number): void;
  /** Whether trial `index` goes on after `epoch` (which it reported), or 'wait' for lower trials. */
  decide(index: number, epoch: number): Decision | 'wait';
  /**
   * Whether a trial that ran `epochsRun` epochs may have been decided differently had a lower
   * trial (which ended after `reached` epochs, by failing) gone on: its record is then stale once
   * that lower trial is rerun.
   */
  dependsBeyond(epochsRun: number, reached: number): boolean;
}

/** Values and ends of every trial, by index (shared by the pruners). */
class History {
  private readonly values = new Map<number, Map<number, number>>();
  private readonly ended = new Set<number>();

  constructor(private readonly direction: Direction) {}

  report(index: number, epoch: number, value: number): void {
    const h = this.values.get(index) ?? new Map<number, number>();
    this.values.set(index, h);
    const v = oriented(this.direction, value);
    h.set(epoch, Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v);
  }

  end(index: number): void {
    this.ended.add(index);
  }

  reset(index: number): void {
    this.values.delete(index);
    this.ended.delete(index);
  }

  at(index: number, epoch: number): number | undefined {
    return this.values.get(index)?.get(epoch);
  }

  /** Best value of `index` over epochs 1..epoch. */
  bestUpTo(index: number, epoch: number): number {
    let best = Number.NEGATIVE_INFINITY;
    for (const [e, v] of this.values.get(index) ?? []) if (e <= epoch && v > best) best = v;
    return best;
  }

  /** Values at `epoch` of every trial below `index`, or null while one of them may still report it. */
  below(index: number, epoch: number): number[] | null {
    const out: number[] = [];
    for (let j = 0; j < index; j++) {
      const v = this.at(j, epoch);
      if (v !== undefined) out.push(v);
      else if (!this.ended.has(j)) return null;
    }
    return out;
  }
}

export function createMedianPruner(direction: Direction, warmupEpochs: number, minTrials: number): Pruner {
  const h = new History(direction);
  return {
    report: (i, e, v) => h.report(i, e, v),
    end: (i) => h.end(i),
    reset: (i) => h.reset(i),
    decide(index, epoch) {
      if (epoch <= warmupEpochs) return 'continue';
      const others = h.below(index, epoch);
      if (others === null) return 'wait';
      const finite = others.filter((x) => Number.isFinite(x));
      if (finite.length < minTrials) return 'continue';
      return h.bestUpTo(index, epoch) < median(finite) ? 'stop' : 'continue';
    },
    dependsBeyond: (epochsRun, reached) => epochsRun > Math.max(warmupEpochs, reached),
  };
}

/** Rung index of `epoch`, or -1 when the epoch is not a rung. */
export function rungOf(epoch: number, minEpochs: number, reductionFactor: number): number {
  let r = minEpochs;
  for (let k = 0; r <= epoch; k++, r *= reductionFactor) if (r === epoch) return k;
  return -1;
}

export function createSuccessiveHalvingPruner(direction: Direction, minEpochs: number, reductionFactor: number): Pruner {
  const h = new History(direction);
  return {
    report: (i, e, v) => h.report(i, e, v),
    end: (i) => h.end(i),
    reset: (i) => h.reset(i),
    decide(index, epoch) {
      if (rungOf(epoch, minEpochs, reductionFactor) < 0) return 'continue';
      const others = h.below(index, epoch);
      if (others === null) return 'wait';
      const mine = h.at(index, epoch) ?? Number.NEGATIVE_INFINITY;
      const competing = [...others, mine].sort((a, b) => b - a);
      const idx = Math.max(0, Math.floor(competing.length / reductionFactor) - 1);
      return mine >= competing[idx] ? 'continue' : 'stop';
    },
    dependsBeyond(epochsRun, reached) {
      for (let e = reached + 1; e <= epochsRun; e++) if (rungOf(e, minEpochs, reductionFactor) >= 0) return true;
      return false;
    },
  };
}

function createNoPruner(): Pruner {
  return { report() {}, end() {}, reset() {}, decide: () => 'continue', dependsBeyond: () => false };
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
