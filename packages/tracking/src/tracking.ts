/**
 * Tracking store: one DuckDB file (`runs/tracking.duckdb`). The sweep orchestrator is its only
 * writer; everything else (report, `tuning:best`) opens it read-only. Every operation goes through
 * one queue on one connection, and multi-row changes run inside transactions, so a `kill -9` at
 * any moment leaves the committed state of the last finished operation.
 *
 * Durability: committed transactions first land in the WAL (`tracking.duckdb.wal`); the writer
 * CHECKPOINTs after every finished trial and at least every `checkpointEveryS` seconds of epochs
 * (see `maybeCheckpoint`), so the main file alone (a backup that copies `*.duckdb`) holds every
 * finished trial. Paths (model, log, stage folders, experiment) are stored relative to the runs folder
 * (the file's folder) and resolved on read, so a moved or copied runs folder reads as before.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '@mri-robust/core';
import { DOUBLE, DuckDBInstance, INTEGER, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

/** Parameter values and explicit parameter types of tracking statements (so callers need not import DuckDB). */
export type SqlValue = DuckDBValue;
export type SqlType = DuckDBType;
export const SQL_DOUBLE: SqlType = DOUBLE;
export const SQL_INTEGER: SqlType = INTEGER;

export const TRACKING_FILE = 'tracking.duckdb';

/** Table definitions (the contract read by the report package; see ARCHITECTURE.md). */
const TRACKING_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id VARCHAR PRIMARY KEY, name VARCHAR, experiment_path VARCHAR, experiment_hash VARCHAR,
    experiment_yaml VARCHAR, strategy VARCHAR, objective VARCHAR, seed BIGINT, status VARCHAR,
    git_commit VARCHAR, backend VARCHAR, created_at TIMESTAMP, finished_at TIMESTAMP, n_trials INTEGER,
    data_summary JSON, noise_settings JSON, stages JSON,
    direction VARCHAR, max_parallel INTEGER, settings JSON, updated_at TIMESTAMP)`,
  `CREATE TABLE IF NOT EXISTS trials (
    sweep_id VARCHAR, trial_id VARCHAR, trial_index INTEGER, params JSON, learning_rate DOUBLE,
    dropout DOUBLE, batch_size INTEGER, status VARCHAR, error VARCHAR, backend VARCHAR, seed BIGINT,
    config_hash VARCHAR, git_commit VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP,
    best_epoch INTEGER, objective DOUBLE, model_path VARCHAR, log_path VARCHAR,
    attempts INTEGER, epochs_run INTEGER, pruned_at_epoch INTEGER, temperature DOUBLE, train_seconds DOUBLE,
    PRIMARY KEY (sweep_id, trial_id))`,
  `CREATE TABLE IF NOT EXISTS epochs (
    sweep_id VARCHAR, trial_id VARCHAR, epoch INTEGER, train_loss DOUBLE, train_accuracy DOUBLE,
    val_loss DOUBLE, val_accuracy DOUBLE, val_noisy_accuracy DOUBLE, objective DOUBLE,
    learning_rate DOUBLE, seconds DOUBLE,
    PRIMARY KEY (sweep_id, trial_id, epoch))`,
  `CREATE TABLE IF NOT EXISTS evaluations (
    sweep_id VARCHAR, trial_id VARCHAR, test_set VARCHAR, noise_kind VARCHAR, severity DOUBLE,
    n INTEGER, accuracy DOUBLE, ci_low DOUBLE, ci_high DOUBLE, macro_f1 DOUBLE, ece DOUBLE,
    ece_calibrated DOUBLE, per_class JSON,
    PRIMARY KEY (sweep_id, trial_id, test_set))`,
  `CREATE TABLE IF NOT EXISTS confusion (
    sweep_id VARCHAR, trial_id VARCHAR, test_set VARCHAR, true_label VARCHAR, pred_label VARCHAR,
    count INTEGER,
    PRIMARY KEY (sweep_id, trial_id, test_set, true_label, pred_label))`,
];

/** The tables, in the order a rebuild fills them. */
export const TRACKING_TABLES = ['sweeps', 'trials', 'epochs', 'evaluations', 'confusion'] as const;

/** Columns added after the first version of the tables (idempotent). */
const TRACKING_MIGRATIONS: readonly string[] = [
  ...['direction VARCHAR', 'max_parallel INTEGER', 'settings JSON', 'updated_at TIMESTAMP'].map((c) => `ALTER TABLE sweeps ADD COLUMN IF NOT EXISTS ${c}`),
  ...['attempts INTEGER', 'epochs_run INTEGER', 'pruned_at_epoch INTEGER', 'temperature DOUBLE', 'train_seconds DOUBLE'].map(
    (c) => `ALTER TABLE trials ADD COLUMN IF NOT EXISTS ${c}`,
  ),
];

export type TrialStatus = 'pending' | 'running' | 'finished' | 'failed' | 'pruned';

interface SweepRow {
  sweep_id: string;
  name: string;
  experiment_path: string;
  experiment_hash: string;
  experiment_yaml: string;
  strategy: string;
  objective: string;
  seed: number;
  status: string;
  git_commit: string | null;
  backend: string | null;
  created_at: Date;
  finished_at: Date | null;
  n_trials: number;
  data_summary: unknown;
  noise_settings: unknown;
  stages: unknown;
  direction: 'maximize' | 'minimize';
  max_parallel: number;
  settings: unknown;
  updated_at: Date | null;
}

export interface TrialRow {
  sweep_id: string;
  trial_id: string;
  trial_index: number;
  params: { learningRate: number; dropout: number; batchSize: number };
  learning_rate: number;
  dropout: number;
  batch_size: number;
  status: TrialStatus;
  error: string | null;
  backend: string | null;
  seed: number;
  config_hash: string;
  git_commit: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  best_epoch: number | null;
  objective: number | null;
  model_path: string | null;
  log_path: string | null;
  attempts: number;
  epochs_run: number | null;
  pruned_at_epoch: number | null;
  temperature: number | null;
  train_seconds: number | null;
}

export interface EpochRow {
  sweep_id: string;
  trial_id: string;
  epoch: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number;
  val_accuracy: number;
  val_noisy_accuracy: number | null;
  objective: number | null;
  learning_rate: number;
  seconds: number;
}

interface EvaluationRow {
  sweep_id: string;
  trial_id: string;
  test_set: string;
  noise_kind: string;
  severity: number;
  n: number;
  accuracy: number;
  ci_low: number;
  ci_high: number;
  macro_f1: number;
  ece: number;
  ece_calibrated: number;
  per_class: { label: string; precision: number; recall: number; f1: number; support: number }[];
}

interface ConfusionRow {
  sweep_id: string;
  trial_id: string;
  test_set: string;
  true_label: string;
  pred_label: string;
  count: number;
}

const JSON_COLUMNS = new Set(['params', 'per_class', 'data_summary', 'noise_settings', 'stages', 'settings']);

function normalize(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'bigint') out[k] = Number(v);
    else if (JSON_COLUMNS.has(k) && typeof v === 'string') out[k] = JSON.parse(v);
    else out[k] = v;
  }
  return out;
}

interface OpenOptions {
  readOnly?: boolean;
  /**
   * Read-only only: when a running sweep holds the file (DuckDB lets one process open it at a
   * time), read a snapshot instead — a copy of the file and its WAL, whose replay gives the
   * transactions committed when it was taken. Default false.
   */
  snapshotIfLocked?: boolean;
}

const isLockError = (e: unknown) => /lock/i.test((e as Error).message);

/** The command for a damaged or incomplete tracking file. */
const REPAIR_COMMAND = 'npx nx run tuning:doctor --repair';

/** `p` relative to the runs folder (forward slashes) when it lies inside it; otherwise `p` unchanged. */
export function toRunsRelative(runsDir: string, p: string): string;
export function toRunsRelative(runsDir: string, p: string | null): string | null;
export function toRunsRelative(runsDir: string, p: string | null): string | null {
  if (p === null || !path.isAbsolute(p)) return p;
  const rel = path.relative(path.resolve(runsDir), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : rel === '' ? '.' : p;
}

/** A path read from the database: a relative one is resolved against the runs folder. */
function fromRunsRelative(runsDir: string, p: string | null): string | null {
  if (p === null || p === '' || path.isAbsolute(p)) return p;
  return path.resolve(runsDir, p);
}

/** Who holds DuckDB's lock, from its message ("... Conflicting lock is held in <exe> (PID 123) ..."). */
function lockHolder(msg: string): string {
  const pid = /PID (\d+)/.exec(msg)?.[1];
  if (!pid) return 'another process';
  let cmd = '';
  try {
    cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1).join(' ');
  } catch {
    // not on Linux, or gone
  }
  const what = /tuning\/src\/cli\.ts sweep|trial-worker/.test(cmd)
    ? 'a running sweep'
    : /cli\.ts (best|doctor|import)|report/.test(cmd)
      ? 'a reader'
      : 'a process';
  return `${what} (PID ${pid}${cmd ? `: ${cmd.slice(0, 160)}` : ''})`;
}

/** DuckDB's errors for a damaged or unwritable file (not SQL mistakes). */
function isStorageError(e: unknown): boolean {
  return /IO Error|Corrupt|checksum|Could not read|ENOSPC|EROFS|EIO|No space left|Read-only file system|database has been invalidated/i.test(
    (e as Error)?.message ?? '',
  );
}

/** A storage error as one line naming the file (and the repair command when the file is damaged). */
export function trackingError(file: string, e: unknown, doing: string): UserError {
  const err = e as NodeJS.ErrnoException;
  const msg = (err?.message ?? String(e)).split('\n')[0];
  if (/ENOSPC|No space left/i.test(msg)) return new UserError(`${file}: cannot ${doing}: the disk is full (${msg}); free space and run again`);
  if (/EROFS|Read-only file system/i.test(msg)) return new UserError(`${file}: cannot ${doing}: the file system is read-only (${msg})`);
  if (/EACCES|Permission denied/i.test(msg)) return new UserError(`${file}: cannot ${doing}: permission denied (${msg})`);
  return new UserError(`${file}: cannot ${doing}: ${msg}; if the file is damaged, ${REPAIR_COMMAND} moves it aside and rebuilds it from the trial folders`);
}

/** One statement of a transaction; `types` binds parameters explicitly (e.g. DOUBLE for 1e300, which would bind as BIGINT). */
export interface TrackingStatement {
  sql: string;
  params?: DuckDBValue[];
  types?: (DuckDBType | undefined)[];
}

/** A DuckDB connection whose operations run one at a time, in call order. */
export class Tracking {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    readonly readOnly: boolean,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {
    this.runsDir = path.dirname(path.resolve(file));
  }

  /** The runs folder (the file's folder): relative paths in the database are resolved against it. */
  readonly runsDir: string;
  private lastCheckpoint = performance.now();

  /** Set when this connection reads a snapshot (see OpenOptions.snapshotIfLocked): when it was taken. */
  snapshotAt: Date | null = null;
  private snapshotDir: string | null = null;

  static async open(file: string, options: OpenOptions = {}): Promise<Tracking> {
    const readOnly = options.readOnly ?? false;
    if (readOnly && !fs.existsSync(file)) throw new UserError(`no tracking database at ${file}: run a sweep first (npx nx run tuning:sweep)`);
    if (!readOnly) fs.mkdirSync(path.dirname(file), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(file, readOnly ? { access_mode: 'READ_ONLY' } : {});
    } catch (e) {
      const msg = (e as Error).message;
      if (isLockError(e) && !/read-only file system|EROFS/i.test(msg)) {
        if (readOnly && options.snapshotIfLocked) return Tracking.openSnapshot(file);
        throw new UserError(`${file} is in use by ${lockHolder(msg)}; a sweep is its only writer, wait for it to end (or stop it)`);
      }
      throw trackingError(file, e, readOnly ? 'open the tracking database' : 'open the tracking database for writing');
    }
    const conn = await instance.connect();
    const t = new Tracking(file, readOnly, instance, conn);
    if (!readOnly) {
      try {
        for (const ddl of TRACKING_DDL) await conn.run(ddl);
        // A file made by an earlier version of the DDL gets the columns added since.
        for (const m of TRACKING_MIGRATIONS) await conn.run(m);
      } catch (e) {
        conn.closeSync();
        instance.closeSync();
        throw trackingError(file, e, 'prepare the tracking tables');
      }
    }
    return t;
  }

  /**
   * Copies the file and its WAL into a temp folder and opens the copy (read-write, so that DuckDB
   * replays the WAL into it; the original is never touched). A copy taken in the middle of the
   * writer's checkpoint can be unreadable: then it is taken again, up to 5 times.
   */
  private static async openSnapshot(file: string): Promise<Tracking> {
    let last: unknown = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracking-snapshot-'));
      const copy = path.join(dir, path.basename(file));
      try {
        const at = new Date();
        fs.copyFileSync(file, copy);
        if (fs.existsSync(`${file}.wal`)) fs.copyFileSync(`${file}.wal`, `${copy}.wal`);
        const instance = await DuckDBInstance.create(copy);
        const conn = await instance.connect();
        await conn.run('SELECT count(*) FROM sweeps');
        const t = new Tracking(file, true, instance, conn);
        t.snapshotAt = at;
        t.snapshotDir = dir;
        return t;
      } catch (e) {
        last = e;
        fs.rmSync(dir, { recursive: true, force: true });
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
    throw new UserError(`${file} is in use by a running sweep and no readable snapshot of it could be taken: ${(last as Error).message}`);
  }

  /** Runs `fn` after every operation queued before it. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  run(sql: string, params: DuckDBValue[] = []): Promise<void> {
    return this.enqueue(async () => {
      await this.conn.run(sql, params);
    });
  }

  all<T = Record<string, unknown>>(sql: string, params: DuckDBValue[] = []): Promise<T[]> {
    return this.enqueue(async () => {
      let r: Awaited<ReturnType<DuckDBConnection['runAndReadAll']>>;
      try {
        r = await this.conn.runAndReadAll(sql, params);
      } catch (e) {
        // A damaged file fails on the blocks a query reads: say which file, and how to repair it.
        if (isStorageError(e)) throw trackingError(this.file, e, 'read the tracking database');
        throw e;
      }
      return r.getRowObjectsJS().map((row) => normalize(row as Record<string, unknown>) as T);
    });
  }

  /** Runs statements in one transaction: all of them are committed, or none. */
  transaction(statements: TrackingStatement[]): Promise<void> {
    return this.enqueue(async () => {
      await this.conn.run('BEGIN TRANSACTION');
      try {
        const prepared = new Map<string, Awaited<ReturnType<DuckDBConnection['prepare']>>>();
        for (const s of statements) {
          const p = prepared.get(s.sql) ?? (await this.conn.prepare(s.sql));
          prepared.set(s.sql, p);
          p.bind(s.params ?? [], s.types as DuckDBType[] | undefined);
          await p.run();
        }
        await this.conn.run('COMMIT');
      } catch (e) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  /** Writes the WAL into the main file (DuckDB CHECKPOINT); a writer calls it after each unit of work. */
  checkpoint(): Promise<void> {
    return this.enqueue(async () => {
      await this.conn.run('CHECKPOINT');
      this.lastCheckpoint = performance.now();
    });
  }

  /** Checkpoints when the last one is more than `everyS` seconds old (for a stream of epoch rows). */
  async maybeCheckpoint(everyS: number): Promise<boolean> {
    if (performance.now() - this.lastCheckpoint < everyS * 1000) return false;
    this.lastCheckpoint = performance.now();
    await this.checkpoint();
    return true;
  }

  /** Waits for queued operations, then closes the file (checkpointing the WAL when writable). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    if (!this.readOnly) await this.conn.run('CHECKPOINT').catch(() => undefined);
    this.conn.closeSync();
    this.instance.closeSync();
    if (this.snapshotDir) fs.rmSync(this.snapshotDir, { recursive: true, force: true });
  }
}

export function openTracking(file: string, options: OpenOptions = {}): Promise<Tracking> {
  return Tracking.open(file, options);
}

/**
 * Opens `file` for reading (report, `tuning:best`): read-only, or a snapshot when a running sweep
 * holds it, which a note on stderr says. Every error is a UserError naming the file.
 */
export async function openTrackingReader(file: string): Promise<Tracking> {
  let t: Tracking;
  try {
    t = await Tracking.open(file, { readOnly: true, snapshotIfLocked: true });
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot open tracking database ${file}: ${(e as Error).message}`);
  }
  if (t.snapshotAt) process.stderr.write(`note: ${file} is held by a running sweep; reading its state committed at ${t.snapshotAt.toISOString()}\n`);
  return t;
}

// ---- read API (used by the report package and `tuning:best`) ----

/** A sweep row with its experiment path and stage folders resolved against the runs folder. */
function resolveSweep(t: Tracking, r: SweepRow): SweepRow {
  const stages = r.stages;
  let resolved: unknown = stages;
  if (stages && typeof stages === 'object' && !Array.isArray(stages)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(stages as Record<string, unknown>)) {
      const ref = v as { dir?: unknown } | null;
      out[k] = ref && typeof ref === 'object' && typeof ref.dir === 'string' ? { ...ref, dir: fromRunsRelative(t.runsDir, ref.dir) } : v;
    }
    resolved = out;
  }
  return { ...r, experiment_path: fromRunsRelative(t.runsDir, r.experiment_path) ?? r.experiment_path, stages: resolved };
}

/** A trial row with its model and log paths resolved against the runs folder. */
function resolveTrial(t: Tracking, r: TrialRow): TrialRow {
  return { ...r, model_path: fromRunsRelative(t.runsDir, r.model_path), log_path: fromRunsRelative(t.runsDir, r.log_path) };
}

export async function listSweeps(t: Tracking): Promise<SweepRow[]> {
  return (await t.all<SweepRow>('SELECT * FROM sweeps ORDER BY created_at DESC')).map((r) => resolveSweep(t, r));
}

export async function getSweep(t: Tracking, sweepId: string): Promise<SweepRow | null> {
  const rows = await t.all<SweepRow>('SELECT * FROM sweeps WHERE sweep_id = $1', [sweepId]);
  return rows[0] ? resolveSweep(t, rows[0]) : null;
}

/** The sweep updated most recently (the one a user just ran), or null. */
export async function latestSweep(t: Tracking): Promise<SweepRow | null> {
  const rows = await t.all<SweepRow>('SELECT * FROM sweeps ORDER BY coalesce(updated_at, created_at) DESC LIMIT 1');
  return rows[0] ? resolveSweep(t, rows[0]) : null;
}

export async function listTrials(t: Tracking, sweepId: string): Promise<TrialRow[]> {
  return (await t.all<TrialRow>('SELECT * FROM trials WHERE sweep_id = $1 ORDER BY trial_index', [sweepId])).map((r) => resolveTrial(t, r));
}

export function listEpochs(t: Tracking, sweepId: string, trialId?: string): Promise<EpochRow[]> {
  return trialId === undefined
    ? t.all<EpochRow>('SELECT * FROM epochs WHERE sweep_id = $1 ORDER BY trial_id, epoch', [sweepId])
    : t.all<EpochRow>('SELECT * FROM epochs WHERE sweep_id = $1 AND trial_id = $2 ORDER BY epoch', [sweepId, trialId]);
}

export function listEvaluations(t: Tracking, sweepId: string, trialId?: string): Promise<EvaluationRow[]> {
  return trialId === undefined
    ? t.all<EvaluationRow>('SELECT * FROM evaluations WHERE sweep_id = $1 ORDER BY trial_id, test_set', [sweepId])
    : t.all<EvaluationRow>('SELECT * FROM evaluations WHERE sweep_id = $1 AND trial_id = $2 ORDER BY test_set', [sweepId, trialId]);
}

export function listConfusion(t: Tracking, sweepId: string, trialId: string, testSet?: string): Promise<ConfusionRow[]> {
  return testSet === undefined
    ? t.all<ConfusionRow>('SELECT * FROM confusion WHERE sweep_id = $1 AND trial_id = $2 ORDER BY test_set, true_label, pred_label', [sweepId, trialId])
    : t.all<ConfusionRow>('SELECT * FROM confusion WHERE sweep_id = $1 AND trial_id = $2 AND test_set = $3 ORDER BY true_label, pred_label', [
        sweepId,
        trialId,
        testSet,
      ]);
}

/** Finished or pruned trials ordered best first by the sweep's objective. */
export async function rankedTrials(t: Tracking, sweepId: string): Promise<TrialRow[]> {
  const sweep = await getSweep(t, sweepId);
  if (!sweep) return [];
  const order = sweep.direction === 'minimize' ? 'ASC' : 'DESC';
  const rows = await t.all<TrialRow>(
    `SELECT * FROM trials WHERE sweep_id = $1 AND status IN ('finished', 'pruned') AND objective IS NOT NULL AND NOT isnan(objective)
     ORDER BY objective ${order}, trial_index`,
    [sweepId],
  );
  return rows.map((r) => resolveTrial(t, r));
}

export async function bestTrial(t: Tracking, sweepId: string): Promise<TrialRow | null> {
  return (await rankedTrials(t, sweepId))[0] ?? null;
}
