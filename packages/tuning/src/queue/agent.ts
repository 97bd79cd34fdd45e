/**
 * The queue worker (`tuning:worker`): takes trial jobs from BullMQ and runs each in a child process
 * through the local pool's Worker (pool.ts: warm processes, one per concurrency slot, reused while
 * the jobs come from the same experiment; a crashing or out-of-memory trial takes down only its
 * process). For each job it
 *  1. checks the job (schema, then the experiment text validated and planned again: the trial id,
 *     parameters and seed must be the plan's) and its code version against this checkout;
 *  2. finds the upstream stages by content key in its own runs/cache, or builds them (in a child
 *     process, stages-child.ts), and reports which, and whether the keys equal the orchestrator's;
 *  3. streams every epoch to the orchestrator (the sweep's inbox stream) and waits for the
 *     orchestrator's continue/stop decision on the attempt's control list;
 *  4. returns the result (metrics, evaluations, its model folder on this host) as the job's value.
 * It also serves copies of model folders from its runs/trials (transfer.ts).
 * A job from another code version, or one it cannot prepare (missing data or weights here), is put
 * back in the queue for another worker and this worker stops with a one-line error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { Worker as BullWorker, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { hashString, isStageComplete, stageDir, workspaceRoot, type Experiment } from '@mri-robust/core';
import { Worker as TrialProcess, type PoolOptions, type TrialOutcome } from '../pool.ts';
import type { EpochMessageRecord, StageRef, TrialJob } from '../messages.ts';
import { trialExperiment } from '../plan.ts';
import { ensureStages, loadSweep, type LoadedSweep, type StageOutputs } from '../sweep.ts';
import { checkRedis, connectRedis, describeRedisError, redisOptions } from './connect.ts';
import {
  codeMismatch,
  codeVersion,
  hostName,
  JOB_FORMAT,
  jobIdOf,
  KEY_TTL_S,
  keys,
  validateJobData,
  type ControlMessage,
  type InboxMessage,
  type StageReport,
  type TrialJobData,
  type TrialJobResult,
  type WorkerInfo,
} from './protocol.ts';
import { serveFetch } from './transfer.ts';
import { lockSettings, type QueueConfig } from './url.ts';

const STAGES = ['ingest', 'noise', 'augment', 'embed'] as const;
const STAGES_CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'stages-child.ts');

export interface AgentOptions {
  config: QueueConfig;
  concurrency: number;
  /** This worker's runs folder (stage cache, trial folders). */
  runsDir: string;
  log: (line: string) => void;
  /** Extra environment for the trial processes (tests: MRI_TUNING_FAULT). */
  env?: Record<string, string>;
  /** Seconds without a control message after which the worker sends its state again (lost messages). */
  resendS?: number;
}

interface Prepared {
  key: string;
  plan: LoadedSweep;
  stages: StageOutputs;
  report: StageReport;
}

interface Slot {
  index: number;
  busy: boolean;
  key: string | null;
  proc: TrialProcess | null;
  blocking: Redis;
}

/** Thrown inside a job that this worker will not run: the job goes back to the queue. */
class Refusal extends Error {}

export class QueueWorker {
  readonly info: WorkerInfo;
  private readonly c: QueueConfig;
  private redis!: Redis;
  private fetchConn!: Redis;
  private bull!: BullWorker;
  private slots: Slot[] = [];
  private prepared = new Map<string, Promise<Prepared>>();
  private running = new Map<string, { abort: (reason: string) => void }>();
  private closing = false;
  private exitCode = 0;
  private stopped!: Promise<void>;
  private resolveStopped!: () => void;
  private readonly log: (line: string) => void;

  constructor(private readonly o: AgentOptions) {
    this.c = o.config;
    const host = hostName();
    const runsDir = path.resolve(o.runsDir);
    this.info = { id: `${host}/${process.pid}`, host, pid: process.pid, runsDir, fetchKey: hashString(`${host}\0${runsDir}`).slice(0, 16) };
    this.log = (l) => o.log(`worker ${this.info.id}: ${l}`);
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  /** Connects (a one-line error when Redis cannot be used) and starts taking jobs. */
  async start(): Promise<void> {
    const { version } = await checkRedis(this.c);
    codeVersion(); // computed now, before any job: the version this process runs
    this.redis = connectRedis(this.c, this.log, 'queue');
    this.fetchConn = connectRedis(this.c, this.log, 'queue (copies)');
    for (let i = 0; i < this.o.concurrency; i++) {
      this.slots.push({ index: i, busy: false, key: null, proc: null, blocking: connectRedis(this.c, () => undefined, 'queue (decisions)') });
    }
    this.bull = new BullWorker(this.c.name, (job, token) => this.process(job, token), {
      connection: redisOptions(this.c),
      concurrency: this.o.concurrency,
      ...lockSettings(this.c),
      autorun: true,
    });
    // Each distinct error once a minute at most (a Redis outage repeats the same one many times).
    const said = new Map<string, number>();
    this.bull.on('error', (e) => {
      const text = describeRedisError(this.c, e);
      if (performance.now() - (said.get(text) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
      said.set(text, performance.now());
      this.log(text);
    });
    this.bull.on('completed', (job) => void this.done(job));
    this.bull.on('failed', (job, err) => {
      if (job) void this.done(job);
      if (job && !(err instanceof Refusal)) this.log(`${job.id} failed: ${String(err?.message ?? err).split('\n')[0]}`);
    });
    void this.serveCopies();
    this.log(
      `taking trials from ${this.c.redacted} (Redis ${version}, queue ${this.c.name}, concurrency ${this.o.concurrency}, ` +
        `lost-worker detection ≤ ${this.c.stallS} s), runs folder ${this.info.runsDir}`,
    );
  }

  /** Resolves with the exit code once the worker has stopped. */
  async wait(): Promise<number> {
    await this.stopped;
    return this.exitCode;
  }

  /**
   * Stops taking jobs; running trials are stopped and their jobs put back in the queue (they re-run
   * elsewhere at once, as a new attempt), unless `finish` lets them end first.
   */
  async close(reason: string, code = 0, finish = false): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.exitCode = Math.max(this.exitCode, code);
    this.log(`stopping: ${reason}`);
    if (!finish) for (const r of this.running.values()) r.abort(reason);
    await this.bull.close().catch(() => undefined);
    await Promise.all(this.slots.map((s) => s.proc?.stop()));
    for (const s of this.slots) s.blocking.disconnect();
    this.redis.disconnect();
    this.fetchConn.disconnect();
    this.resolveStopped();
  }

  private async done(job: Job): Promise<void> {
    const d = job.data as Partial<TrialJobData> | undefined;
    if (!d || typeof d.sweepId !== 'string' || typeof d.trialId !== 'string') return;
    await this.inbox(d.sweepId, { type: 'done', jobId: String(job.id), trialId: d.trialId, attempt: job.attemptsStarted });
  }

  private async inbox(sweepId: string, m: InboxMessage): Promise<void> {
    const key = keys.inbox(this.c.name, sweepId);
    await this.redis.xadd(key, 'MAXLEN', '~', '100000', '*', 'm', JSON.stringify(m));
    await this.redis.expire(key, KEY_TTL_S);
  }

  private async serveCopies(): Promise<void> {
    const list = keys.fetch(this.c.name, this.info.fetchKey);
    while (!this.closing) {
      const r = await this.fetchConn.blpop(list, 2).catch(() => null);
      if (!r || this.closing) continue;
      await serveFetch(this.redis, this.c.name, this.info.runsDir, r[1]).catch((e: Error) => this.log(`copy request failed: ${e.message}`));
    }
  }

  private async process(job: Job, token: string | undefined): Promise<TrialJobResult> {
    if (this.closing) await putBack(job, token);
    let data: TrialJobData;
    try {
      data = validateJobData(job.id, job.data);
      if (job.id !== jobIdOf(data.sweepId, data.trialId)) throw new Error(`malformed job ${job.id}: its id is not ${jobIdOf(data.sweepId, data.trialId)}`);
    } catch (e) {
      this.log((e as Error).message);
      throw new UnrecoverableError((e as Error).message);
    }
    const jobId = String(job.id);
    try {
      const mismatch = codeMismatch(jobId, data.code, codeVersion());
      if (mismatch) throw new Refusal(mismatch);
      const prep = await this.prepare(data);
      return await this.runTrial(job, data, prep);
    } catch (e) {
      if (e instanceof Refusal) {
        await this.inbox(data.sweepId, { type: 'refused', jobId, trialId: data.trialId, worker: this.info, reason: e.message }).catch(() => undefined);
        this.log(`refused ${jobId}: ${e.message}`);
        void this.close(e.message, 1, true);
        await putBack(job, token);
      }
      if (e instanceof Aborted) await putBack(job, token);
      throw e;
    }
  }

  /** Loads the job's experiment as the orchestrator did and ensures its stages here (once per experiment). */
  private prepare(data: TrialJobData): Promise<Prepared> {
    const key = `${data.experiment.hash}:${hashString(data.experiment.text).slice(0, 16)}`;
    let p = this.prepared.get(key);
    if (!p) {
      p = this.load(data, key);
      this.prepared.set(key, p);
      p.catch(() => this.prepared.delete(key));
    }
    return p.then((prep) => {
      // The cache may have been cleared since: check again on the next job.
      if (!fs.existsSync(prep.stages.embed.dir)) this.prepared.delete(key);
      const t = prep.plan.trials[data.index];
      if (!t || t.trialId !== data.trialId || t.seed !== data.seed || JSON.stringify(t.params) !== JSON.stringify(data.params)) {
        throw new UnrecoverableError(
          `malformed job ${jobIdOf(data.sweepId, data.trialId)}: trial ${data.index} of the experiment's plan is ${t ? `${t.trialId} ${JSON.stringify(t.params)} seed ${t.seed}` : 'missing'}, the job says ${data.trialId} ${JSON.stringify(data.params)} seed ${data.seed}`,
        );
      }
      return prep;
    });
  }

  private async load(data: TrialJobData, key: string): Promise<Prepared> {
    const file = path.isAbsolute(data.experiment.path) ? data.experiment.path : path.join(workspaceRoot(), data.experiment.path);
    let plan: LoadedSweep;
    try {
      plan = await loadSweep(file, data.experiment.text);
    } catch (e) {
      throw new UnrecoverableError(
        `malformed job ${jobIdOf(data.sweepId, data.trialId)}: its experiment does not validate here: ${(e as Error).message.split('\n')[0]}`,
      );
    }
    plan = { ...plan, experiment: { ...plan.experiment, runsDir: this.info.runsDir } };
    if (plan.sweepId !== data.sweepId || plan.experimentHash !== data.experiment.hash) {
      throw new UnrecoverableError(
        `malformed job ${jobIdOf(data.sweepId, data.trialId)}: its experiment is sweep ${plan.sweepId}, the job says ${data.sweepId}`,
      );
    }
    const t0 = performance.now();
    // The orchestrator's outputs are all here (same keys): confirmed in this process, a fast cache
    // hit. Otherwise a child process builds what is missing, so a long build never starves this
    // process's job-lock renewals.
    const here = STAGES.every((s) => isStageComplete(stageDir(this.info.runsDir, s, data.stages[s])));
    this.log(`${data.sweepId}: ${here ? 'finding' : 'building'} the stages of ${path.basename(file)} in ${path.join(this.info.runsDir, 'cache')}`);
    const stages = here
      ? await ensureStages(plan.experiment).catch((e: Error) => {
          throw new Refusal(`cannot prepare the stages of sweep ${data.sweepId} here (${e.message.split('\n')[0]}); the job is left in the queue`);
        })
      : await this.buildStages(data, file);
    const report = Object.fromEntries(
      STAGES.map((s) => [s, { key: stages[s].key, how: stages[s].hit ? 'hit' : 'built', same: stages[s].key === data.stages[s] }]),
    ) as StageReport;
    this.log(
      `${data.sweepId}: stages ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
        Object.entries(report)
          .map(([k, v]) => `${k} ${v.how}${v.same ? '' : ` (key ${v.key} ≠ orchestrator's)`}`)
          .join(', '),
    );
    return { key, plan, stages, report };
  }

  /** Ensures the stages in a child process (stages-child.ts); a failure is a refusal (this machine cannot run the job). */
  private async buildStages(data: TrialJobData, file: string): Promise<StageOutputs> {
    const child = await execa(process.execPath, ['--import', 'tsx', STAGES_CHILD, file, this.info.runsDir], {
      input: data.experiment.text,
      reject: false,
      cwd: workspaceRoot(),
      all: true,
      env: this.o.env,
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith('@@stages '));
    if (child.exitCode !== 0 || !line) {
      const tail = (child.all ?? '')
        .split('\n')
        .filter((l) => l.trim())
        .slice(-3)
        .join(' | ');
      throw new Refusal(`cannot prepare the stages of sweep ${data.sweepId} here (${tail || `exit ${child.exitCode}`}); the job is left in the queue`);
    }
    return JSON.parse(line.slice('@@stages '.length)) as StageOutputs;
  }

  /** A free slot, preferring one whose warm process already holds this experiment. */
  private acquire(key: string): Slot {
    const free = this.slots.filter((s) => !s.busy);
    const slot = free.find((s) => s.key === key && s.proc && !s.proc.exited) ?? free.find((s) => !s.proc || s.proc.exited) ?? free[0];
    if (!slot) throw new Error('no free slot (BullMQ ran more jobs than the concurrency)');
    slot.busy = true;
    return slot;
  }

  private processFor(slot: Slot, prep: Prepared, data: TrialJobData): TrialProcess {
    if (slot.proc && !slot.proc.exited && slot.key === prep.key) return slot.proc;
    if (slot.proc) void slot.proc.stop();
    const { experiment, settings } = prep.plan;
    const trialExp: Experiment = { ...experiment, config: trialExperiment(experiment.config, settings.epochs) as Experiment['config'] };
    const opts: PoolOptions = {
      size: 1,
      experiment: trialExp,
      stages: { ...prep.stages } as Record<string, StageRef>,
      logDir: path.join(this.info.runsDir, 'trials', data.sweepId),
      trialTimeoutS: settings.trialTimeoutS,
      env: this.o.env,
      cwd: workspaceRoot(),
    };
    slot.proc = new TrialProcess(slot.index, opts);
    slot.key = prep.key;
    return slot.proc;
  }

  private async runTrial(job: Job, data: TrialJobData, prep: Prepared): Promise<TrialJobResult> {
    const jobId = String(job.id);
    const attempt = job.attemptsStarted;
    const slot = this.acquire(prep.key);
    const control = keys.control(this.c.name, data.sweepId, data.trialId, attempt);
    const epochs: EpochMessageRecord[] = [];
    let aborted: string | null = null;
    const proc = this.processFor(slot, prep, data);
    const abort = (reason: string) => {
      aborted ??= reason;
      proc.kill();
    };
    this.running.set(jobId, { abort });
    this.log(`${jobId}: attempt ${attempt} in slot ${slot.index}`);
    const state = () => this.inbox(data.sweepId, { type: 'state', jobId, trialId: data.trialId, attempt, worker: this.info, stages: prep.report, epochs });
    try {
      const ready = await proc.ready;
      if (aborted) throw new Aborted(aborted);
      if (!ready.ok) throw new Error(ready.error);
      await state();
      const trialDir = path.join(this.info.runsDir, 'trials', data.sweepId, data.trialId);
      const logFile = path.join(trialDir, 'trial.log');
      const trialJob: TrialJob = {
        trialId: data.trialId,
        index: data.index,
        params: data.params,
        seed: data.seed,
        outDir: trialDir,
        provenance: { sweep: data.sweepId, trial: data.trialId, experimentHash: data.experiment.hash },
      };
      const resendMs = (this.o.resendS ?? 20) * 1000;
      const outcome: TrialOutcome = await proc.run(trialJob, logFile, {
        onEpoch: async (_trialId, record) => {
          try {
            epochs.push(record);
            await state();
            let last = performance.now();
            for (;;) {
              if (aborted) return 'stop';
              const r = await slot.blocking.blpop(control, 1);
              if (aborted) return 'stop';
              if (!r) {
                // A lost message (a Redis restart between writes) is sent again.
                if (performance.now() - last > resendMs) {
                  await state();
                  last = performance.now();
                }
                continue;
              }
              const m = JSON.parse(r[1]) as ControlMessage;
              if (m.type === 'decision' && m.epoch === record.epoch) return m.action;
              if (m.type === 'resend') {
                await state();
                last = performance.now();
              } else if (m.type === 'abort') {
                abort(m.reason);
                return 'stop';
              }
            }
          } catch (e) {
            abort(`relay failed: ${(e as Error).message}`);
            return 'stop';
          }
        },
      });
      if (aborted) throw new Aborted(aborted);
      if (!outcome.ok) throw new Error(`${outcome.error}\n(on worker ${this.info.id}; log ${this.info.host}:${logFile})`);
      return { v: JOB_FORMAT, attempt, worker: this.info, stages: prep.report, result: outcome.result, trialDir, logFile };
    } finally {
      this.running.delete(jobId);
      slot.busy = false;
      await this.redis.del(control).catch(() => undefined);
    }
  }
}

class Aborted extends Error {}

/**
 * Puts a job back in the queue (no attempt counted as failed); when this worker has lost the job's
 * lock meanwhile (BullMQ gave it to another attempt), there is nothing to put back.
 */
async function putBack(job: Job, token: string | undefined): Promise<never> {
  await job.moveToWait(token).catch(() => undefined);
  throw new WaitingError();
}
