/**
 * Issue 14, item 1: the same experiment and seed give the same sweep, whatever the timing.
 * One small real sweep (phantoms → real stages → real trainTrial in workers → DuckDB) with a median
 * pruner that does prune, run three ways into one tracking file (three experiment names, so three
 * sweeps; the stage caches are shared):
 *   (a) uninterrupted, max_parallel 2;
 *   (b) uninterrupted, max_parallel 1;
 *   (c) max_parallel 2, the CLI orchestrator or one of its workers SIGKILLed at seeded random moments,
 *       each followed by a resume, then a last resume without kills.
 * All three must give equal trial statuses, epochs, objectives and metrics.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '@mri-robust/core';
import { runSweepCli } from '@mri-robust/core/testing';
import { phantomExperiment } from './phantom-experiment.ts';
import { loadSweep, runSweep } from '../src/sweep.ts';
import { snapshotDb, sweepOutcome } from './check-db.ts';
import { childrenOf, startCli } from './queue-helpers.ts';

function experimentYaml(name: string, maxParallel: number): string {
  return phantomExperiment({
    name,
    seed: 11,
    runs: './runs',
    perClass: 20,
    epochs: 6,
    bootstrap: 20,
    sweep: `  strategy: grid
  space: { learning_rate: [0.03, 0.0003, 0.01, 0.0001, 0.003, 0.00003], dropout: [0.2], batch_size: [16] }
  max_parallel: ${maxParallel}
  pruner: { kind: median, warmup_epochs: 1, min_trials: 1 }
`,
  });
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-determinism-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sweep determinism (issue 14 item 1)', () => {
  it('gives the same statuses, epochs and metrics uninterrupted, with max_parallel 1, and under kill -9 and resumes', async () => {
    const files = ['det-a', 'det-b', 'det-c'].map((name, i) => {
      const f = path.join(dir, `${name}.yaml`);
      fs.writeFileSync(f, experimentYaml(name, i === 1 ? 1 : 2));
      return f;
    });
    const quiet = { log: () => undefined, out: () => undefined, gallery: false };
    const a = await runSweep({ experimentFile: files[0], ...quiet });
    const b = await runSweep({ experimentFile: files[1], ...quiet });
    const outA = await sweepOutcome(a.trackingFile, a.sweepId);
    const outB = await sweepOutcome(b.trackingFile, b.sweepId);
    // The experiment must prune, or the test would prove nothing.
    expect((outA as { status: string }[]).some((t) => t.status === 'pruned')).toBe(true);
    expect(outB).toEqual(outA);

    // (c) kills: even k → a random worker of the orchestrator, odd k → the orchestrator.
    const { sweepId } = await loadSweep(files[2]);
    const rng = createRng('determinism-kills');
    const log: string[] = [];
    for (let k = 0; k < 4; k++) {
      const run = startCli(['sweep', `--experiment=${files[2]}`]);
      const p = run.proc;
      // One trial started (two for odd k), or the run's exit.
      await run.waitFor(k % 2 === 0 ? / started: / : / started: [\s\S]* started: /, 600_000);
      await new Promise((r) => setTimeout(r, rng.uniform(0, 2500)));
      const workers = childrenOf(p.pid!);
      if (k % 2 === 0 && workers.length > 0) {
        const w = workers[rng.int(workers.length)];
        try {
          process.kill(w, 'SIGKILL');
        } catch {
          // already gone
        }
        const res = await p;
        log.push(`kill ${k}: worker ${w} → orchestrator exit ${res.exitCode}`);
      } else {
        p.kill('SIGKILL');
        const res = await p;
        log.push(`kill ${k}: orchestrator → ${res.signal ?? res.exitCode}`);
      }
      const tracking = path.join(dir, 'runs', 'tracking.duckdb');
      if (fs.existsSync(tracking)) expect((await snapshotDb(tracking, sweepId)).problems).toEqual([]);
    }
    const last = await runSweepCli(files[2]);
    expect(last.exitCode, `${log.join('\n')}\n${last.stderr}`).toBe(0);
    const outC = await sweepOutcome(a.trackingFile, sweepId);
    expect(outC, log.join('\n')).toEqual(outA);
  }, 300_000);
});
