/**
 * Queue mode of the sweep orchestrator: `queuePool(settings)` returns a function with runPool's
 * signature and contract (onStart before a trial's epochs, every epoch through hooks.onEpoch whose
 * answer goes back to the trial, onEnd once per trial), but the trials run on `tuning:worker`
 * processes on any machine, through BullMQ on Redis. The orchestrator stays the only writer of
 * DuckDB (through the hooks); Redis carries only jobs and small messages.
 *
 * - Jobs: id = `<sweep>.<trial>` (a re-run finds the same job instead of adding one), priority =
 *   trial index + 1 (workers take the lowest trial first, as the local pool's lanes do).
 * - A trial's attempt = BullMQ's attemptsStarted. The first message of a new attempt (a worker lost
 *   and the job re-run from scratch elsewhere) calls onStart again, whose record resets the trial's
 *   epochs in one transaction; messages of older attempts are dropped (and their worker told to stop).
 * - Restart: jobs that are still running are re-attached (their worker sends every epoch of the
 *   attempt again, replayed through the hooks), completed ones not yet recorded are adopted from
 *   their result, failed ones and missing ones are enqueued again.
 * - Deterministic pruning makes a trial wait for lower trials; a lower trial waiting in the queue
 *   behind higher trials that hold every worker while they wait for it would never run, so after a
 *   grace period the highest such trial is stopped and put back (it re-runs from scratch later).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Queue, Worker as BullWorker, type Job } from 'bullmq';
import { gitCommit, workspaceRoot } from '@mri-robust/core';
import type { EpochMessageRecord, StageRef, TrialJob } from '../messages.ts';
import type { PoolOptions, PoolStats, TrialHooks, TrialOutcome } from '../pool.ts';
import { checkRedis, connectRedis, describeRedisError, redisOptions } from './connect.ts';
import {
  codeVersion,
  JOB_FORMAT,
  jobIdOf,
  KEY_TTL_S,
  keys,
  type ControlMessage,
  type InboxMessage,
  type TrialJobData,
  type TrialJobResult,
  type WorkerInfo,
} from './protocol.ts';
import { lockSettings, type QueueConfig } from './url.ts';

export interface QueuePoolSettings {
  config: QueueConfig;
  log: (line: string) => void;
  /** Seconds a lower trial may wait in the queue while higher ones wait for it before one yields (default 5). */
  yieldAfterS?: number;
  /** Reconciliation period in ms (default 1000). */
  pollMs?: number;
}

/** Where a remote trial ran, next to its orchestrator-side folder (`remote.json`). */
export const REMOTE_FILE = 'remote.json';

export interface RemoteRecord {
  worker: WorkerInfo;
  attempt: number;
  trialDir: string;
  modelDir: string;
  logFile: string;
  stages: TrialJobResult['stages'];
  /** Set once the model folder was copied here: its manifest hash. */
  copied?: { hash: string; files: number; bytes: number; at: string };
}

type Phase = 'queued' | 'running' | 'ending' | 'ended';

interface Tracked {
  job: TrialJob;
  jobId: string;
  data: TrialJobData;
  phase: Phase;
  /** Attempt seen in this session (0: none yet). */
  attempt: number;
  /** Epochs of the attempt fed to the hooks. */
  seen: number;
  worker: WorkerInfo | null;
  /** The epoch waiting for its decision, and since when. */
  pending: { epoch: number; since: number } | null;
  /** The last decision sent (sent again when the worker repeats its state). */
  decided: { epoch: number; action: 'continue' | 'stop' } | null;
  /** BullMQ holds the job in its waiting lists (no worker has it), as last seen; since when. */
  waitingSince: number | null;
  startedAt: number;
  chain: Promise<void>;
  /** A reconciliation is queued on the chain. */
  checking: boolean;
}

export type PoolFunction = (
  opts: PoolOptions,
  next: () => TrialJob | null,
  logFileOf: (job: TrialJob) => string,
  hooks: TrialHooks,
  onStart: (job: TrialJob, slot: number) => Promise<void>,
  onEnd: (job: TrialJob, outcome: TrialOutcome) => Promise<void>,
) => Promise<PoolStats>;

/** Checks that the queue's Redis can be used (one-line error otherwise); call before recording anything. */
export async function checkQueue(config: QueueConfig): Promise<void> {
  await checkRedis(config);
}

function experimentPathOf(file: string): string {
  const rel = path.relative(workspaceRoot(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

export function queuePool(s: QueuePoolSettings): PoolFunction {
  return (opts, next, logFileOf, hooks, onStart, onEnd) => runQueuePool(s, opts, next, logFileOf, hooks, onStart, onEnd);
}

async function runQueuePool(
  s: QueuePoolSettings,
  opts: PoolOptions,
  next: () => TrialJob | null,
  logFileOf: (job: TrialJob) => string,
  hooks: TrialHooks,
  onStart: (job: TrialJob, slot: number) => Promise<void>,
  onEnd: (job: TrialJob, outcome: TrialOutcome) => Promise<void>,
): Promise<PoolStats> {
  const c = s.config;
  const log = (l: string) => s.log(`queue: ${l}`);
  const jobs: TrialJob[] = [];
  for (let j = next(); j; j = next()) jobs.push(j);
  const stats: PoolStats = { workersStarted: 0, workerStartSeconds: [] };
  if (jobs.length === 0) return stats;
  const sweepId = jobs[0].provenance?.sweep;
  const expHash = jobs[0].provenance?.experimentHash;
  if (!sweepId || !expHash) throw new Error('queue mode needs trial jobs with provenance (sweep id, experiment hash)');
  const stageKeys = Object.fromEntries(Object.entries(opts.stages).map(([k, v]: [string, StageRef]) => [k, v.key])) as TrialJobData['stages'];
  const code = { ...codeVersion(), commit: gitCommit() };

  await checkRedis(c);
  const redis = connectRedis(c, log, 'Redis');
  const blocking = connectRedis(c, () => undefined, 'Redis (inbox)');
  const queue = new Queue(c.name, { connection: redisOptions(c) });
  let down = false;
  queue.on('error', (e) => {
    if (!down) log(describeRedisError(c, e));
    down = true;
  });
  // Lost workers are detected here too, so a trial comes back even while no other worker runs.
  const checker = new BullWorker(c.name, null, { connection: redisOptions(c), autorun: false, ...lockSettings(c) });
  checker.on('error', () => undefined);
  checker.on('stalled', (jobId) => {
    const t = byJob.get(String(jobId));
    if (t && t.phase === 'running') log(`${t.job.trialId}: lost its worker ${t.worker?.id ?? '?'} (attempt ${t.attempt}); it runs again from scratch`);
  });

  const inboxKey = keys.inbox(c.name, sweepId);
  const byJob = new Map<string, Tracked>();
  const workersSeen = new Set<string>();
  let fatal: unknown = null;
  let closed = false;
  let lastYield = 0;
  const yieldMs = (s.yieldAfterS ?? 5) * 1000;
  const now = () => performance.now();

  const control = async (t: Tracked, attempt: number, m: ControlMessage) => {
    const key = keys.control(c.name, sweepId, t.data.trialId, attempt);
    await redis.rpush(key, JSON.stringify(m));
    await redis.expire(key, KEY_TTL_S);
  };

  const enqueue = async (t: Tracked) => {
    await queue.add('trial', t.data, {
      jobId: t.jobId,
      priority: Math.min(t.data.index + 1, 2_097_152),
      attempts: c.attempts,
      removeOnComplete: false,
      removeOnFail: false,
    });
    t.phase = 'queued';
  };

  /** Runs `fn` after the trial's earlier work; the first error stops the sweep. */
  const serial = (t: Tracked, fn: () => Promise<void>) => {
    t.chain = t.chain.then(fn).catch((e) => {
      fatal ??= e;
    });
  };

  const start = async (t: Tracked, attempt: number, worker: WorkerInfo | null) => {
    if (t.attempt > 0 && attempt > t.attempt) {
      log(
        `${t.data.trialId}: attempt ${attempt}${worker ? ` on ${worker.id}` : ''} replaces attempt ${t.attempt} (${t.worker?.id ?? '?'}); its epochs are dropped`,
      );
    }
    t.attempt = attempt;
    t.seen = 0;
    t.pending = null;
    t.decided = null;
    t.worker = worker;
    t.phase = 'running';
    t.startedAt = now();
    await onStart(t.job, 0);
    try {
      fs.mkdirSync(path.dirname(logFileOf(t.job)), { recursive: true });
      fs.appendFileSync(
        logFileOf(t.job),
        `queue: attempt ${attempt}${worker ? ` on ${worker.id}; its log is ${worker.host}:${path.join(worker.runsDir, 'trials', sweepId, t.data.trialId, 'trial.log')}` : ''}\n`,
      );
    } catch {
      // the trial's record says the same
    }
  };

  /** Feeds the epochs of `t`'s attempt not yet fed; returns the decisions of the new ones. */
  const feed = (t: Tracked, epochs: EpochMessageRecord[]): { epoch: number; decision: Promise<'continue' | 'stop'> }[] => {
    const out: { epoch: number; decision: Promise<'continue' | 'stop'> }[] = [];
    for (const rec of epochs.slice(t.seen)) {
      t.seen++;
      out.push({ epoch: rec.epoch, decision: Promise.resolve(hooks.onEpoch(t.data.trialId, rec)) });
    }
    return out;
  };

  const onState = async (m: Extract<InboxMessage, { type: 'state' }>) => {
    const t = byJob.get(m.jobId);
    if (!t || t.phase === 'ending' || t.phase === 'ended') return;
    if (m.attempt < t.attempt || (m.attempt === t.attempt && t.phase === 'queued')) {
      // A worker that BullMQ gave up on (its lock expired: starved, cut off) still runs: stop it.
      await control(t, m.attempt, { type: 'abort', reason: 'its job went back to the queue' });
      return;
    }
    if (m.attempt > t.attempt) {
      await start(t, m.attempt, m.worker);
      if (!workersSeen.has(m.worker.id)) {
        workersSeen.add(m.worker.id);
        stats.workersStarted++;
        const st = Object.entries(m.stages)
          .map(([k, v]) => `${k} ${v.how}${v.same ? '' : ' (other key)'}`)
          .join(', ');
        log(`worker ${m.worker.id} (runs ${m.worker.runsDir}): stages ${st}`);
      }
    }
    const attempt = t.attempt;
    const fresh = feed(t, m.epochs);
    fresh.forEach(({ epoch, decision }, i) => {
      const pending = i === fresh.length - 1;
      if (pending) t.pending = { epoch, since: now() };
      void decision.then(async (action) => {
        if (t.attempt !== attempt || t.phase !== 'running') return;
        if (pending) {
          if (t.pending?.epoch === epoch) t.pending = null;
          t.decided = { epoch, action };
          await control(t, attempt, { type: 'decision', epoch, action }).catch((e) => (fatal ??= e));
        } else if (action === 'stop') {
          // An epoch replayed after a restart that the pruner now stops: the attempt is not what an
          // uninterrupted run would give; it runs again.
          log(`${t.data.trialId}: epoch ${epoch} of attempt ${attempt} is pruned now; the attempt is stopped and re-run`);
          await control(t, attempt, { type: 'abort', reason: 'pruning decision changed on replay' }).catch(() => undefined);
        }
      });
    });
    const lastEpoch = m.epochs.at(-1)?.epoch;
    if (fresh.length === 0 && lastEpoch !== undefined && t.decided?.epoch === lastEpoch) {
      // The worker repeats its state: the decision may have been lost.
      await control(t, attempt, { type: 'decision', epoch: lastEpoch, action: t.decided.action });
    }
  };

  const finalize = async (t: Tracked, seen: Job) => {
    if (t.phase === 'ended' || t.phase === 'ending') return;
    const state = await seen.getState();
    if (state !== 'completed' && state !== 'failed') return;
    // Read again: a job object fetched before it ended holds no result or reason yet.
    const job = (await queue.getJob(t.jobId)) ?? seen;
    if (state === 'completed') {
      const rv = job.returnvalue as TrialJobResult;
      if (!rv || rv.v !== JOB_FORMAT || !rv.result) {
        t.phase = 'ending';
        if (t.attempt === 0) await start(t, job.attemptsStarted, null);
        await onEnd(t.job, { ok: false, error: `job ${t.jobId} completed without a readable result`, wallSeconds: (now() - t.startedAt) / 1000 });
      } else {
        if (rv.attempt !== t.attempt) await start(t, rv.attempt, rv.worker);
        // Epochs not seen (a result adopted after a restart) go through the hooks, decisions awaited.
        const rest = feed(t, rv.result.epochs);
        t.phase = 'ending';
        await Promise.all(rest.map((r) => r.decision));
        const modelDir = path.join(t.job.outDir, path.relative(rv.trialDir, rv.result.modelDir));
        const remote: RemoteRecord = {
          worker: rv.worker,
          attempt: rv.attempt,
          trialDir: rv.trialDir,
          modelDir: rv.result.modelDir,
          logFile: rv.logFile,
          stages: rv.stages,
        };
        try {
          fs.mkdirSync(t.job.outDir, { recursive: true });
          fs.writeFileSync(path.join(t.job.outDir, REMOTE_FILE), `${JSON.stringify(remote, null, 2)}\n`);
        } catch {
          // the trial's log and record name the worker too
        }
        await onEnd(t.job, { ok: true, result: { ...rv.result, modelDir }, wallSeconds: (now() - t.startedAt) / 1000 });
      }
    } else if (state === 'failed') {
      t.phase = 'ending';
      if (t.attempt === 0) await start(t, job.attemptsStarted, null);
      let error = job.failedReason || 'failed';
      if (/stalled more than allowable limit/.test(error)) error = `lost its worker ${job.attemptsStarted} times (max_stalls=${c.maxStalls}): ${error}`;
      await onEnd(t.job, { ok: false, error, wallSeconds: (now() - t.startedAt) / 1000 });
    } else {
      return;
    }
    t.phase = 'ended';
    await job.remove().catch(() => undefined);
  };

  // ---- enqueue (or re-attach to) every trial ----
  const startId = ((await redis.xrevrange(inboxKey, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0] ?? '0-0';
  const counts = { added: 0, attached: 0, adopted: 0, queued: 0, retried: 0 };
  for (const job of jobs) {
    const jobId = jobIdOf(sweepId, job.trialId);
    const t: Tracked = {
      job,
      jobId,
      data: {
        v: JOB_FORMAT,
        sweepId,
        trialId: job.trialId,
        index: job.index,
        params: job.params,
        seed: job.seed,
        experiment: { text: opts.experiment.text, path: experimentPathOf(opts.experiment.file), hash: expHash },
        code,
        stages: stageKeys,
      },
      phase: 'queued',
      attempt: 0,
      seen: 0,
      worker: null,
      pending: null,
      decided: null,
      waitingSince: null,
      startedAt: now(),
      chain: Promise.resolve(),
      checking: false,
    };
    byJob.set(jobId, t);
    const existing = await queue.getJob(jobId);
    const state = existing ? await existing.getState() : 'unknown';
    if (existing && state === 'failed') {
      await existing.remove();
      await enqueue(t);
      counts.retried++;
    } else if (existing && state === 'completed') {
      t.phase = 'running';
      serial(t, () => finalize(t, existing));
      counts.adopted++;
    } else if (existing && state === 'active') {
      t.phase = 'running';
      await control(t, existing.attemptsStarted, { type: 'resend' });
      counts.attached++;
    } else if (existing && state !== 'unknown') {
      counts.queued++;
    } else {
      await enqueue(t);
      counts.added++;
    }
  }
  log(
    `${jobs.length} trial(s) of sweep ${sweepId} on ${c.redacted} (queue ${c.name}): ${counts.added} enqueued` +
      `${counts.retried ? `, ${counts.retried} failed before and enqueued again` : ''}${counts.queued ? `, ${counts.queued} still queued` : ''}` +
      `${counts.attached ? `, ${counts.attached} running (re-attached)` : ''}${counts.adopted ? `, ${counts.adopted} finished while no orchestrator ran` : ''}; ` +
      `start workers with: npx nx run tuning:worker --queue=${c.redacted}`,
  );
  void checker.startStalledCheckTimer();

  // ---- inbox: states, refusals, completion hints ----
  const readInbox = async () => {
    let lastId = startId;
    while (!closed) {
      const r = (await blocking.xread('COUNT', 100, 'BLOCK', 1000, 'STREAMS', inboxKey, lastId).catch(() => null)) as [string, [string, string[]][]][] | null;
      if (!r) continue;
      for (const [, entries] of r) {
        for (const [id, fields] of entries) {
          lastId = id;
          let m: InboxMessage;
          try {
            m = JSON.parse(fields[1]) as InboxMessage;
          } catch {
            log(`ignored an unreadable message ${id} on ${inboxKey}`);
            continue;
          }
          const t = byJob.get(m.jobId);
          if (!t) continue;
          if (m.type === 'state') serial(t, () => onState(m));
          else if (m.type === 'refused') log(`worker ${m.worker.id} refused ${t.data.trialId} and stopped: ${m.reason}`);
          else if (m.type === 'done') serial(t, async () => reconcile(t));
        }
      }
    }
  };

  const reconcile = async (t: Tracked) => {
    if (t.phase === 'ended' || t.phase === 'ending') return;
    const job = await queue.getJob(t.jobId);
    if (!job) {
      log(`${t.data.trialId}: its job is missing from the queue (Redis lost it?); enqueued again`);
      await enqueue(t);
      return;
    }
    const state = await job.getState();
    const waiting = state === 'waiting' || state === 'prioritized' || state === 'delayed';
    if (!waiting) t.waitingSince = null;
    else t.waitingSince ??= now();
    if (state === 'completed' || state === 'failed') await finalize(t, job);
    else if (waiting && t.phase === 'running') {
      // Its attempt ended without a result (lost worker, stopped worker, or a worker that lost the
      // job's lock and may still run: told to stop); a new attempt resets the trial.
      t.phase = 'queued';
      t.pending = null;
      if (t.attempt > 0) await control(t, t.attempt, { type: 'abort', reason: 'its job went back to the queue' });
    }
  };

  /** A lower trial waits in the queue while higher trials hold workers waiting for it: one yields. */
  const unblock = async () => {
    const tNow = now();
    if (tNow - lastYield < yieldMs) return;
    // Only a job no worker has taken counts (a worker may take a while to prepare a job it holds).
    const queued = [...byJob.values()].filter((t) => t.phase === 'queued' && t.waitingSince !== null && tNow - t.waitingSince > yieldMs);
    if (queued.length === 0) return;
    const lowest = Math.min(...queued.map((t) => t.data.index));
    const blocked = [...byJob.values()]
      .filter((t) => t.phase === 'running' && t.pending && tNow - t.pending.since > yieldMs && t.data.index > lowest)
      .sort((a, b) => b.data.index - a.data.index);
    const victim = blocked[0];
    if (!victim) return;
    lastYield = tNow;
    const low = queued.find((t) => t.data.index === lowest)!;
    log(
      `${victim.data.trialId} (waiting for lower trials) gives its worker to ${low.data.trialId}, queued for ${((tNow - (low.waitingSince ?? tNow)) / 1000).toFixed(0)} s; it runs again later`,
    );
    await control(victim, victim.attempt, { type: 'abort', reason: `yields its worker to ${low.data.trialId}` });
  };

  const inboxDone = readInbox();
  const pollMs = s.pollMs ?? 1000;
  try {
    while (!fatal) {
      const open = [...byJob.values()].filter((t) => t.phase !== 'ended');
      if (open.length === 0) break;
      await new Promise((r) => setTimeout(r, pollMs));
      for (const t of open) {
        if (t.checking) continue;
        t.checking = true;
        serial(t, async () => {
          try {
            await reconcile(t);
          } finally {
            t.checking = false;
          }
        });
      }
      await unblock().catch(() => undefined);
    }
    if (fatal) throw fatal;
    await redis.del(inboxKey);
  } catch (e) {
    // The sweep stops: running trials are stopped and queued ones withdrawn, so no worker waits for
    // decisions that will not come; a resume enqueues them again.
    for (const t of byJob.values()) {
      if (t.phase === 'running' && t.attempt > 0) await control(t, t.attempt, { type: 'abort', reason: 'the orchestrator stopped' }).catch(() => undefined);
      if (t.phase === 'queued') await (await queue.getJob(t.jobId).catch(() => undefined))?.remove().catch(() => undefined);
    }
    throw e;
  } finally {
    closed = true;
    await inboxDone.catch(() => undefined);
    await checker.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    blocking.disconnect();
    redis.disconnect();
  }
  return stats;
}
