/**
 * Issue 14, items 4 and 8: values that used to pass validation and then hang or crash the sweep.
 *  - `sweep.trials: 1000000000000` planned every trial before printing anything (100 % CPU, no
 *    output): trials are bounded in the schema, grids by their size, and trials are planned lazily.
 *  - `learning_rate: [1e300]` built every stage, then crashed in DuckDB: learning rates are bounded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentError } from '@mri-robust/core';
import { loadSweep } from '../src/sweep.ts';
import { gridTrials, randomTrials, trialCount, trialParamsAt } from '../src/sampler.ts';
import { resolveSweepSettings } from '../src/schema.ts';

async function issuesOfAsync(sweep: string): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-bounds-'));
  const file = path.join(dir, 'e.yaml');
  fs.writeFileSync(file, `name: bounds\nseed: 1\n${sweep}`);
  try {
    await loadSweep(file);
  } catch (e) {
    if (e instanceof ExperimentError) return e.issues.map((i) => `${i.line}:${i.pointer}: ${i.message}`);
    throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return [];
}

describe('sweep bounds (issue 14 items 4, 8)', () => {
  it('refuses a trial count beyond the bound with its line, before planning anything', async () => {
    const got = await issuesOfAsync('sweep:\n  strategy: random\n  trials: 1000000000000\n  space: { learning_rate: { log_uniform: [0.0001, 0.01] } }\n');
    expect(got).toEqual([expect.stringMatching(/^5:\/sweep\/trials: must be <= 10000/)]);
  });

  it('refuses a grid larger than the bound, naming the space', async () => {
    const values = (n: number, f: (i: number) => number) => `[${Array.from({ length: n }, (_, i) => f(i)).join(', ')}]`;
    const got = await issuesOfAsync(
      `sweep:\n  strategy: grid\n  space:\n    learning_rate: ${values(30, (i) => 0.0001 * (i + 1))}\n    dropout: ${values(30, (i) => i / 31)}\n    batch_size: ${values(30, (i) => i + 1)}\n`,
    );
    expect(got).toEqual([expect.stringMatching(/^6:\/sweep\/space: a grid of 27000 trials \(30 × 30 × 30\); at most 10000/)]);
  });

  it('bounds learning rates, batch sizes, max_parallel, epochs and the trial time limit', async () => {
    const got = await issuesOfAsync(
      [
        'sweep:',
        '  strategy: grid',
        '  space:',
        '    learning_rate: [1e300]',
        '    batch_size: [1e300]',
        '  max_parallel: 100000',
        '  epochs: 1e9',
        '  trial_timeout_s: 1e12',
        '',
      ].join('\n'),
    );
    expect(got).toEqual([
      expect.stringMatching(/^6:\/sweep\/space\/learning_rate\/0: must be <= 10/),
      expect.stringMatching(/^7:\/sweep\/space\/batch_size\/0: must be <= 65536/),
      expect.stringMatching(/^8:\/sweep\/max_parallel: must be <= 256/),
      expect.stringMatching(/^9:\/sweep\/epochs: must be <= 100000/),
      expect.stringMatching(/^10:\/sweep\/trial_timeout_s: must be <= 604800/),
    ]);
    const range = await issuesOfAsync('sweep:\n  strategy: random\n  trials: 2\n  space: { learning_rate: { log_uniform: [0.001, 1e300] } }\n');
    expect(range).toEqual([expect.stringMatching(/^6:\/sweep\/space\/learning_rate\/log_uniform\/1: must be <= 10/)]);
  });

  it('plans trial i without planning the others, equal to the full list', () => {
    const grid = resolveSweepSettings(
      { strategy: 'grid', space: { learning_rate: [0.1, 0.01, 0.001], dropout: [0, 0.5], batch_size: [8, 16] } },
      { learningRate: 1e-3, dropout: 0.2, batchSize: 32 },
      3,
    );
    expect(trialCount(grid)).toBe(12);
    expect(Array.from({ length: 12 }, (_, i) => trialParamsAt(grid, i))).toEqual(gridTrials(grid.space));
    const random = resolveSweepSettings(
      { strategy: 'random', trials: 10000, space: { learning_rate: { log_uniform: [1e-4, 1e-2] }, dropout: { uniform: [0, 0.5] } } },
      { learningRate: 1e-3, dropout: 0.2, batchSize: 32 },
      3,
    );
    expect(trialCount(random)).toBe(10000);
    expect(trialParamsAt(random, 9999)).toEqual(randomTrials(random.space, 10000, random.seed)[9999]);
  });
});
