import { describe, expect, it } from 'vitest';
import { DecisionBroker } from '../src/decisions.ts';
import { createMedianPruner, createPruner, createSuccessiveHalvingPruner, rungOf, type Pruner } from '../src/pruner.ts';

/** Runs trials one after another (index order) through a pruner; returns the epoch each stopped at (or its length). */
function script(pruner: Pruner, curves: number[][]): number[] {
  return curves.map((curve, index) => {
    let stopped = curve.length;
    for (let e = 1; e <= curve.length; e++) {
      pruner.report(index, e, curve[e - 1]);
      const d = pruner.decide(index, e);
      expect(d).not.toBe('wait');
      if (d === 'stop') {
        stopped = e;
        break;
      }
    }
    pruner.end(index);
    return stopped;
  });
}

/**
 * Runs the same curves with every trial started at once, epochs arriving in a seeded interleaving
 * (as parallel workers would), through the DecisionBroker; returns where each stopped.
 */
async function interleaved(make: () => Pruner | DecisionBroker, curves: number[][], order: number[]): Promise<number[]> {
  const broker = make() as DecisionBroker;
  const stopped = curves.map((c) => c.length);
  const next = curves.map(() => 1);
  const busy = new Set<number>();
  const active = new Set(curves.map((_, i) => i));
  let k = 0;
  while (active.size > 0) {
    const ready = [...active].filter((i) => !busy.has(i));
    if (ready.length === 0) {
      await new Promise((r) => setTimeout(r, 0));
      continue;
    }
    const i = ready[order[k++ % order.length] % ready.length];
    const e = next[i]++;
    busy.add(i);
    void broker.epoch(i, e, curves[i][e - 1], e === curves[i].length ? 'continue' : null).then((d) => {
      busy.delete(i);
      if (d === 'stop' || e === curves[i].length) {
        if (d === 'stop') stopped[i] = e;
        active.delete(i);
        broker.end(i);
      }
    });
    await new Promise((r) => setTimeout(r, 0));
  }
  return stopped;
}

describe('median pruner', () => {
  const good = [0.5, 0.6, 0.7, 0.8, 0.85];
  it('stops a trial worse than the median of lower trials at that epoch after warm-up, keeps the others', () => {
    const p = createMedianPruner('maximize', 1, 2);
    const r = script(p, [
      good,
      [0.45, 0.55, 0.65, 0.75, 0.8], // only one lower trial: never compared
      [0.55, 0.65, 0.75, 0.85, 0.9], // better than both: never stopped
      [0.4, 0.41, 0.42, 0.43, 0.44], // epoch 1 is warm-up; stopped at epoch 2
      [0.6, 0.62, 0.62, 0.62, 0.62], // best-so-far 0.62 < median at epoch 3 of 0..2 (0.7); trial 3 has no epoch 3
    ]);
    expect(r).toEqual([5, 5, 5, 2, 3]);
  });

  it('does not prune before min_trials lower trials reached the epoch', () => {
    const p = createMedianPruner('maximize', 0, 3);
    expect(script(p, [good, good, [0.1, 0.1, 0.1]])).toEqual([5, 5, 3]);
  });

  it('minimizes losses', () => {
    const p = createMedianPruner('minimize', 0, 1);
    expect(
      script(p, [
        [1.0, 0.8, 0.6],
        [1.2, 1.1, 1.0],
        [0.9, 0.7, 0.5],
      ]),
    ).toEqual([3, 1, 3]);
  });

  it('waits for lower trials that have not reached the epoch, and forgets a reset trial', () => {
    const p = createMedianPruner('maximize', 0, 1);
    p.report(1, 1, 0.1);
    expect(p.decide(1, 1)).toBe('wait'); // trial 0 may still report epoch 1
    p.report(0, 1, 0.5);
    expect(p.decide(1, 1)).toBe('stop');
    p.reset(0);
    expect(p.decide(1, 1)).toBe('wait');
    p.end(0); // ended without epoch 1 (failed at start)
    expect(p.decide(1, 1)).toBe('continue');
  });

  it('says which done trials depend on a failed lower trial going on', () => {
    const p = createMedianPruner('maximize', 2, 1);
    expect(p.dependsBeyond(5, 3)).toBe(true);
    expect(p.dependsBeyond(3, 3)).toBe(false);
    expect(p.dependsBeyond(2, 0)).toBe(false); // warm-up only
  });
});

describe('successive halving pruner', () => {
  it('puts rungs at min_epochs·η^k', () => {
    expect([1, 2, 3, 4, 9, 10, 27].map((e) => rungOf(e, 1, 3))).toEqual([0, -1, 1, -1, 2, -1, 3]);
    expect([2, 4, 6, 8].map((e) => rungOf(e, 2, 2))).toEqual([0, 1, -1, 2]);
  });

  it('keeps the top 1/η of itself and the lower trials at each rung', () => {
    const p = createSuccessiveHalvingPruner('maximize', 1, 2);
    // rung 0 = epoch 1, rung 1 = epoch 2, rung 2 = epoch 4
    const r = script(p, [
      [0.5, 0.6, 0.7, 0.8], // alone at each rung: promoted
      [0.4, 0.5, 0.6, 0.7], // rung 0: 2 values, top 1 → 0.5 needed; 0.4 < 0.5 → stop at 1
      [0.6, 0.7, 0.8, 0.9], // best everywhere
      [0.55, 0.65, 0.66, 0.7], // rung0 {.5,.4,.6,.55}: top 2 → ≥ .55 ok; rung1 {.6,.7,.65}: top1 → .7 → stop at 2
    ]);
    expect(r).toEqual([4, 1, 4, 2]);
    expect(p.dependsBeyond(4, 2)).toBe(true); // rung at 4
    expect(p.dependsBeyond(3, 2)).toBe(false);
  });

  it('createPruner builds each kind; none never stops', () => {
    const settings = { kind: 'none' as const, warmupEpochs: 0, minTrials: 1, minEpochs: 1, reductionFactor: 2 };
    expect(script(createPruner(settings, 'maximize'), [[0.9], [0.1]])).toEqual([1, 1]);
    expect(
      script(createPruner({ ...settings, kind: 'median' }, 'maximize'), [
        [0.9, 0.9],
        [0.1, 0.1],
      ]),
    ).toEqual([2, 1]);
    expect(script(createPruner({ ...settings, kind: 'successive_halving' }, 'maximize'), [[0.9], [0.1]])).toEqual([1, 1]);
  });
});

describe('decision broker', () => {
  const curves = [
    [0.5, 0.6, 0.7, 0.8, 0.85, 0.86],
    [0.3, 0.35, 0.4, 0.42, 0.43, 0.44],
    [0.55, 0.65, 0.75, 0.85, 0.9, 0.91],
    [0.45, 0.62, 0.66, 0.7, 0.72, 0.73],
    [0.2, 0.7, 0.72, 0.74, 0.9, 0.95],
    [0.6, 0.61, 0.62, 0.63, 0.64, 0.65],
  ];
  for (const [kind, make] of [
    ['median', () => new DecisionBroker({ kind: 'median', warmupEpochs: 1, minTrials: 1, minEpochs: 1, reductionFactor: 2 }, 'maximize')],
    [
      'successive_halving',
      () => new DecisionBroker({ kind: 'successive_halving', warmupEpochs: 0, minTrials: 1, minEpochs: 1, reductionFactor: 2 }, 'maximize'),
    ],
  ] as const) {
    it(`${kind}: any interleaving of parallel trials gives the decisions of running them one by one`, async () => {
      const settings = kind === 'median' ? createMedianPruner('maximize', 1, 1) : createSuccessiveHalvingPruner('maximize', 1, 2);
      const sequential = script(settings, curves);
      for (const order of [[0], [5, 3, 1], [2, 7, 1, 8, 2, 8], [1, 1, 2, 3, 5, 8, 13]]) {
        expect(await interleaved(make, curves, order)).toEqual(sequential);
      }
    });
  }

  it('marks as stale the done trials compared with a failed lower trial beyond its last epoch', () => {
    const b = new DecisionBroker({ kind: 'median', warmupEpochs: 1, minTrials: 1, minEpochs: 1, reductionFactor: 2 }, 'maximize');
    const stale = b.stale(
      [
        { index: 0, epochsRun: 6 },
        { index: 2, epochsRun: 2 },
        { index: 3, epochsRun: 6 },
      ],
      [{ index: 1, reached: 2 }],
    );
    expect([...stale]).toEqual([3]);
  });
});
