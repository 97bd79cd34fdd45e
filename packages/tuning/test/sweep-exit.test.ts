/**
 * Issue 14, items 7 and 11, through the real CLI (child processes, real stages, real trials):
 *  - a sweep whose stages are all cached still writes the best trial's Grad-CAM gallery (it failed
 *    with "No backend found in registry" whenever no stage ran in the orchestrator), and a gallery
 *    that does fail is a warning recorded in best.json (`galleryError`) for the report, not a silent line;
 *  - a sweep with a failed trial exits 3 after recording everything, and its summary names the trial
 *    and the reason; a sweep without failures exits 0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import { runSweepCli } from '@mri-robust/core/testing';
import { EXIT_TRIALS_FAILED } from '../src/summary.ts';
import { loadSweep } from '../src/sweep.ts';

const WEIGHTS = path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

function experimentYaml(name: string): string {
  return `name: ${name}
seed: 5
runs: ./runs
data:
  sources:
    - { name: phantom, kind: phantom, count_per_class: 16, size: 64 }
  classes: [glioma, meningioma, notumor, pituitary]
  image: { size: 64, channels: 1, fit: pad }
  split: { mode: fractions, train: 0.5, val: 0.25, test: 0.25 }
  min_per_class: 3
noise:
  eval:
    splits: [test]
    kinds:
      - { kind: rician, snr: [5] }
augment: { copies: 0 }
model: { backbone: mobilenet_v2, weights: ${JSON.stringify(WEIGHTS)}, input_size: 64, mode: head, backend: wasm }
train: { epochs: 2 }
evaluate: { bootstrap_samples: 20 }
sweep:
  strategy: grid
  space: { learning_rate: [0.01, 0.001], batch_size: [16] }
  max_parallel: 2
`;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-exit-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function sweepCli(name: string, env: Record<string, string> = {}) {
  const file = path.join(dir, `${name}.yaml`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, experimentYaml(name));
  const res = await runSweepCli(file, { env });
  const { sweepId } = await loadSweep(file);
  const trialsDir = path.join(dir, 'runs', 'trials', sweepId);
  const best = JSON.parse(fs.readFileSync(path.join(trialsDir, 'best.json'), 'utf8')) as Record<string, unknown>;
  return { res, sweepId, trialsDir, best };
}

describe('sweep exit code and Grad-CAM gallery (issue 14 items 7, 11)', () => {
  it('writes the gallery with cached stages, exits 3 naming a failed trial, records a failed gallery', async () => {
    const first = await sweepCli('exit-a');
    expect(first.res.exitCode, first.res.stderr).toBe(0);
    expect(fs.existsSync(path.join(first.trialsDir, 'gradcam', 'gallery.json'))).toBe(true);

    // Every stage cached now: the orchestrator runs no stage, yet the gallery is written.
    let second = await sweepCli('exit-b', { MRI_TUNING_FAULT: 'throw:1' });
    // Stage keys hash the packages' code: when a source file changed since the first run, the stages
    // were rebuilt; the rerun (same sweep, t001 failed again) then has them all cached.
    if (!/ingest \w+ \(cached\).*embed \w+ \(cached\)/.test(second.res.stderr)) second = await sweepCli('exit-b', { MRI_TUNING_FAULT: 'throw:1' });
    expect(second.res.stderr).toMatch(/stages ready .*ingest \w+ \(cached\).*embed \w+ \(cached\)/);
    expect(second.res.stderr).not.toMatch(/gallery .* failed/);
    expect(fs.existsSync(path.join(second.trialsDir, 'gradcam', 'gallery.json'))).toBe(true);
    expect(second.best.galleryError ?? null).toBeNull();
    // ...and the failed trial gives a distinct exit code, after the summary names it and why.
    expect(second.res.exitCode, second.res.stderr).toBe(EXIT_TRIALS_FAILED);
    expect(second.res.stdout).toMatch(/Failed trials:\n {2}t001-\w+: .*injected failure/);
    expect(second.res.stderr).toMatch(new RegExp(`1 trial failed \\(t001-\\w+\\); exit code ${EXIT_TRIALS_FAILED}`));
    expect(second.best.trial).toMatch(/^t000-/);

    // A gallery that fails (the best model's weights are gone) is a warning recorded for the report.
    const modelDir = String(second.best.modelDir);
    const abs = path.resolve(second.trialsDir, modelDir);
    for (const f of fs.readdirSync(abs)) if (f.endsWith('.bin') || f.endsWith('.onnx')) fs.rmSync(path.join(abs, f));
    const third = await sweepCli('exit-b', { MRI_TUNING_FAULT: 'throw:1' });
    expect(third.res.stderr).toMatch(/warning: Grad-CAM gallery of t000-\w+ failed: /);
    expect(third.best.galleryError).toEqual(expect.stringMatching(/\S/));
    expect(third.best.trial).toBe(second.best.trial);
  }, 240_000);
});
