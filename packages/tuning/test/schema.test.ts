import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentError, parseExperiment, workspaceRoot, type SchemaPart } from '@mri-robust/core';
import { resolveSweepSettings, sweepSchemaPart } from '../src/schema.ts';
import { loadSweep } from '../src/sweep.ts';

const parts = [sweepSchemaPart as SchemaPart];

function issues(yaml: string) {
  try {
    parseExperiment(yaml, '/tmp/exp.yaml', parts);
  } catch (e) {
    if (e instanceof ExperimentError) return e.issues.map((i) => ({ line: i.line, pointer: i.pointer, message: i.message }));
    throw e;
  }
  return [];
}

describe('sweep schema', () => {
  it('accepts a grid and a random sweep', () => {
    expect(issues('name: x\nsweep:\n  strategy: grid\n  space:\n    learning_rate: [0.001, 0.01]\n    batch_size: [16]\n')).toEqual([]);
    expect(
      issues(
        'name: x\nsweep:\n  strategy: random\n  trials: 4\n  space:\n    learning_rate: {log_uniform: [0.0001, 0.01]}\n    dropout: {uniform: [0, 0.5]}\n  pruner: {kind: median, warmup_epochs: 2}\n',
      ),
    ).toEqual([]);
  });

  it('reports impossible values with line and field', () => {
    const got = issues(
      ['name: x', 'sweep:', '  strategy: random', '  trials: 3', '  space:', '    learning_rate: [0.01, 0]', '    dropout: [1.0]', '    batch_size: [0]'].join(
        '\n',
      ),
    );
    expect(got.map((i) => [i.line, i.pointer])).toEqual([
      [6, '/sweep/space/learning_rate/1'],
      [7, '/sweep/space/dropout/0'],
      [8, '/sweep/space/batch_size/0'],
    ]);
  });

  it('refuses an unknown strategy, an empty space, a range in a grid, random without trials', () => {
    expect(issues('name: x\nsweep:\n  strategy: bayes\n  space: {batch_size: [1]}\n')).toEqual([
      expect.objectContaining({ line: 3, pointer: '/sweep/strategy', message: expect.stringMatching(/grid.*random/) }),
    ]);
    expect(issues('name: x\nsweep:\n  strategy: grid\n  space: {}\n')).toEqual([expect.objectContaining({ line: 4, pointer: '/sweep/space' })]);
    expect(issues('name: x\nsweep:\n  strategy: grid\n  space:\n    learning_rate: {log_uniform: [0.001, 0.1]}\n')).toEqual([
      expect.objectContaining({ line: 5, pointer: '/sweep/space/learning_rate', message: expect.stringMatching(/list/) }),
    ]);
    expect(issues('name: x\nsweep:\n  strategy: random\n  space: {batch_size: [1]}\n')).toEqual([
      expect.objectContaining({ pointer: '/sweep', message: expect.stringMatching(/trials/) }),
    ]);
    expect(issues('name: x\nsweep:\n  strategy: grid\n  space: {batch_size: [1]}\n  pruner: {kind: hyperband}\n')).toEqual([
      expect.objectContaining({ line: 5, pointer: '/sweep/pruner/kind' }),
    ]);
  });

  it('reports a range with low ≥ high at its line (loadSweep)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-schema-'));
    const file = path.join(dir, 'e.yaml');
    fs.writeFileSync(file, 'name: x\nsweep:\n  strategy: random\n  trials: 2\n  space:\n    learning_rate: {log_uniform: [0.1, 0.001]}\n');
    const err = await loadSweep(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExperimentError);
    expect((err as ExperimentError).issues).toEqual([
      expect.objectContaining({ line: 6, pointer: '/sweep/space/learning_rate/log_uniform', message: expect.stringMatching(/low < high/) }),
    ]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fills defaults: objective, pruner, max_parallel = cores, seed = experiment seed', () => {
    const s = resolveSweepSettings({ strategy: 'grid', space: { batch_size: [4] } }, { learningRate: 0.01, dropout: 0.1, batchSize: 8 }, 99, 6);
    expect(s).toMatchObject({ objective: 'val_accuracy', maxParallel: 6, seed: 99, epochs: null, trialTimeoutS: null, trials: null });
    expect(s.pruner.kind).toBe('none');
  });
});

describe('the shipped experiments', () => {
  it.each(['default.yaml', 'brain-mri.yaml'])('experiments/%s validates against every package’s schema and plans its sweep', async (name) => {
    const file = path.join(workspaceRoot(), 'experiments', name);
    const plan = await loadSweep(file);
    expect(plan.trials.length).toBeGreaterThan(1);
    expect(new Set(plan.trials.map((t) => t.trialId)).size).toBe(plan.trials.length);
  });
});
