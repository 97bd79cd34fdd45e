/**
 * Queue mode with a real redis-server (password-protected, started here on a free loopback port) and
 * real worker processes (`tuning worker`) in separate runs folders, real stages and trainTrial:
 * 1. A sweep through 3 workers gives exactly the DuckDB rows (params, statuses, epochs, metrics,
 *    evaluations) of the local pool with the same seed; one worker builds the stages itself, two find
 *    them by key; the best model is copied back with its hashes checked; the password appears in no
 *    file, no database and no output.
 * 2. kill -9 of a worker mid-trial (its trial re-runs elsewhere as attempt 2), a Redis restart under
 *    the running orchestrator and worker (both reconnect), kill -9 of the orchestrator, another Redis
 *    restart, then a new orchestrator and worker: every trial once, every epoch once, and still the
 *    local pool's rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import { phantomExperiment } from './phantom-experiment.ts';
import { loadSweep } from '../src/sweep.ts';
import { snapshotDb, sweepOutcome } from './check-db.ts';
import { copyWorkspace, descendantsOf, isAlive, startCli, startRedis, waitUntil, type RedisServer, type Running } from './queue-helpers.ts';

const SHARED = sharedDir();
const PASSWORD = 'q-test-s3cret-7f1d';

const EXPERIMENT = phantomExperiment({
  name: 'queue-test',
  seed: 7,
  runs: './runs',
  perClass: 25,
  epochs: 6,
  bootstrap: 50,
  sweep: `  strategy: grid
  space: { learning_rate: [0.03, 0.003, 0.0003], dropout: [0.0, 0.4], batch_size: [16] }
  max_parallel: 2
  pruner: { kind: median, warmup_epochs: 2, min_trials: 1 }
`,
});

let dir: string;
/** Every process runs from this frozen copy of the workspace. */
let ws: string;
let redis: RedisServer;
let local: unknown[];
let sweepId: string;
const started: Running[] = [];

/** An experiment file in its own folder (its runs folder beside it). */
function experimentIn(name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  const file = path.join(d, 'experiment.yaml');
  fs.writeFileSync(file, EXPERIMENT);
  return file;
}

const queueUrl = (withPassword: boolean) => `${withPassword ? redis.url : redis.url.replace(/:[^:@/]*@/, '')}?stall_s=12&name=qtest`;

function worker(runs: string, extraEnv: Record<string, string> = {}): Running {
  // The password comes from MRI_QUEUE_PASSWORD, as the README advises (not on the command line).
  const w = startCli(['worker', `--queue=${queueUrl(false)}`, `--runs=${runs}`], { MRI_QUEUE_PASSWORD: PASSWORD, MRI_SHARED: SHARED, ...extraEnv }, ws);
  started.push(w);
  return w;
}

function orchestrator(file: string): Running {
  const o = startCli(['sweep', `--experiment=${file}`, `--queue=${queueUrl(true)}`], { MRI_SHARED: SHARED }, ws);
  started.push(o);
  return o;
}

async function stopAll(): Promise<void> {
  for (const r of started.splice(0)) {
    if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGTERM');
    await r.proc;
  }
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

/** Every file under `root` that holds `needle`. */
function filesHolding(root: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile() && fs.readFileSync(f).includes(needle)) out.push(f);
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-queue-'));
  ws = copyWorkspace(path.join(dir, 'workspace'));
  redis = await startRedis(path.join(dir, 'redis'), { password: PASSWORD });
  // The reference: the local pool, same experiment and seed (and code).
  const file = experimentIn('local');
  const ref = startCli(['sweep', `--experiment=${file}`, '--queue=local'], { MRI_SHARED: SHARED }, ws);
  expect((await ref.proc).exitCode, ref.output()).toBe(0);
  sweepId = (await loadSweep(file)).sweepId;
  local = await sweepOutcome(path.join(dir, 'local', 'runs', 'tracking.duckdb'), sweepId);
}, 600_000);

afterAll(async () => {
  await stopAll();
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sweep through BullMQ workers (real Redis, real workers)', () => {
  it('gives the local pool’s rows with 3 workers; stages by key; best model copied back; no secret anywhere', async () => {
    const file = experimentIn('queue');
    const runs = path.join(path.dirname(file), 'runs');
    // The orchestrator and two workers find the stages by key (a copy of the local cache); one builds them.
    copyDir(path.join(dir, 'local', 'runs', 'cache'), path.join(runs, 'cache'));
    const w1 = worker(path.join(dir, 'w1'));
    for (const w of ['w2', 'w3']) copyDir(path.join(dir, 'local', 'runs', 'cache'), path.join(dir, w, 'cache'));
    const w2 = worker(path.join(dir, 'w2'));
    const w3 = worker(path.join(dir, 'w3'));
    const o = orchestrator(file);
    const res = await o.proc;
    expect(res.exitCode, o.output()).toBe(0);

    const trackingFile = path.join(runs, 'tracking.duckdb');
    const snap = await snapshotDb(trackingFile, sweepId);
    expect(snap.problems).toEqual([]);
    expect(await sweepOutcome(trackingFile, sweepId)).toEqual(local);
    // Every trial ran once.
    for (const t of snap.trials) expect(t.attempts).toBe(1);

    // Which worker built and which found the stages.
    expect(w1.output()).toMatch(/stages ready in [\d.]+ s: ingest built, noise built, augment built, embed built/);
    for (const w of [w2, w3]) if (/stages ready/.test(w.output())) expect(w.output()).toMatch(/ingest hit, noise hit, augment hit, embed hit/);
    expect(o.output()).not.toMatch(/other key/);

    // The best model was copied here, checked, and is where the tracking row and best.json point.
    expect(o.output()).toMatch(/best trial t\d{3}-\w+: model copied from worker .* hashes checked/);
    const best = JSON.parse(fs.readFileSync(path.join(runs, 'trials', sweepId, 'best.json'), 'utf8')) as { trial: string; modelDir: string };
    const modelDir = path.resolve(path.join(runs, 'trials', sweepId), best.modelDir);
    expect(fs.existsSync(path.join(modelDir, 'metadata.json'))).toBe(true);
    const remote = JSON.parse(fs.readFileSync(path.join(runs, 'trials', sweepId, best.trial, 'remote.json'), 'utf8'));
    expect(remote.copied.files).toBeGreaterThan(1);
    const original = remote.modelDir as string;
    for (const f of fs.readdirSync(original)) expect(fs.readFileSync(path.join(modelDir, f)).equals(fs.readFileSync(path.join(original, f)))).toBe(true);

    // No secret in DuckDB, the runs folders, the records or any output.
    await stopAll();
    for (const root of [runs, path.join(dir, 'w1'), path.join(dir, 'w2'), path.join(dir, 'w3')]) expect(filesHolding(root, PASSWORD)).toEqual([]);
    for (const r of [o, w1, w2, w3]) expect(r.output().includes(PASSWORD)).toBe(false);
    expect(o.output()).toContain(`redis://:***@127.0.0.1:${redis.port}/0`);
  }, 900_000);

  it('survives kill -9 of a worker mid-trial, then of the orchestrator, then a Redis restart: every trial and epoch once', async () => {
    const file = experimentIn('faults');
    const runs = path.join(path.dirname(file), 'runs');
    copyDir(path.join(dir, 'local', 'runs', 'cache'), path.join(runs, 'cache'));
    for (const w of ['f1', 'f2', 'f3']) copyDir(path.join(dir, 'local', 'runs', 'cache'), path.join(dir, w, 'cache'));
    const w1 = worker(path.join(dir, 'f1'));
    const w2 = worker(path.join(dir, 'f2'));
    const o = orchestrator(file);
    const { trials } = await loadSweep(file);

    // 1. A worker is killed while it trains (its trial process dies with it): once the orchestrator
    // has recorded an epoch of a trial the worker runs, and not its end.
    const trialsDir = path.join(runs, 'trials', sweepId);
    const midTrial = (): string | null => {
      for (const m of w1.output().matchAll(/\.(t\d{3}-\w+): attempt 1 in slot 0/g)) {
        const rec = path.join(trialsDir, m[1], 'record.jsonl');
        const text = fs.existsSync(rec) ? fs.readFileSync(rec, 'utf8') : '';
        if (text.includes('"type":"epoch"') && !/"type":"(end|failed)"/.test(text)) return m[1];
      }
      return null;
    };
    let found: string | null = null;
    expect(
      await waitUntil(() => {
        found = midTrial();
        return found !== null;
      }, 300_000),
      `${w1.output()}\n---\n${o.output()}`,
    ).toBe(true);
    const family = descendantsOf(w1.proc.pid!);
    w1.proc.kill('SIGKILL');
    const victim = found as unknown as string;
    await w1.proc;
    expect(await waitUntil(() => family.every((p) => !isAlive(p)), 30_000)).toBe(true);
    // 2. Detected (stall_s=12), and re-run from scratch on the other worker as attempt 2.
    expect(await o.waitFor(new RegExp(`${victim}: attempt 2 on \\S+ replaces attempt 1`), 120_000), o.output()).toBe(true);
    // 3. Redis restarts while the orchestrator and a worker run: both reconnect.
    await redis.restart();
    expect(await o.waitFor(/Redis: reconnected to redis:\/\/:\*\*\*@/, 60_000), o.output()).toBe(true);
    expect(await w2.waitFor(/queue: reconnected to/, 60_000), w2.output()).toBe(true);
    // 4. The orchestrator is killed while trials run, and Redis restarts again meanwhile.
    o.proc.kill('SIGKILL');
    await o.proc;
    await redis.restart();
    // 5. A new orchestrator re-attaches to what runs and re-enqueues the rest; a new worker joins.
    const w3 = worker(path.join(dir, 'f3'));
    const o2 = orchestrator(file);
    const res = await o2.proc;
    expect(res.exitCode, `${o.output()}\n---\n${o2.output()}`).toBe(0);

    const trackingFile = path.join(runs, 'tracking.duckdb');
    const snap = await snapshotDb(trackingFile, sweepId);
    expect(snap.problems).toEqual([]);
    expect(snap.trials.map((t) => t.trial_id)).toEqual(trials.map((t) => t.trialId));
    for (const t of snap.trials) expect(['finished', 'pruned']).toContain(t.status);
    expect(snap.trials.find((t) => t.trial_id === victim)!.attempts).toBeGreaterThanOrEqual(2);
    expect(snap.evaluations).toBe(2 * trials.length);
    // Deterministic pruning: still exactly what the local pool gave.
    expect(await sweepOutcome(trackingFile, sweepId)).toEqual(local);
    expect(w3.proc.exitCode).toBeNull();
    expect(w2.proc.exitCode).toBeNull();
  }, 900_000);
});
