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
  chain: [1, 1],
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
    const plan = planTrainNoise(
      records,
      train({
        kinds: [
          { kind: 'rician', probability: 3, severity: [2, 4] },
          { kind: 'gibbs', probability: 1, severity: 5 },
        ],
      }),
      1,
    );
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
    const specs = evalSetSpecs({
      splits: ['test', 'val'],
      seed: 1,
      kinds: [
        { kind: 'rician', severities: [], snr: [20, 3] },
        { kind: 'spike', severities: [2], snr: [] },
      ],
    });
    expect(specs.map((s) => s.id)).toEqual(['test-rician-snr20', 'test-rician-snr3', 'test-spike-s2', 'val-rician-snr20', 'val-rician-snr3', 'val-spike-s2']);
    expect(specs[1]).toMatchObject({ kind: 'rician', severity: 5, snr: 3, params: { snr: 3 } });
    expect(ricianSeverityForSnr(20)).toBe(2);
    expect(ricianSeverityForSnr(8)).toBe(3);
    expect(ricianSeverityForSnr(7)).toBe(4);
  });
});

describe('chained corruptions (AugMix-style)', () => {
  const records = Array.from({ length: 300 }, (_, i) => rec(i, 'a', 'train'));
  const kinds: TrainNoiseSettings['kinds'] = [
    { kind: 'rician', probability: 2, severity: [1, 5] },
    { kind: 'gibbs', probability: 1, severity: 3 },
    { kind: 'motion_blur', probability: 1, severity: [2, 4] },
    { kind: 'bias_field', probability: 1, severity: [1, 2] },
  ];

  it('draws 2–3 distinct kinds per image, each severity in its range, reproducibly; the first step is the tag', () => {
    const plan = planTrainNoise(records, train({ kinds, chain: [2, 3] }), 5);
    expect(plan.size).toBe(300);
    const lengths = new Set<number>();
    for (const p of plan.values()) {
      const chain = p.chain ?? [];
      lengths.add(chain.length);
      expect(chain.length).toBeGreaterThanOrEqual(2);
      expect(chain.length).toBeLessThanOrEqual(3);
      expect(new Set(chain.map((c) => c.kind)).size).toBe(chain.length);
      expect(chain[0]).toMatchObject({ kind: p.kind, severity: p.severity, seed: p.seed });
      for (const c of chain) {
        const k = kinds.find((x) => x.kind === c.kind)!;
        const [lo, hi] = Array.isArray(k.severity) ? k.severity : [k.severity, k.severity];
        expect(c.severity).toBeGreaterThanOrEqual(lo);
        expect(c.severity).toBeLessThanOrEqual(hi);
      }
    }
    expect([...lengths].sort()).toEqual([2, 3]);
    expect([...planTrainNoise(records, train({ kinds, chain: [2, 3] }), 5).entries()]).toEqual([...plan.entries()]);
  });

  it('[1, 1] plans carry no chain and equal the plan of settings written before chains existed', () => {
    const withDefault = planTrainNoise(records, train({ kinds }), 9);
    const { chain: _omit, ...legacy } = train({ kinds });
    const old = planTrainNoise(records, legacy as TrainNoiseSettings, 9);
    expect([...withDefault.entries()]).toEqual([...old.entries()]);
    expect([...withDefault.values()].every((p) => p.chain === undefined)).toBe(true);
  });
});

describe('chained corruptions on pixels', () => {
  it('a chain applies its steps in order (equal to applying them one by one), and settings are checked', async () => {
    const { noisePixels, checkNoiseSettings } = await import('../src/index.ts');
    const shape = { height: 24, width: 24, channels: 1 };
    const pixels = Uint8Array.from({ length: 24 * 24 }, (_, i) => (i * 37) % 251);
    const a = { kind: 'gaussian', params: { sigma: 0.05 }, seed: 11 };
    const b = { kind: 'gibbs', params: { alpha: 0.5 }, seed: 12 };
    const once = noisePixels({ pixels, ...a }, shape);
    const twice = noisePixels({ pixels: once, ...b }, shape);
    const chained = noisePixels({ pixels, ...a, chain: [a, b] }, shape);
    // uint8 rounding between the steps differs from the float chain by at most one level
    let maxDiff = 0;
    for (let i = 0; i < chained.length; i++) maxDiff = Math.max(maxDiff, Math.abs(chained[i] - twice[i]));
    expect(maxDiff).toBeLessThanOrEqual(1);
    expect(Buffer.from(chained).equals(Buffer.from(once))).toBe(false);
    const settings = (chain: [number, number]) => ({
      train: train({ kinds: [{ kind: 'gaussian', probability: 1, severity: 2 }], chain }),
      eval: { splits: ['test' as const], seed: 1, kinds: [] },
      contact_sheet: { per_class: 1 },
    });
    expect(() => checkNoiseSettings(settings([2, 2]), null, 'e.yaml')).toThrow(
      /e\.yaml: \/noise\/train\/chain: up to 2 corruptions per image need at least that many kinds \(1 listed\)/,
    );
    expect(() => checkNoiseSettings(settings([3, 2]), null, 'e.yaml')).toThrow(/\/noise\/train\/chain: \[min, max\] with min > max/);
  });
});
