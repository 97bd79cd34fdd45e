import { describe, expect, it } from 'vitest';
import { createMedianPruner, createPruner, createSuccessiveHalvingPruner, rungOf, type Pruner } from '../src/pruner.ts';

/** Runs trials one after another through a pruner; returns the epoch each stopped at (or its length). */
function script(pruner: Pruner, curves: Record<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, curve] of Object.entries(curves)) {
    out[id] = curve.length;
    for (let e = 1; e <= curve.length; e++) {
      if (pruner.report(id, e, curve[e - 1]) === 'stop') {
        out[id] = e;
        break;
      }
    }
    if (out[id] === curve.length) pruner.complete(id);
  }
  return out;
}

describe('median pruner', () => {
  const good = [0.5, 0.6, 0.7, 0.8, 0.85];
  it('stops a trial worse than the median of completed trials after warm-up, keeps the others', () => {
    const p = createMedianPruner('maximize', 1, 2);
    const r = script(p, {
      a: good,
      b: [0.45, 0.55, 0.65, 0.75, 0.8],
      c: [0.55, 0.65, 0.75, 0.85, 0.9], // better than both: never stopped
      bad: [0.4, 0.41, 0.42, 0.43, 0.44], // epoch 1 is warm-up; stopped at epoch 2
      late: [0.6, 0.62, 0.62, 0.62, 0.62], // best-so-far 0.62 < median at epoch 3 (0.7)
    });
    expect(r).toEqual({ a: 5, b: 5, c: 5, bad: 2, late: 3 });
  });

  it('does not prune before min_trials trials completed', () => {
    const p = createMedianPruner('maximize', 0, 3);
    expect(script(p, { a: good, b: good, bad: [0.1, 0.1, 0.1] })).toEqual({ a: 5, b: 5, bad: 3 });
  });

  it('minimizes losses', () => {
    const p = createMedianPruner('minimize', 0, 1);
    const r = script(p, { a: [1.0, 0.8, 0.6], worse: [1.2, 1.1, 1.0], better: [0.9, 0.7, 0.5] });
    expect(r).toEqual({ a: 3, worse: 1, better: 3 });
  });

  it('forgets a trial that is reset (rerun)', () => {
    const p = createMedianPruner('maximize', 0, 1);
    script(p, { a: good });
    p.reset('a');
    expect(p.report('b', 1, 0.1)).toBe('continue');
  });
});

describe('successive halving pruner', () => {
  it('puts rungs at min_epochs·η^k', () => {
    expect([1, 2, 3, 4, 9, 10, 27].map((e) => rungOf(e, 1, 3))).toEqual([0, -1, 1, -1, 2, -1, 3]);
    expect([2, 4, 6, 8].map((e) => rungOf(e, 2, 2))).toEqual([0, 1, -1, 2]);
  });

  it('keeps the top 1/η at each rung (asynchronously, in arrival order)', () => {
    const p = createSuccessiveHalvingPruner('maximize', 1, 2);
    // rung 0 = epoch 1, rung 1 = epoch 2, rung 2 = epoch 4
    const r = script(p, {
      a: [0.5, 0.6, 0.7, 0.8], // alone at each rung: promoted
      b: [0.4, 0.5, 0.6, 0.7], // rung 0: 2 values, top 1 → 0.5 needed; 0.4 < 0.5 → stop at 1
      c: [0.6, 0.7, 0.8, 0.9], // best everywhere
      d: [0.55, 0.65, 0.66, 0.7], // rung0 {.5,.4,.6,.55}: top 2 → ≥ .55 ok; rung1 {.6,.7,.65}: top1 → .7 → stop at 2
    });
    expect(r).toEqual({ a: 4, b: 1, c: 4, d: 2 });
  });

  it('createPruner builds each kind; none never stops', () => {
    const settings = { kind: 'none' as const, warmupEpochs: 0, minTrials: 1, minEpochs: 1, reductionFactor: 2 };
    const p = createPruner(settings, 'maximize');
    expect(script(p, { a: [0.9], b: [0.1] })).toEqual({ a: 1, b: 1 });
    expect(script(createPruner({ ...settings, kind: 'median' }, 'maximize'), { a: [0.9, 0.9], b: [0.1, 0.1] })).toEqual({ a: 2, b: 1 });
    expect(script(createPruner({ ...settings, kind: 'successive_halving' }, 'maximize'), { a: [0.9], b: [0.1] })).toEqual({ a: 1, b: 1 });
  });
});
