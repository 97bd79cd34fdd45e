import { describe, expect, it } from 'vitest';
import { gridTrials, randomTrials, sampleTrials } from '../src/sampler.ts';
import { planTrials } from '../src/plan.ts';
import { resolveSweepSettings } from '../src/schema.ts';

const defaults = { learningRate: 0.001, dropout: 0.2, batchSize: 32 };

describe('grid sampler', () => {
  it('enumerates every combination, learning rate slowest and batch size fastest', () => {
    const s = resolveSweepSettings({ strategy: 'grid', space: { learning_rate: [0.1, 0.01], dropout: [0, 0.5], batch_size: [8, 16, 32] } }, defaults, 1, 2);
    const t = gridTrials(s.space);
    expect(t).toHaveLength(12);
    expect(t[0]).toEqual({ learningRate: 0.1, dropout: 0, batchSize: 8 });
    expect(t[1]).toEqual({ learningRate: 0.1, dropout: 0, batchSize: 16 });
    expect(t[3]).toEqual({ learningRate: 0.1, dropout: 0.5, batchSize: 8 });
    expect(t[11]).toEqual({ learningRate: 0.01, dropout: 0.5, batchSize: 32 });
    const keys = new Set(t.map((p) => `${p.learningRate}|${p.dropout}|${p.batchSize}`));
    expect(keys.size).toBe(12);
  });

  it('takes dimensions left out of the space from the train section', () => {
    const s = resolveSweepSettings({ strategy: 'grid', space: { dropout: [0.1, 0.3] } }, defaults, 1, 2);
    expect(gridTrials(s.space)).toEqual([
      { learningRate: 0.001, dropout: 0.1, batchSize: 32 },
      { learningRate: 0.001, dropout: 0.3, batchSize: 32 },
    ]);
  });

  it('refuses a range in a grid', () => {
    expect(() => gridTrials({ learningRate: { logUniform: [1e-4, 1e-2] }, dropout: { values: [0] }, batchSize: { values: [1] } })).toThrow(/learning_rate/);
  });
});

describe('random sampler', () => {
  const space = resolveSweepSettings(
    {
      strategy: 'random',
      trials: 50,
      space: { learning_rate: { log_uniform: [1e-4, 1e-1] }, dropout: { uniform: [0.1, 0.6] }, batch_size: [16, 64] },
    },
    defaults,
    7,
    2,
  ).space;

  it('gives the same trials in the same order for the same seed, others for another seed', () => {
    const a = randomTrials(space, 50, 7);
    const b = randomTrials(space, 50, 7);
    const c = randomTrials(space, 50, 8);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(randomTrials(space, 20, 7)).toEqual(a.slice(0, 20));
  });

  it('draws inside the ranges, log-uniformly for the learning rate', () => {
    const t = randomTrials(space, 400, 3);
    for (const p of t) {
      expect(p.learningRate).toBeGreaterThanOrEqual(1e-4);
      expect(p.learningRate).toBeLessThanOrEqual(1e-1);
      expect(p.dropout).toBeGreaterThanOrEqual(0.1);
      expect(p.dropout).toBeLessThan(0.6 + 1e-9);
      expect([16, 64]).toContain(p.batchSize);
    }
    // log-uniform over 3 decades: about a third of the draws in each decade
    const low = t.filter((p) => p.learningRate < 1e-3).length;
    const high = t.filter((p) => p.learningRate >= 1e-2).length;
    expect(low).toBeGreaterThan(90);
    expect(low).toBeLessThan(180);
    expect(high).toBeGreaterThan(90);
    expect(high).toBeLessThan(180);
    expect(new Set(t.map((p) => p.batchSize)).size).toBe(2);
  });

  it('sampleTrials dispatches on the strategy', () => {
    expect(sampleTrials({ strategy: 'random', space, trials: 5, seed: 7 })).toEqual(randomTrials(space, 5, 7));
  });
});

describe('trial plan', () => {
  const config = { name: 'x', seed: 3, train: { epochs: 5 }, sweep: { strategy: 'grid', space: { batch_size: [8, 16] } } };
  const settings = resolveSweepSettings({ strategy: 'grid', space: { batch_size: [8, 16] } }, defaults, 3, 2);
  it('gives stable ids, seeds and config hashes that depend on the parameters', () => {
    const a = planTrials(config, settings);
    const b = planTrials(structuredClone(config), settings);
    expect(a).toEqual(b);
    expect(a[0].trialId).toMatch(/^t000-[0-9a-f]{8}$/);
    expect(a[0].configHash).not.toBe(a[1].configHash);
    expect(a[0].seed).not.toBe(a[1].seed);
  });
  it('changes the config hash when the trained experiment changes, not when max_parallel does', () => {
    const a = planTrials(config, settings);
    const other = planTrials({ ...config, train: { epochs: 6 } }, settings);
    expect(other[0].configHash).not.toBe(a[0].configHash);
    const mp = planTrials({ ...config, sweep: { ...config.sweep, max_parallel: 4 } }, { ...settings, maxParallel: 4 });
    expect(mp[0].configHash).toBe(a[0].configHash);
  });
});
