/**
 * The fixed CE baseline (baseline.ts) on a small phantom experiment with `noise.eval.benchmark: mri-c`:
 * the real pipeline (ingest → noise with the 60 mri-c sets → augment → head-mode embed of the shared
 * MobileNetV2-0.35 at 224 px), a real linear head; a second call is a cache hit, a rebuild gives the
 * same scores; the baseline's own saved model scored from pixels (`model:evaluate`) reproduces its
 * accuracies and has CE 1 on every kind against itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment, sharedDir, type Experiment } from '@mri-robust/core';
import { NOISE_KINDS } from '@mri-robust/noise';
import { selectBackend } from '../src/backend/select.ts';
import { BASELINE_NAME, ensureBaseline, runBaseline } from '../src/baseline.ts';
import { evaluateFromPixels } from '../src/evaluate-pixels.ts';
import { EMBED_SCHEMA_PARTS } from '../src/stage-embed.ts';

const WEIGHTS = path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

// The experiment's own model (a cnn at 64 px) differs from the baseline's on purpose: the baseline ignores it.
const yaml = (runs: string) => `name: baseline-phantom
seed: 21
runs: ${runs}
data:
  sources:
    - { name: phantom, kind: phantom, count_per_class: 10, size: 64 }
  classes: [glioma, meningioma, notumor, pituitary]
  image: { size: 64, channels: 1, fit: pad }
  split: { mode: fractions, train: 0.6, val: 0.2, test: 0.2 }
  min_per_class: 2
noise:
  eval:
    splits: [test]
    kinds:
      - { kind: rician, snr: [5] }
    benchmark: mri-c
augment: { copies: 0 }
model: { backbone: cnn, input_size: 64, mode: full, backend: wasm }
train: { epochs: 2 }
evaluate: { bootstrap_samples: 200 }
`;

describe('CE baseline', () => {
  let root: string;
  let experiment: Experiment;

  beforeAll(async () => {
    await selectBackend('wasm');
    root = mkdtempSync(path.join(tmpdir(), 'model-baseline-'));
    const file = path.join(root, 'baseline.yaml');
    writeFileSync(file, yaml('runs'));
    experiment = loadExperiment(file, EMBED_SCHEMA_PARTS);
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('is trained once per experiment data and cached; a rebuild gives the same scores; it scores every noisy test set', async () => {
    const first = await runBaseline(experiment, { weights: WEIGHTS, log: () => {} });
    expect(first.hit).toBe(false);
    expect(first.dir).toBe(path.join(root, 'runs', 'cache', 'baseline', first.scores.key));
    const s = first.scores;
    expect(s.name).toBe(BASELINE_NAME);
    expect(s.description).toMatch(/^linear softmax head on frozen pooled MobileNetV2-0.35 features at 224 px .*no dropout, seed \d+$/);
    expect(s.clean).toBeGreaterThanOrEqual(0);
    expect(s.clean).toBeLessThanOrEqual(1);
    // The 60 mri-c sets (12 kinds × severities 1–5) and the ad-hoc Rician SNR 5 set.
    const bench = s.corrupted.filter((c) => c.benchmark === 'mri-c');
    expect(bench).toHaveLength(60);
    expect(new Set(bench.map((c) => c.kind))).toEqual(new Set(NOISE_KINDS));
    expect(bench.filter((c) => c.kind === 'rician').map((c) => c.severity)).toEqual([1, 2, 3, 4, 5]);
    expect(s.corrupted.filter((c) => c.benchmark === null).map((c) => [c.testSet, c.kind])).toEqual([['test-rician-snr5', 'rician']]);

    const again = await runBaseline(experiment, { weights: WEIGHTS, log: () => {} });
    expect(again.hit).toBe(true);
    expect(again.scores).toEqual(s);

    // Built again from scratch (the cached folder removed; the embed stage's cache kept): identical.
    rmSync(first.dir, { recursive: true, force: true });
    const rebuilt = await runBaseline(experiment, { weights: WEIGHTS, log: () => {} });
    expect(rebuilt.hit).toBe(false);
    expect(rebuilt.scores).toEqual(s);
    expect(await ensureBaseline(experiment, { weights: WEIGHTS, log: () => {} })).toEqual(s);
  }, 900_000); // the real pipeline with 60 corrupted sets, trained twice; minutes on a loaded 2-core machine

  it('its saved model scored from pixels gives its accuracies again, CE 1 on every kind against itself', async () => {
    const b = await runBaseline(experiment, { weights: WEIGHTS, log: () => {} });
    const modelDir = path.join(b.dir, 'trial', 'model');
    const r = await evaluateFromPixels({ experiment, models: [modelDir], tta: 'none', log: () => {} });
    expect(r.evaluations).toHaveLength(62);
    expect(r.evaluations[0].accuracy).toBe(b.scores.clean);
    for (const c of b.scores.corrupted) expect([c.testSet, r.evaluations.find((e) => e.testSet === c.testSet)?.accuracy]).toEqual([c.testSet, c.accuracy]);
    expect(r.baseline?.key).toBe(b.scores.key);
    const ce = r.corruption;
    expect(ce?.benchmark).toBe('mri-c');
    expect(Object.keys(ce?.ce ?? {}).length + (ce?.skipped.length ?? 0)).toBe(12);
    for (const v of Object.values(ce?.ce ?? {})) expect(v).toBeCloseTo(1, 12);
    expect(ce?.mce).toBeCloseTo(1, 12);
  }, 600_000);
});
