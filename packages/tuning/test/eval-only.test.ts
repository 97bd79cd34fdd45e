/**
 * Issue 11 item 3: an eval-only change (a noisy test set added) embeds only the new set and
 * re-evaluates the saved trial models; it never re-embeds the training images nor trains a trial.
 * A real sweep of the phantom experiment (a median pruner that prunes), then the same experiment
 * with one more noisy test set: no worker starts, every model file is the one trained before, the
 * clean-split features are a cache hit, one eval set is embedded, and the new sweep's records equal
 * those of the changed experiment swept from scratch in an empty runs folder (new set included).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvaluations, openTracking } from '@mri-robust/tracking';
import { phantomExperiment } from './phantom-experiment.ts';
import { runSweep } from '../src/sweep.ts';
import { snapshotDb, sweepOutcome } from './check-db.ts';

const RICIAN = '{ kind: rician, snr: [5] }';
const GAUSSIAN = '{ kind: gaussian, severities: [3] }';

function yaml(evalKinds: string[]): string {
  return phantomExperiment({
    name: 'eval-only',
    seed: 11,
    runs: './runs',
    perClass: 20,
    epochs: 6,
    bootstrap: 20,
    evalKinds,
    sweep: `  strategy: grid
  space: { learning_rate: [0.03, 0.0003, 0.01, 0.0001], dropout: [0.2], batch_size: [16] }
  max_parallel: 2
  pruner: { kind: median, warmup_epochs: 1, min_trials: 1 }
`,
  });
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-eval-only-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** Stage folders of one cache stage, with the time each was built (stage.json createdAt). */
function stageFolders(runs: string, stage: string): Map<string, string> {
  const base = path.join(runs, 'cache', stage);
  if (!fs.existsSync(base)) return new Map();
  return new Map(
    fs
      .readdirSync(base)
      .filter((k) => fs.existsSync(path.join(base, k, 'stage.json')))
      .map((k) => [k, JSON.parse(fs.readFileSync(path.join(base, k, 'stage.json'), 'utf8')).createdAt as string]),
  );
}

/** sha256 of every trained model's weights, by trial index. */
async function modelHashes(trackingFile: string, sweepId: string, runs: string): Promise<string[]> {
  const t = await openTracking(trackingFile, { readOnly: true });
  try {
    const rows = await t.all<{ trial_index: number; model_path: string }>(
      'SELECT trial_index, model_path FROM trials WHERE sweep_id = $1 ORDER BY trial_index',
      [sweepId],
    );
    return rows.map((r) => sha(path.join(path.resolve(runs, r.model_path), 'weights.bin')));
  } finally {
    await t.close();
  }
}

describe('eval-only change (issue 11 item 3)', () => {
  it('adds a noisy test set without re-embedding the training images or training any trial; records equal a sweep from scratch', async () => {
    const quiet = { out: () => undefined, gallery: false };
    const runs = path.join(dir, 'runs');
    const fileA = path.join(dir, 'a.yaml');
    fs.writeFileSync(fileA, yaml([RICIAN]));
    const a = await runSweep({ experimentFile: fileA, log: () => undefined, ...quiet });
    const outcomeA = (await sweepOutcome(a.trackingFile, a.sweepId)) as { status: string; evaluations: { test_set: string }[] }[];
    // The experiment must prune, or pruned trials would go untested.
    expect(outcomeA.some((t) => t.status === 'pruned')).toBe(true);
    const baseBefore = stageFolders(runs, 'embed-base');
    const setsBefore = stageFolders(runs, 'embed-set');
    expect(baseBefore.size).toBe(1);
    const modelsA = await modelHashes(a.trackingFile, a.sweepId, runs);

    // The same experiment with one more noisy test set.
    const fileB = path.join(dir, 'b.yaml');
    fs.writeFileSync(fileB, yaml([RICIAN, GAUSSIAN]));
    const logB: string[] = [];
    const b = await runSweep({ experimentFile: fileB, log: (l) => logB.push(l), ...quiet });
    expect(b.sweepId).not.toBe(a.sweepId);
    // No trial trained: no worker process started, every trial reused, the model files are A's.
    expect(b.pool.workersStarted).toBe(0);
    expect(b.reused).toBe(b.total);
    expect(b.trainSeconds).toBe(0);
    expect(await modelHashes(b.trackingFile, b.sweepId, runs)).toEqual(modelsA);
    // Training-side features were not recomputed; exactly one eval set was embedded (the new one).
    expect(stageFolders(runs, 'embed-base')).toEqual(baseBefore);
    const setsAfter = stageFolders(runs, 'embed-set');
    for (const [k, created] of setsBefore) expect(setsAfter.get(k)).toBe(created);
    expect(setsAfter.size).toBe(setsBefore.size + 1);
    expect(logB.filter((l) => l.startsWith('[embed-set] building'))).toHaveLength(1);
    expect(logB.some((l) => l.startsWith('[embed-base] building'))).toBe(false);

    // The new sweep's records: every trial (pruned ones too) evaluated on the new set as well, unchanged sets as in A.
    const t = await openTracking(b.trackingFile, { readOnly: true });
    const evalsB = await listEvaluations(t, b.sweepId);
    await t.close();
    expect(new Set(evalsB.filter((e) => e.test_set === 'test-gaussian-s3').map((e) => e.trial_id)).size).toBe(b.total);
    const outcomeB = (await sweepOutcome(b.trackingFile, b.sweepId)) as typeof outcomeA;
    outcomeB.forEach((tr, i) => {
      expect(tr.evaluations.filter((e) => e.test_set !== 'test-gaussian-s3')).toEqual(outcomeA[i].evaluations);
      expect({ ...tr, evaluations: null }).toEqual({ ...outcomeA[i], evaluations: null });
    });
    expect((await snapshotDb(b.trackingFile, b.sweepId)).problems).toEqual([]);

    // The same changed experiment swept from scratch (empty runs folder) records the same.
    const cold = path.join(dir, 'cold');
    fs.mkdirSync(cold);
    const fileCold = path.join(cold, 'b.yaml');
    fs.writeFileSync(fileCold, yaml([RICIAN, GAUSSIAN]));
    const c = await runSweep({ experimentFile: fileCold, log: () => undefined, ...quiet });
    expect(c.sweepId).toBe(b.sweepId);
    expect(c.reused).toBe(0);
    expect(await sweepOutcome(c.trackingFile, c.sweepId)).toEqual(outcomeB);
  }, 1_800_000);
});
