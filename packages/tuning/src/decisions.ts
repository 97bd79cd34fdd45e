/**
 * Pruning decisions of a running sweep, made deterministic (see pruner.ts): a trial's worker waits
 * for the answer to each epoch until the trials of lower index have reported that epoch or ended.
 * Also what a resumed sweep feeds the pruner from the tracking store, and which done trials it must
 * rerun because a lower trial they were compared with failed and will be rerun.
 */
import { createPruner, type Decision, type Pruner } from './pruner.ts';
import type { Direction } from './objective.ts';
import type { PrunerSettings } from './schema.ts';

export interface DoneTrial {
  index: number;
  status: string;
  /** Objective per epoch, as recorded. */
  epochs: { epoch: number; objective: number | null }[];
}

export class DecisionBroker {
  private readonly pruner: Pruner;
  private readonly pending = new Map<number, { epoch: number; resolve: (d: Decision) => void }>();

  constructor(settings: PrunerSettings, direction: Direction) {
    this.pruner = createPruner(settings, direction);
  }

  /** Feeds a trial done in an earlier run (all its epochs, then its end). */
  replay(t: DoneTrial): void {
    for (const e of t.epochs) this.pruner.report(t.index, e.epoch, e.objective ?? Number.NaN);
    this.pruner.end(t.index);
  }

  /**
   * Done trials whose record may differ from an uninterrupted run's, so must be rerun: those that,
   * after a lower trial failed (it will be rerun), ran epochs at which the pruner compared them with
   * that trial's missing values. `reached` is the number of epochs each failed trial recorded.
   */
  stale(done: readonly { index: number; epochsRun: number }[], failed: readonly { index: number; reached: number }[]): Set<number> {
    const out = new Set<number>();
    for (const d of done) {
      if (failed.some((f) => f.index < d.index && this.pruner.dependsBeyond(d.epochsRun, f.reached))) out.add(d.index);
    }
    return out;
  }

  /**
   * Records trial `index`'s value at `epoch` and resolves with its decision once it can be made;
   * `forced` (the last epoch) answers at once.
   */
  epoch(index: number, epoch: number, value: number, forced: Decision | null = null): Promise<Decision> {
    this.pruner.report(index, epoch, value);
    const p = new Promise<Decision>((resolve) => {
      if (forced !== null) return resolve(forced);
      this.pending.set(index, { epoch, resolve });
    });
    this.settle();
    return p;
  }

  /** Trial `index` reports no more epochs (call once its end is recorded). */
  end(index: number): void {
    this.pending.delete(index);
    this.pruner.end(index);
    this.settle();
  }

  /** Trial `index` starts (again) from scratch. */
  reset(index: number): void {
    this.pending.delete(index);
    this.pruner.reset(index);
  }

  /** Trials waiting for a decision. */
  waiting(): number[] {
    return [...this.pending.keys()].sort((a, b) => a - b);
  }

  private settle(): void {
    for (const [index, w] of [...this.pending].sort((a, b) => a[0] - b[0])) {
      const d = this.pruner.decide(index, w.epoch);
      if (d === 'wait') continue;
      this.pending.delete(index);
      w.resolve(d);
    }
  }
}
