/**
 * A pool of warm trial workers (child processes started with execa, IPC channel). Each worker
 * loads the experiment and features once and runs trials one after another; at most `size`
 * trials run at once. A trial whose worker crashes, runs out of memory or passes its time limit
 * ends as failed with its error, the worker is replaced, and the other trials go on. Each trial's
 * stdout/stderr goes to its own log file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Experiment } from '@mri-robust/core';
import type { EpochMessageRecord, FromWorker, StageRef, ToWorker, TrialJob, TrialResultMessage } from './messages.ts';

const WORKER_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'trial-worker.ts');

export interface PoolOptions {
  size: number;
  /** The validated experiment as trials train with it. */
  experiment: Experiment;
  stages: Record<string, StageRef>;
  /** Folder for worker logs written while no trial is running. */
  logDir: string;
  trialTimeoutS: number | null;
  /** Extra environment for the workers. */
  env?: Record<string, string>;
  cwd: string;
}

export interface TrialHooks {
  /**
   * Called for every epoch; its answer (continue/stop) goes back to the worker. The worker waits for
   * it; time spent waiting does not count against the trial's time limit.
   */
  onEpoch(trialId: string, record: EpochMessageRecord): 'continue' | 'stop' | Promise<'continue' | 'stop'>;
}

export type TrialOutcome = { ok: true; result: TrialResultMessage; wallSeconds: number } | { ok: false; error: string; wallSeconds: number };

const OOM = /out of memory|Aborted\(\)|memory access out of bounds|Cannot allocate|ENOMEM/i;

type Subprocess = ResultPromise<{ ipc: true; serialization: 'json'; reject: false; buffer: false; stdout: 'pipe'; stderr: 'pipe' }>;

/** One warm trial process (also used by the queue worker, queue/agent.ts, one per concurrency slot). */
export class Worker {
  readonly proc: Subprocess;
  private log: fs.WriteStream;
  private tail: string[] = [];
  readonly ready: Promise<{ ok: true; seconds: number } | { ok: false; error: string }>;
  private current: {
    job: TrialJob;
    resolve: (o: TrialOutcome) => void;
    hooks: TrialHooks;
    started: number;
    timer: NodeJS.Timeout | null;
    /** Milliseconds of the time limit left (null: no limit). */
    left: number | null;
    /** When the timer was last (re)started. */
    since: number;
  } | null = null;
  exited = false;
  private exitInfo: string | null = null;
  private readyResolve!: (r: { ok: true; seconds: number } | { ok: false; error: string }) => void;
  private timedOut = false;

  constructor(
    readonly slot: number,
    private readonly opts: PoolOptions,
  ) {
    fs.mkdirSync(opts.logDir, { recursive: true });
    this.log = this.openLog(path.join(opts.logDir, `worker-${slot}.log`));
    this.ready = new Promise((r) => (this.readyResolve = r));
    this.proc = execa(process.execPath, ['--import', 'tsx', WORKER_FILE], {
      ipc: true,
      serialization: 'json',
      reject: false,
      buffer: false,
      stdout: 'pipe',
      stderr: 'pipe',
      cwd: opts.cwd,
      env: { ...opts.env },
      cleanup: true,
    }) as Subprocess;
    this.proc.stdout.on('data', (b: Buffer) => this.output(b));
    this.proc.stderr.on('data', (b: Buffer) => this.output(b));
    this.proc.on('message', (m: unknown) => this.message(m as FromWorker));
    this.proc.on('exit', (code, signal) => this.exit(code, signal));
    this.proc.on('error', (e) => this.output(Buffer.from(`worker error: ${e.message}\n`)));
    this.send({ type: 'init', experiment: opts.experiment, stages: opts.stages });
  }

  private send(msg: ToWorker): void {
    if (!this.exited && this.proc.connected) this.proc.send(msg);
  }

  private output(b: Buffer): void {
    const s = b.toString();
    this.log.write(s);
    for (const line of s.split('\n')) if (line.trim()) this.tail.push(line);
    if (this.tail.length > 30) this.tail.splice(0, this.tail.length - 30);
  }

  /** Set when the current log cannot be written (disk full, read-only, I/O error): fails the trial. */
  private logError: string | null = null;

  /** A log stream whose write errors are recorded, never thrown (an unhandled 'error' would kill the sweep). */
  private openLog(file: string): fs.WriteStream {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
    } catch (e) {
      this.logError ??= `cannot write ${file}: ${(e as Error).message}`;
    }
    const s = fs.createWriteStream(file, { flags: 'a' });
    s.on('error', (e) => {
      this.logError ??= `cannot write ${file}: ${e.message}`;
    });
    return s;
  }

  /** Sends this worker's output to `file` from now on (the trial's log). */
  private redirect(file: string | null): void {
    const next = file ?? path.join(this.opts.logDir, `worker-${this.slot}.log`);
    this.log.end();
    this.log = this.openLog(next);
  }

  private message(m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        this.readyResolve({ ok: true, seconds: m.seconds });
        break;
      case 'init-error':
        this.readyResolve({ ok: false, error: `worker failed to start: ${m.message}` });
        break;
      case 'epoch': {
        const c = this.current;
        if (!c || c.job.trialId !== m.trialId) return;
        this.pauseClock();
        void Promise.resolve(c.hooks.onEpoch(m.trialId, m.record)).then((action) => {
          if (this.current !== c) return;
          this.startClock();
          this.send({ type: 'decision', trialId: m.trialId, epoch: m.record.epoch, action });
        });
        break;
      }
      case 'result':
        this.finish(m.trialId, { ok: true, result: m.result, wallSeconds: 0 });
        break;
      case 'error':
        this.finish(m.trialId, { ok: false, error: m.message, wallSeconds: 0 });
        break;
    }
  }

  private finish(trialId: string, outcome: TrialOutcome): void {
    const c = this.current;
    if (!c || c.job.trialId !== trialId) return;
    if (c.timer) clearTimeout(c.timer);
    this.current = null;
    outcome.wallSeconds = (performance.now() - c.started) / 1000;
    if (outcome.ok && this.logError) outcome = { ok: false, error: this.logError, wallSeconds: outcome.wallSeconds };
    this.redirect(null);
    c.resolve(outcome);
  }

  private exit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    const tail = this.tail.slice(-8).join('\n');
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const oom = OOM.test(tail) ? ' (out of memory)' : '';
    this.exitInfo = `worker ${how}${oom}${tail ? `; last output:\n${tail}` : ''}`;
    this.readyResolve({ ok: false, error: this.exitInfo });
    const c = this.current;
    if (c) {
      const error = this.timedOut ? `timed out after ${this.opts.trialTimeoutS} s (worker killed)` : this.exitInfo;
      this.finish(c.job.trialId, { ok: false, error, wallSeconds: 0 });
    }
    this.log.end();
  }

  /** Stops the time-limit clock (the worker waits for a decision). */
  private pauseClock(): void {
    const c = this.current;
    if (!c || c.left === null || c.timer === null) return;
    clearTimeout(c.timer);
    c.timer = null;
    c.left -= performance.now() - c.since;
  }

  /** (Re)starts the time-limit clock with what is left of the limit. */
  private startClock(): void {
    const c = this.current;
    if (!c || c.left === null || c.timer !== null) return;
    c.since = performance.now();
    c.timer = setTimeout(
      () => {
        this.timedOut = true;
        this.proc.kill('SIGKILL');
      },
      Math.max(0, c.left),
    );
  }

  /** Runs one trial on this (ready) worker. */
  run(job: TrialJob, logFile: string, hooks: TrialHooks): Promise<TrialOutcome> {
    return new Promise((resolve) => {
      this.tail = [];
      this.logError = null;
      this.redirect(logFile);
      const left = this.opts.trialTimeoutS !== null ? this.opts.trialTimeoutS * 1000 : null;
      this.current = { job, resolve, hooks, started: performance.now(), timer: null, left, since: performance.now() };
      this.startClock();
      if (this.exited) {
        this.finish(job.trialId, { ok: false, error: this.exitInfo ?? 'worker is gone', wallSeconds: 0 });
        return;
      }
      this.send({ type: 'trial', job });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.proc;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

export interface PoolStats {
  workersStarted: number;
  /** Seconds from spawn to ready of each worker (process start, imports, feature loading). */
  workerStartSeconds: number[];
}

/**
 * Runs `next()` jobs on up to `size` warm workers until it returns null. `onStart` is awaited
 * before a job is sent; `onEnd` after it ends (both may write the tracking store).
 */
export async function runPool(
  opts: PoolOptions,
  next: () => TrialJob | null,
  logFileOf: (job: TrialJob) => string,
  hooks: TrialHooks,
  onStart: (job: TrialJob, slot: number) => Promise<void>,
  onEnd: (job: TrialJob, outcome: TrialOutcome) => Promise<void>,
): Promise<PoolStats> {
  const stats: PoolStats = { workersStarted: 0, workerStartSeconds: [] };
  const workers: (Worker | null)[] = [];
  const spawn = (slot: number): Worker => {
    stats.workersStarted++;
    const w = new Worker(slot, opts);
    const t0 = performance.now();
    void w.ready.then((r) => {
      if (r.ok) stats.workerStartSeconds.push((performance.now() - t0) / 1000);
    });
    return w;
  };
  const killAll = () => {
    for (const w of workers) w?.kill();
  };
  process.once('exit', killAll);
  const lane = async (slot: number): Promise<void> => {
    for (;;) {
      const job = next();
      if (!job) return;
      let w = workers[slot];
      if (!w || w.exited) w = workers[slot] = spawn(slot);
      const ready = await w.ready;
      await onStart(job, slot);
      let outcome: TrialOutcome;
      if (!ready.ok) {
        outcome = { ok: false, error: ready.error, wallSeconds: 0 };
        try {
          fs.mkdirSync(path.dirname(logFileOf(job)), { recursive: true });
          fs.appendFileSync(logFileOf(job), `${ready.error}\n`);
        } catch {
          // the trial is recorded as failed with this error anyway
        }
        w.kill();
        workers[slot] = null;
      } else {
        outcome = await w.run(job, logFileOf(job), hooks);
      }
      await onEnd(job, outcome);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.size }, (_, i) => lane(i)));
  } finally {
    await Promise.all(workers.map((w) => w?.stop()));
    process.off('exit', killAll);
  }
  return stats;
}
