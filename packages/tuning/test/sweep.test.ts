/**
 * Real small sweeps: synthetic phantoms → real noise / augment / embed stages (MobileNetV2-0.35
 * from ../shared at 64 px, head mode) → real trainTrial in worker processes → DuckDB.
 * 1. The orchestrator (the CLI, a child process) is SIGKILLed at several seeded random moments,
 *    then resumed: no committed row is lost, no epoch is duplicated, every trial finishes once,
 *    and the killed orchestrator's workers die with it.
 * 2. A trial that throws, one whose worker is SIGKILLed (as by the OOM killer) and one that hangs
 *    past trial_timeout_s are recorded as failed with their error; the others finish.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, sharedDir, workspaceRoot } from '@mri-robust/core';
import { runCli, runSweepCli } from '@mri-robust/core/testing';
import { loadSweep, runSweep } from '../src/sweep.ts';
import { snapshotDb, type DbSnapshot } from './check-db.ts';
import { childrenOf, isAlive, startCli, waitUntil } from './queue-helpers.ts';

const root = workspaceRoot();
const CLI = path.join(root, 'packages', 'tuning', 'src', 'cli.ts');
const WEIGHTS = path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

function experimentYaml(sweep: string): string {
  return `name: tuning-test
seed: 7
runs: ./runs
data:
  sources:
    - { name: phantom, kind: phantom, count_per_class: 25, size: 64 }
  classes: [glioma, meningioma, notumor, pituitary]
  image: { size: 64, channels: 1, fit: pad }
  split: { mode: fractions, train: 0.6, val: 0.2, test: 0.2 }
  min_per_class: 3
noise:
  eval:
    splits: [test]
    kinds:
      - { kind: rician, snr: [5] }
augment: { copies: 0 }
model: { backbone: mobilenet_v2, weights: ${JSON.stringify(WEIGHTS)}, input_size: 64, mode: head, backend: wasm }
train: { epochs: 5, early_stopping: { patience: 100 } }
evaluate: { bootstrap_samples: 50 }
${sweep}`;
}

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-sweep-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Rows of trials that are done, keyed by trial: they must never change once committed. */
function doneRows(s: DbSnapshot): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of s.trials) {
    if (t.status !== 'finished' && t.status !== 'pruned') continue;
    const eps = s.epochs.filter((e) => e.trial_id === t.trial_id);
    out.set(t.trial_id, JSON.stringify({ t: { ...t }, eps }));
  }
  return out;
}

describe('sweep orchestrator (real stages, real trainTrial, real DuckDB)', () => {
  it('survives SIGKILL at random moments and resumes without lost or duplicate rows', async () => {
    const file = path.join(dir, 'kill.yaml');
    fs.writeFileSync(
      file,
      experimentYaml(`sweep:
  strategy: grid
  space: { learning_rate: [0.01, 0.001], dropout: [0.0, 0.3], batch_size: [16] }
  max_parallel: 2
  pruner: { kind: median, warmup_epochs: 2, min_trials: 1 }
`),
    );
    const { sweepId, trials } = await loadSweep(file);
    const trackingFile = path.join(dir, 'runs', 'tracking.duckdb');
    const rng = createRng('tuning-kill-test');
    let committed = new Map<string, string>();
    const kills: string[] = [];
    for (let k = 0; k < 4; k++) {
      const run = startCli(['sweep', `--experiment=${file}`]);
      const p = run.proc;
      // Moments: kill 0 a random time after the stages are ready (the first run builds them; its
      // workers are starting); kill 1 right after a trial ended, while the other lane's trial is
      // part-way (epochs committed, row 'running'); kills 2 and 3 a random time after a trial started.
      const marker = k === 0 ? /stages ready/ : k === 1 ? / trials\/s .*\| best / : / started: /;
      await run.waitFor(marker, 600_000); // or its exit
      const delay = [rng.uniform(0, 6000), 0, rng.uniform(0, 1500), rng.uniform(0, 3000)][k];
      await new Promise((r) => setTimeout(r, delay));
      const workers = childrenOf(p.pid!);
      p.kill('SIGKILL');
      const res = await p;
      kills.push(`kill ${k} at +${delay.toFixed(0)} ms: ${res.signal ?? res.exitCode}, ${workers.length} children`);
      // The workers notice the closed IPC channel and exit.
      expect(await waitUntil(() => workers.every((w) => !isAlive(w)), 30_000)).toBe(true);
      if (!fs.existsSync(trackingFile)) continue;
      const snap = await snapshotDb(trackingFile, sweepId);
      expect(snap.problems).toEqual([]);
      const now = doneRows(snap);
      for (const [id, row] of committed) expect(now.get(id)).toBe(row);
      committed = now;
      kills[k] += `; trials ${snap.trials.map((t) => `${t.status}×${t.attempts}`).join(' ')}, ${snap.epochs.length} epochs`;
    }
    if (process.env.TUNING_TEST_VERBOSE) console.log(kills.join('\n'));

    const { exitCode, stdout, stderr } = await runSweepCli(file);
    expect(exitCode, `${kills.join('\n')}\n${stderr}`).toBe(0);
    const snap = await snapshotDb(trackingFile, sweepId);
    expect(snap.problems).toEqual([]);
    expect(snap.trials.map((t) => t.trial_id)).toEqual(trials.map((t) => t.trialId));
    for (const t of snap.trials) {
      expect(['finished', 'pruned']).toContain(t.status);
      expect(t.attempts).toBeGreaterThanOrEqual(1);
      expect(t.model_path && fs.existsSync(path.join(t.model_path, 'metadata.json'))).toBeTruthy();
    }
    // Trials done before a kill were not run again.
    const after = doneRows(snap);
    for (const [id, row] of committed) expect(after.get(id)).toBe(row);
    // Clean test set + one noisy set per done trial.
    expect(snap.evaluations).toBe(2 * snap.trials.length);
    expect(stdout).toContain(`Top ${trials.length} trials of sweep ${sweepId}`);

    // A rerun of a finished sweep runs nothing.
    const again = await runSweepCli(file);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain(`0 finished, 0 pruned, 0 failed, ${trials.length} skipped`);
    const best = await runCli(CLI, ['best', `--experiment=${file}`]);
    expect(best.exitCode).toBe(0);
    expect(best.stdout).toMatch(/best trial t\d{3}-/);
    expect(best.stdout).toMatch(/model +\/.*\/model/);
  }, 600_000); // several real sweeps killed and resumed: ~100 s on a loaded 2-core machine

  it('records a throwing, a killed and a hanging trial as failed and finishes the others', async () => {
    const file = path.join(dir, 'faults.yaml');
    fs.writeFileSync(
      file,
      experimentYaml(`sweep:
  strategy: grid
  space: { learning_rate: [0.01, 0.003, 0.001], dropout: [0.0, 0.3], batch_size: [16] }
  max_parallel: 2
  trial_timeout_s: 25
`),
    );
    const lines: string[] = [];
    const r = await runSweep({
      experimentFile: file,
      workerEnv: { MRI_TUNING_FAULT: 'throw:1,crash:2,hang:4' },
      log: (l) => lines.push(l),
      out: () => undefined,
    });
    expect(r, lines.join('\n')).toMatchObject({ total: 6, ran: 6, failed: 3, finished: 3 });
    const snap = await snapshotDb(r.trackingFile, r.sweepId);
    expect(snap.problems).toEqual([]);
    const byIndex = new Map(snap.trials.map((t) => [t.trial_index, t]));
    expect(byIndex.get(1)).toMatchObject({ status: 'failed', error: expect.stringMatching(/injected failure/) });
    expect(byIndex.get(2)).toMatchObject({ status: 'failed', error: expect.stringMatching(/killed by SIGKILL/) });
    expect(byIndex.get(4)).toMatchObject({ status: 'failed', error: expect.stringMatching(/timed out after 25 s/) });
    for (const i of [0, 3, 5]) expect(byIndex.get(i)?.status).toBe('finished');
    // The trial's own log holds its output.
    expect(fs.readFileSync(byIndex.get(1)!.log_path!, 'utf8')).toMatch(/injected failure/);
  });
});
