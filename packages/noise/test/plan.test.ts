import { describe, expect, it } from 'vitest';
import type { ImageRecord } from '@mri-robust/core';
import { evalSetSpecs, planTrainNoise, ricianSeverityForSnr, type TrainNoiseSettings } from '../src/index.ts';

const rec = (i: number, source: string, split: ImageRecord['split'], extra: Record<string, unknown> = {}): ImageRecord => ({
  id: `r${i}`,
  label: 'a',
  split,
  source,
  path: `p${i}`,
  ...extra,
});

const train = (over: Partial<TrainNoiseSettings>): TrainNoiseSettings => ({
  sources: [],
  splits: ['train'],
  fraction: 1,
  mode: 'copies',
  seed_offset: 0,
  kinds: [{ kind: 'gaussian', probability: 1, severity: [1, 5] }],
  ...over,
});

describe('training-noise plan', () => {
  const records = Array.from({ length: 400 }, (_, i) => rec(i, i % 2 ? 'sartaj' : 'nickparvar', i % 10 === 0 ? 'test' : 'train'));

  it('chooses round(fraction · eligible) of the listed sources and splits, reproducibly', () => {
    const plan = planTrainNoise(records, train({ sources: ['sartaj'], fraction: 0.25 }), 7);
    const eligible = records.filter((r) => r.source === 'sartaj' && r.split === 'train');
    expect(plan.size).toBe(Math.round(0.25 * eligible.length));
    for (const i of plan.keys()) expect([records[i].source, records[i].split]).toEqual(['sartaj', 'train']);
    expect([...planTrainNoise(records, train({ sources: ['sartaj'], fraction: 0.25 }), 7).entries()]).toEqual([...plan.entries()]);
    expect([...planTrainNoise(records, train({ sources: ['sartaj'], fraction: 0.25 }), 8).keys()]).not.toEqual([...plan.keys()]);
  });

  it('draws kinds by weight and severities inside the range', () => {
    const plan = planTrainNoise(records, train({ kinds: [
      { kind: 'rician', probability: 3, severity: [2, 4] },
      { kind: 'gibbs', probability: 1, severity: 5 },
    ] }), 1);
    const kinds = [...plan.values()].map((p) => p.kind);
    const share = kinds.filter((k) => k === 'rician').length / kinds.length;
    expect(share).toBeGreaterThan(0.68);
    expect(share).toBeLessThan(0.82);
    for (const p of plan.values()) {
      if (p.kind === 'rician') expect(p.severity).toBeGreaterThanOrEqual(2);
      if (p.kind === 'rician') expect(p.severity).toBeLessThanOrEqual(4);
      if (p.kind === 'gibbs') expect(p.params).toEqual({ alpha: 0.78 });
    }
    expect(new Set([...plan.values()].filter((p) => p.kind === 'rician').map((p) => p.severity))).toEqual(new Set([2, 3, 4]));
  });

  it('counts a de-duplicated image as part of every source of its group', () => {
    const recs = [rec(0, 'nickparvar', 'train', { groupSources: ['nickparvar', 'sartaj'] }), rec(1, 'nickparvar', 'train'), rec(2, 'sartaj', 'train')];
    expect([...planTrainNoise(recs, train({ sources: ['sartaj'] }), 1).keys()]).toEqual([0, 2]);
  });

  it('names eval sets by split, kind and severity or SNR', () => {
    const specs = evalSetSpecs({ splits: ['test', 'val'], seed: 1, kinds: [{ kind: 'rician', severities: [], snr: [20, 3] }, { kind: 'spike', severities: [2], snr: [] }] });
    expect(specs.map((s) => s.id)).toEqual(['test-rician-snr20', 'test-rician-snr3', 'test-spike-s2', 'val-rician-snr20', 'val-rician-snr3', 'val-spike-s2']);
    expect(specs[1]).toMatchObject({ kind: 'rician', severity: 5, snr: 3, params: { snr: 3 } });
    expect(ricianSeverityForSnr(20)).toBe(2);
    expect(ricianSeverityForSnr(8)).toBe(3);
    expect(ricianSeverityForSnr(7)).toBe(4);
  });
});
