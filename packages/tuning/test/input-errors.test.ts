/**
 * Issue 14, item 9: inputs that printed raw stack traces or were reported late, each now one line
 * naming the file and line (or the file written):
 *  - a YAML alias bomb (billion laughs) in an experiment file;
 *  - split fractions that do not sum to 1, reported at validation (before the sweep banner) at their line;
 *  - `model predict --gradcam` into a missing folder (a real CLI run with a real tiny model).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { runCli, runSweepCli } from '@mri-robust/core/testing';
import { trainTinyModel } from '@mri-robust/model';
import { phantomExperiment, type PhantomExperiment } from './phantom-experiment.ts';

const root = workspaceRoot();
const TUNING_CLI = 'packages/tuning/src/cli.ts';
const MODEL_CLI = 'packages/model/src/cli.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'input-errors-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function sweep(yaml: string) {
  const file = path.join(dir, `e${Math.random().toString(36).slice(2, 8)}.yaml`);
  fs.writeFileSync(file, yaml);
  const r = await runSweepCli(file, { timeout: 60_000 });
  return { ...r, shown: path.relative(root, file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&') };
}

/** A one-trial grid over the phantom data (1 epoch): the experiments these refusals start from. */
const oneTrialPhantom = (name: string, extra: Partial<PhantomExperiment> = {}) =>
  phantomExperiment({
    name,
    seed: 1,
    runs: './runs',
    perClass: 4,
    epochs: 1,
    bootstrap: 10,
    sweep: '  strategy: grid\n  space: { learning_rate: [0.01] }\n',
    ...extra,
  });

describe('one-line errors for hostile or inconsistent inputs (issue 14 item 9)', () => {
  it('a YAML alias bomb is one line naming the file and the line of the first alias', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const p = String.fromCharCode(97 + i - 1);
      const n = String.fromCharCode(97 + i);
      levels.push(`${n}: &${n} [*${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}]`);
    }
    const r = await sweep(`name: bomb\nseed: 1\nbomb:\n${levels.map((l) => `  ${l}`).join('\n')}\n`);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^error: ${r.shown}:5:\\d+: \\(document\\): YAML: too many alias expansions`)),
    ]);
  });

  it('split fractions that do not sum to 1 are reported at validation, at their line, before any banner', async () => {
    const r = await sweep(
      [
        'name: fractions',
        'seed: 1',
        'data:',
        '  sources:',
        '    - { name: phantom, kind: phantom, count_per_class: 8, size: 32 }',
        '  classes: [glioma, notumor]',
        '  split: { mode: fractions, train: 0.5, val: 0.2, test: 0.2 }',
        'sweep: { strategy: grid, space: { learning_rate: [0.01] } }',
        '',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^error: ${r.shown}:7:10: /data/split: train \\+ val \\+ test must be 1 \\(got 0\\.5 \\+ 0\\.2 \\+ 0\\.2 = 0\\.9\\)`)),
    ]);
  });

  it('`model predict --gradcam` into a missing folder is one line naming the file', async () => {
    const modelDir = path.join(dir, 'model');
    await trainTinyModel({ outDir: modelDir, sharedDir: sharedDir(), epochs: 1 });
    const image = path.join(sharedDir(), 'datasets', 'sartaj', 'Testing', 'glioma_tumor', 'image(1).jpg');
    const out = path.join(dir, 'no', 'such', 'folder', 'cam.png');
    const r = await runCli(MODEL_CLI, ['predict', '--model', modelDir, '--image', image, '--gradcam', out], { timeout: 90_000 });
    expect(r.exitCode).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => /error|Error| {4}at /.test(l));
    expect(errors).toEqual([`error: cannot open ${out}: the folder ${path.dirname(out)} does not exist (ENOENT)`]);
  }, 120_000);

  it('a misspelt flag of the tuning CLI is one line naming the allowed flags (issue 11 item 6)', async () => {
    const r = await runCli(TUNING_CLI, ['sweep', '--experimnt=x.yaml'], { timeout: 60_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['error: unknown option --experimnt; allowed: --experiment, --max-parallel, --queue, --verify']);
    const d = await runCli(TUNING_CLI, ['doctor', `--runs=${dir}`, '--repiar'], { timeout: 60_000 });
    expect(d.exitCode).toBe(1);
    expect(d.stderr.trim().split('\n')).toEqual(['error: unknown option --repiar; allowed: --repair, --runs, --verify']);
  });

  it('sweep.objective mean_corruption_val_accuracy without the benchmark on validation is one line naming the fields (issue 16 item 4)', async () => {
    const yaml = (o: { benchmark?: 'mri-c'; evalSplits?: string[] }) =>
      oneTrialPhantom('corruption-objective', {
        ...o,
        sweep: '  strategy: grid\n  space: { learning_rate: [0.01] }\n  objective: mean_corruption_val_accuracy\n',
      });
    for (const o of [{}, { benchmark: 'mri-c' as const }, { evalSplits: ['test', 'val'] }]) {
      const r = await sweep(yaml(o));
      expect(r.exitCode).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^error: ${r.shown}:\\d+:\\d+: /sweep/objective: mean_corruption_val_accuracy needs .*noise\\.eval\\.benchmark.*noise\\.eval\\.splits`),
      );
    }
  });

  it('train.consistency without noisy copies of the training images is one line naming the fields, before any stage runs', async () => {
    const text = oneTrialPhantom('consistency-no-copies').replace('train: { epochs: 1,', 'train: { consistency: 1, epochs: 1,');
    const r = await sweep(text);
    expect(r.exitCode).toBe(1);
    const line = text.split('\n').findIndex((l) => l.startsWith('train:')) + 1;
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^error: ${r.shown}:${line}:${'train: { consistency: '.length + 1}: /train/consistency: needs noisy copies of the training images beside them: ` +
          'set noise\\.train\\.mode copies, .* \\(now mode copies, fraction 0, splits \\[train\\]\\)$',
      ),
    );
  });

  it('evaluate.benchmark (the key before it moved) is one line naming the file, its line and the new place noise.eval.benchmark', async () => {
    const text = oneTrialPhantom('moved-benchmark').replace('evaluate: { bootstrap_samples: 10 }', 'evaluate: { bootstrap_samples: 10, benchmark: mri-c }');
    const line = text.split('\n').findIndex((l) => l.startsWith('evaluate:')) + 1;
    const r = await sweep(text);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: ${r.shown}:${line}:\\d+: /evaluate/benchmark: moved to noise\\.eval\\.benchmark: write it there \\(noise: \\{ eval: \\{ benchmark: mri-c \\} \\}\\)`,
        ),
      ),
    ]);
  });
});
