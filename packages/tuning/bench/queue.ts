/**
 * Bench (not a test): queue mode (BullMQ on a local redis-server) against the local pool, on this
 * machine, every process running from one frozen copy of the workspace (so a checkout being edited
 * meanwhile cannot make workers refuse jobs of another code version). Writes runs/bench/queue.json.
 *
 * 1. Dispatch overhead per trial: 50 trivial trials (phantoms at 64 px, frozen MobileNetV2 embeddings,
 *    a dense head for 1 epoch), one lane: the local pool with max_parallel 1 vs one queue worker. Per
 *    trial i > 1: ended_at(i) − ended_at(i−1) − train_seconds(i), from the tracking database — what
 *    it costs, besides training, to hand a trial out, stream its epoch, decide, and record its result.
 *    Median (ms) and the difference between the two.
 * 2. The default sweep (experiments/default.yaml, its 6 trials, Grad-CAM gallery included) with 1, 2 and 3 workers vs
 *    the local pool with max_parallel 1, 2 and 3: sweep wall time (orchestrator start to exit, stages
 *    already cached; queue workers started before, idle), and queue / local at equal parallelism.
 * BENCH_REPEATS (default 1) repeats part 2; medians are reported.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, sharedDir, workspaceRoot } from '@mri-robust/core';
import { runSweepCli } from '@mri-robust/core/testing';
import { listTrials, openTracking } from '@mri-robust/tracking';
import { loadSweep } from '../src/sweep.ts';
import { copyWorkspace, startCli, startRedis, type Running } from '../test/queue-helpers.ts';

const root = workspaceRoot();
const SHARED = sharedDir();
const WEIGHTS = path.join(SHARED, 'weights', 'mobilenet_v2_0.35_224');
const REPEATS = Number(process.env.BENCH_REPEATS ?? 1);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-queue-'));
const ws = copyWorkspace(path.join(tmp, 'workspace'));
const env = { MRI_SHARED: SHARED };
const log = (l: string) => process.stderr.write(`[bench queue] ${l}\n`);

const redis = await startRedis(path.join(tmp, 'redis'));
const url = `${redis.url}?name=bench`;
const workers: Running[] = [];

/** An experiment folder whose runs/cache is the shared cache of this bench (stages built once). */
function experimentFolder(name: string, text: string, cache: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(path.join(d, 'runs'), { recursive: true });
  fs.symlinkSync(cache, path.join(d, 'runs', 'cache'));
  fs.writeFileSync(path.join(d, 'experiment.yaml'), text);
  return path.join(d, 'experiment.yaml');
}

async function sweep(file: string, queue: string, maxParallel?: number): Promise<number> {
  const t0 = performance.now();
  const args = [`--queue=${queue}`];
  if (maxParallel) args.push(`--max-parallel=${maxParallel}`);
  const r = await runSweepCli(file, { root: ws, env, args });
  const output = `${r.stderr}\n${r.stdout}`;
  if (r.exitCode !== 0) throw new Error(`sweep ${file} (${queue}) failed:\n${output.slice(-3000)}`);
  // Queue events that cost time: trials that gave their worker up, attempts replaced.
  events.push({
    file: path.basename(path.dirname(file)),
    yields: output.match(/gives its worker/g)?.length ?? 0,
    reattempts: output.match(/replaces attempt/g)?.length ?? 0,
  });
  return (performance.now() - t0) / 1000;
}

const events: { file: string; yields: number; reattempts: number }[] = [];

async function startWorkers(n: number, runs: string): Promise<void> {
  while (workers.length < n) {
    const w = startCli(['worker', `--queue=${url}`, `--runs=${runs}`], env, ws);
    if (!(await w.waitFor(/taking trials from/, 120_000))) throw new Error(`worker did not start:\n${w.output()}`);
    workers.push(w);
  }
}

async function stopWorkers(): Promise<void> {
  for (const w of workers.splice(0)) {
    w.proc.kill('SIGTERM');
    await w.proc;
  }
}

/** A worker's own runs folder, its cache linked to the bench's stage cache (as an NFS mount would be). */
function workerRuns(name: string, cache: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  fs.symlinkSync(cache, path.join(d, 'cache'));
  return d;
}

/**
 * Per-trial overhead (ms) from the tracking file: `gap`, the time between consecutive trial ends minus
 * the next trial's training (what a stream of trials costs besides training), and `latency`, one
 * trial's recorded start to recorded end (started_at → ended_at: its start, every epoch and its
 * decision, its result) minus its training.
 */
async function overheads(file: string): Promise<{ gap: number[]; latency: number[] }> {
  const plan = await loadSweep(file);
  const t = await openTracking(path.join(path.dirname(file), 'runs', 'tracking.duckdb'), { readOnly: true });
  try {
    const rows = (await listTrials(t, plan.sweepId)).filter((r) => r.ended_at).sort((a, b) => +new Date(a.ended_at!) - +new Date(b.ended_at!));
    const gap: number[] = [];
    for (let i = 1; i < rows.length; i++) {
      gap.push(+new Date(rows[i].ended_at!) - +new Date(rows[i - 1].ended_at!) - Number(rows[i].train_seconds ?? 0) * 1000);
    }
    const latency = rows.filter((r) => r.started_at).map((r) => +new Date(r.ended_at!) - +new Date(r.started_at!) - Number(r.train_seconds ?? 0) * 1000);
    return { gap, latency };
  } finally {
    await t.close();
  }
}

const result: Record<string, unknown> = {
  what: 'queue mode (BullMQ, local redis-server) vs the local pool on this machine',
  machine: { cores: os.availableParallelism(), node: process.version, loadavgAtStart: os.loadavg() },
};

try {
  // ---- 1. dispatch overhead, 50 trivial trials, one lane ----
  const trivial = `name: bench-queue-trivial
seed: 11
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
train: { epochs: 1 }
evaluate: { bootstrap_samples: 20 }
sweep:
  strategy: random
  trials: 50
  space: { learning_rate: { log_uniform: [0.0001, 0.1] }, dropout: { uniform: [0.0, 0.5] }, batch_size: [16] }
  pruner: { kind: none }
`;
  const cache1 = path.join(tmp, 'cache-trivial');
  fs.mkdirSync(cache1);
  // Stages built once (by a first local sweep of 0 extra cost to the measured runs).
  const warm = experimentFolder('trivial-warm', trivial.replace('trials: 50', 'trials: 1'), cache1);
  await sweep(warm, 'local', 1);
  const localFile = experimentFolder('trivial-local', trivial, cache1);
  const localWall = await sweep(localFile, 'local', 1);
  const localOver = await overheads(localFile);
  log(
    `50 trivial trials, local pool: ${localWall.toFixed(1)} s, overhead median ${median(localOver.gap).toFixed(0)} ms (gap), ${median(localOver.latency).toFixed(0)} ms (latency)`,
  );
  await startWorkers(1, workerRuns('worker-trivial', cache1));
  const queueFile = experimentFolder('trivial-queue', trivial, cache1);
  const queueWall = await sweep(queueFile, url);
  const queueOver = await overheads(queueFile);
  await stopWorkers();
  log(
    `50 trivial trials, 1 queue worker: ${queueWall.toFixed(1)} s, overhead median ${median(queueOver.gap).toFixed(0)} ms (gap), ${median(queueOver.latency).toFixed(0)} ms (latency)`,
  );
  result.dispatch = {
    what:
      '50 trivial trials (64 px phantoms, head, 1 epoch), one lane. gap: time between consecutive trial ends minus the trial’s trainTrial seconds ' +
      '(the cost per trial of a stream of trials); latency: a trial’s started_at → ended_at minus its trainTrial seconds',
    localPool: {
      wallS: localWall,
      gapMsMedian: median(localOver.gap),
      latencyMsMedian: median(localOver.latency),
      gapMs: localOver.gap,
      latencyMs: localOver.latency,
    },
    queue: {
      wallS: queueWall,
      gapMsMedian: median(queueOver.gap),
      latencyMsMedian: median(queueOver.latency),
      gapMs: queueOver.gap,
      latencyMs: queueOver.latency,
    },
    queueMinusLocalMs: { gap: median(queueOver.gap) - median(localOver.gap), latency: median(queueOver.latency) - median(localOver.latency) },
  };

  // ---- 2. the default sweep with 1, 2, 3 workers vs the local pool at equal parallelism ----
  const source = path.join(root, 'experiments', 'default.yaml');
  const text = fs
    .readFileSync(source, 'utf8')
    .replace(/^(\s*weights:).*$/m, `$1 ${JSON.stringify(path.join(SHARED, 'weights', 'mobilenet_v2_0.35_224'))}`)
    .replace(/^seed: (\d+)/m, 'seed: $1\nruns: ./runs');
  const cache2 = path.join(tmp, 'cache-default');
  fs.mkdirSync(cache2);
  const warm2 = experimentFolder(
    'default-warm',
    text.replace(/learning_rate: \[[^\]]*\]/, 'learning_rate: [0.01]').replace(/dropout: \[[^\]]*\]/, 'dropout: [0.1]'),
    cache2,
  );
  await sweep(warm2, 'local', 1);
  const walls: Record<string, { local: number[]; queue: number[] }> = {};
  for (let rep = 0; rep < REPEATS; rep++) {
    for (const n of [1, 2, 3]) {
      walls[n] ??= { local: [], queue: [] };
      const w = walls[n];
      const lf = experimentFolder(`default-local-${n}-${rep}`, text, cache2);
      w.local.push(await sweep(lf, 'local', n));
      await startWorkers(n, workerRuns(`worker-default-${n}-${rep}`, cache2));
      const qf = experimentFolder(`default-queue-${n}-${rep}`, text, cache2);
      w.queue.push(await sweep(qf, url));
      await stopWorkers();
      log(`default sweep, ${n} lane(s): local ${w.local.at(-1)!.toFixed(1)} s, queue ${w.queue.at(-1)!.toFixed(1)} s`);
    }
  }
  result.defaultSweep = {
    what: 'experiments/default.yaml (6 trials), stages cached, Grad-CAM gallery included; wall time of the sweep command; queue workers started before, idle',
    repeats: REPEATS,
    byParallelism: Object.fromEntries(
      Object.entries(walls).map(([n, w]) => [
        n,
        { localS: median(w.local), queueS: median(w.queue), ratio: median(w.queue) / median(w.local), localRuns: w.local, queueRuns: w.queue },
      ]),
    ),
  };
  result.queueEvents = events.filter((e) => e.yields + e.reattempts > 0);
  result.loadavgAtEnd = os.loadavg();
} finally {
  await stopWorkers();
  await redis.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}

fs.mkdirSync(path.join(root, 'runs', 'bench'), { recursive: true });
fs.writeFileSync(path.join(root, 'runs', 'bench', 'queue.json'), `${JSON.stringify(result, null, 2)}\n`);
process.stderr.write(
  `${JSON.stringify({ dispatch: (result.dispatch as { queueMinusLocalMs: unknown }).queueMinusLocalMs, defaultSweep: result.defaultSweep }, null, 2)}\n`,
);
