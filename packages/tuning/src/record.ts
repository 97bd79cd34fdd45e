/**
 * Writes of the sweep orchestrator. Every change is an event (trial-record.ts): appended to the
 * trial-folder record first, then applied to the tracking database as one transaction, so a kill at
 * any moment leaves either all of a change or none of it in the database, and the folder record
 * holds at least what the database holds. `applySweepEvent` / `applyTrialEvent` are the only
 * writers of rows: the import (import.ts) replays the same events through them, which rebuilds the
 * rows exactly. Numeric parameters are bound with explicit DOUBLE types (a learning rate of 1e300 is
 * an integer to JavaScript and would otherwise bind as BIGINT and fail).
 * The database is CHECKPOINTed after every finished or failed trial and at least every
 * `checkpointEveryS` seconds of epochs, so the main file alone holds every finished trial.
 */
import path from 'node:path';
import { UserError } from '@mri-robust/core';
import {
  SQL_DOUBLE as DOUBLE,
  SQL_INTEGER as INTEGER,
  toRunsRelative,
  trackingError,
  type SqlType as DuckDBType,
  type SqlValue as DuckDBValue,
  type Tracking,
  type TrackingStatement,
  type TrialStatus,
} from '@mri-robust/tracking';
import type { EpochMessageRecord, EvaluationMessageRecord, TrialResultMessage } from './messages.ts';
import type { PlannedTrial } from './plan.ts';
import { appendEvent, RECORD_VERSION, sweepRecordFile, trialRecordFile, type SweepEvent, type SweepRecord, type TrialEvent } from './trial-record.ts';

export type { SweepRecord } from './trial-record.ts';

const ts = (p: string) => `CAST(${p} AS TIMESTAMP)`;
const num = (x: number | undefined | null): number | null => (x === undefined || x === null || Number.isNaN(x) ? null : x);

/** A parameter bound as DOUBLE / INTEGER. */
interface Typed {
  typed: DuckDBType;
  value: DuckDBValue;
}
const D = (x: number | undefined | null): Typed => ({ typed: DOUBLE, value: num(x) });
const I = (x: number | undefined | null): Typed => ({ typed: INTEGER, value: x === undefined || x === null || Number.isNaN(x) ? null : Math.round(x) });

function stmt(sql: string, params: (DuckDBValue | Typed)[]): TrackingStatement {
  const values: DuckDBValue[] = [];
  const types: (DuckDBType | undefined)[] = [];
  for (const p of params) {
    if (p !== null && typeof p === 'object' && 'typed' in (p as object)) {
      values.push((p as Typed).value);
      types.push((p as Typed).typed);
    } else {
      values.push(p as DuckDBValue);
      types.push(undefined);
    }
  }
  return { sql, params: values, types };
}

// ---- rows from events (the only writers) ----

function trialInsert(sweepId: string, tr: PlannedTrial, gitCommit: string): TrackingStatement {
  return stmt(
    `INSERT INTO trials (sweep_id, trial_id, trial_index, params, learning_rate, dropout, batch_size, status, seed,
       config_hash, git_commit, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, 0) ON CONFLICT DO NOTHING`,
    [
      sweepId,
      tr.trialId,
      I(tr.index),
      JSON.stringify(tr.params),
      D(tr.params.learningRate),
      D(tr.params.dropout),
      I(tr.params.batchSize),
      tr.seed,
      tr.configHash,
      gitCommit,
    ],
  );
}

export function sweepEventStatements(e: SweepEvent, sweepId: string): TrackingStatement[] {
  if (e.type === 'end') {
    return [
      stmt(
        `UPDATE sweeps SET status = $2, finished_at = ${ts('$3')}, updated_at = ${ts('$3')}, backend = coalesce($4, backend)
         WHERE sweep_id = $1`,
        [sweepId, e.status, e.at, e.backend],
      ),
    ];
  }
  const s = e.sweep;
  const out: TrackingStatement[] = [
    stmt(
      `INSERT INTO sweeps (sweep_id, name, experiment_path, experiment_hash, experiment_yaml, strategy, objective,
         seed, status, git_commit, backend, created_at, finished_at, n_trials, data_summary, noise_settings, stages,
         direction, max_parallel, settings, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $10, ${ts('$11')}, NULL, $12, $13, $14, $15, $16, $17, $18, ${ts('$11')})
       ON CONFLICT (sweep_id) DO UPDATE SET status = 'running', experiment_path = excluded.experiment_path,
         git_commit = excluded.git_commit, finished_at = NULL, stages = excluded.stages, data_summary = excluded.data_summary,
         max_parallel = excluded.max_parallel, updated_at = excluded.updated_at`,
      [
        s.sweepId,
        s.name,
        s.experimentPath,
        s.experimentHash,
        s.experimentYaml,
        s.strategy,
        s.objective,
        s.seed,
        s.gitCommit,
        s.backend,
        e.at,
        I(s.nTrials),
        JSON.stringify(s.dataSummary ?? null),
        JSON.stringify(s.noiseSettings ?? null),
        JSON.stringify(s.stages ?? null),
        s.direction,
        I(s.maxParallel),
        JSON.stringify(s.settings ?? null),
      ],
    ),
  ];
  for (const tr of e.trials) out.push(trialInsert(s.sweepId, tr, e.gitCommit));
  return out;
}

const EPOCH_INSERT = `INSERT INTO epochs (sweep_id, trial_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy,
  val_noisy_accuracy, objective, learning_rate, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;

function epochStatement(sweepId: string, trialId: string, e: EpochMessageRecord, objective: number, onConflict = ''): TrackingStatement {
  return stmt(`${EPOCH_INSERT}${onConflict}`, [
    sweepId,
    trialId,
    I(e.epoch),
    D(e.trainLoss),
    D(e.trainAccuracy),
    D(e.valLoss),
    D(e.valAccuracy),
    D(e.valNoisyAccuracy),
    D(objective),
    D(e.learningRate),
    D(e.seconds),
  ]);
}

function evaluationStatements(sweepId: string, trialId: string, ev: EvaluationMessageRecord): TrackingStatement[] {
  const out: TrackingStatement[] = [
    stmt(
      `INSERT INTO evaluations (sweep_id, trial_id, test_set, noise_kind, severity, n, accuracy, ci_low, ci_high,
         macro_f1, ece, ece_calibrated, per_class) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        sweepId,
        trialId,
        ev.testSet,
        ev.noiseKind,
        D(ev.severity),
        I(ev.n),
        D(ev.accuracy),
        D(ev.ciLow),
        D(ev.ciHigh),
        D(ev.macroF1),
        D(ev.ece),
        D(ev.eceCalibrated),
        JSON.stringify(ev.perClass ?? []),
      ],
    ),
  ];
  const classes = ev.classes ?? [];
  (ev.confusion ?? []).forEach((row, i) => {
    row.forEach((count, j) => {
      out.push(
        stmt(`INSERT INTO confusion (sweep_id, trial_id, test_set, true_label, pred_label, count) VALUES ($1, $2, $3, $4, $5, $6)`, [
          sweepId,
          trialId,
          ev.testSet,
          classes[i] ?? String(i),
          classes[j] ?? String(j),
          I(count),
        ]),
      );
    });
  });
  return out;
}

export function trialEventStatements(e: TrialEvent, sweepId: string, trialId: string): TrackingStatement[] {
  const key = [sweepId, trialId];
  switch (e.type) {
    case 'start':
      return [
        trialInsert(sweepId, e.trial, e.gitCommit),
        stmt('DELETE FROM epochs WHERE sweep_id = $1 AND trial_id = $2', key),
        stmt('DELETE FROM evaluations WHERE sweep_id = $1 AND trial_id = $2', key),
        stmt('DELETE FROM confusion WHERE sweep_id = $1 AND trial_id = $2', key),
        stmt(
          `UPDATE trials SET status = 'running', started_at = ${ts('$3')}, ended_at = NULL, error = NULL, best_epoch = NULL,
             objective = NULL, model_path = NULL, epochs_run = NULL, pruned_at_epoch = NULL, temperature = NULL,
             train_seconds = NULL, log_path = $4, git_commit = $5, attempts = coalesce(attempts, 0) + 1
           WHERE sweep_id = $1 AND trial_id = $2`,
          [...key, e.at, e.logPath, e.gitCommit],
        ),
      ];
    case 'epoch':
      return [epochStatement(sweepId, trialId, e.record, e.objective)];
    case 'end': {
      const r = e.result;
      const objectives = new Map(e.objectives);
      const out: TrackingStatement[] = [];
      for (const ep of r.epochs) out.push(epochStatement(sweepId, trialId, ep, objectives.get(ep.epoch) ?? Number.NaN, ' ON CONFLICT DO NOTHING'));
      for (const ev of r.evaluations) out.push(...evaluationStatements(sweepId, trialId, ev));
      out.push(
        stmt(
          `UPDATE trials SET status = $3, ended_at = ${ts('$4')}, best_epoch = $5, objective = $6, model_path = $7, backend = $8,
             temperature = $9, epochs_run = $10, pruned_at_epoch = $11, train_seconds = $12, error = NULL
           WHERE sweep_id = $1 AND trial_id = $2`,
          [
            ...key,
            e.status,
            e.at,
            I(r.bestEpoch),
            D(e.objective),
            r.modelDir,
            r.backend,
            D(r.temperature),
            I(r.epochs.length),
            I(e.prunedAtEpoch),
            D(r.seconds),
          ],
        ),
      );
      return out;
    }
    case 'failed':
      return [
        stmt(`UPDATE trials SET status = 'failed', ended_at = ${ts('$3')}, error = $4 WHERE sweep_id = $1 AND trial_id = $2`, [
          ...key,
          e.at,
          e.error.slice(0, 4000),
        ]),
      ];
  }
}

export function applySweepEvent(t: Tracking, sweepId: string, e: SweepEvent): Promise<void> {
  return t.transaction(sweepEventStatements(e, sweepId));
}

export function applyTrialEvent(t: Tracking, sweepId: string, trialId: string, e: TrialEvent): Promise<void> {
  return t.transaction(trialEventStatements(e, sweepId, trialId));
}

// ---- the orchestrator's recorder: folder record first, then the database ----

/** The tracking database could not be written: the sweep stops (its folder records keep what was done). */
export class TrackingWriteError extends UserError {}

export interface TrialEnd {
  status: Extract<TrialStatus, 'finished' | 'pruned'>;
  result: TrialResultMessage;
  objective: number | null;
  objectives: Map<number, number>;
  prunedAtEpoch: number | null;
}

export interface RecorderOptions {
  tracking: Tracking;
  trialsDir: string;
  sweepId: string;
  /** Checkpoint at least this often while epochs stream in (default 30 s). */
  checkpointEveryS?: number;
}

export class SweepRecorder {
  private readonly t: Tracking;
  private readonly every: number;
  /** The first database failure: later ones (DuckDB invalidates a file after a failed write) repeat it. */
  private firstError: TrackingWriteError | null = null;
  constructor(private readonly o: RecorderOptions) {
    this.t = o.tracking;
    this.every = o.checkpointEveryS ?? Number(process.env.MRI_CHECKPOINT_EVERY_S ?? 30);
  }

  private async db(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (this.firstError) throw this.firstError;
      const err = trackingError(this.t.file, e, what);
      this.firstError = new TrackingWriteError(
        `${err.message}; the trial folders under ${this.o.trialsDir} keep every finished trial (npx nx run tuning:import rebuilds the rows)`,
      );
      throw this.firstError;
    }
  }

  /** `p` as the database stores it: relative to the tracking file's folder (the runs folder) when inside it. */
  relative(p: string): string {
    return toRunsRelative(this.t.runsDir, path.resolve(p));
  }

  private rel(p: string): string {
    return this.relative(p);
  }

  async begin(sweep: SweepRecord, trials: PlannedTrial[], gitCommit: string): Promise<void> {
    const e: SweepEvent = { v: RECORD_VERSION, type: 'begin', at: new Date().toISOString(), sweep, trials, gitCommit };
    appendEvent(sweepRecordFile(this.o.trialsDir), e);
    await this.db('record the sweep', () => applySweepEvent(this.t, this.o.sweepId, e));
    await this.db('checkpoint', () => this.t.checkpoint());
  }

  /** Throws RecordWriteError when the trial folder cannot be written (the trial then fails). */
  async start(trial: PlannedTrial, logPath: string, gitCommit: string): Promise<void> {
    const e: TrialEvent = {
      v: RECORD_VERSION,
      type: 'start',
      at: new Date().toISOString(),
      sweepId: this.o.sweepId,
      trial,
      logPath: this.rel(logPath),
      gitCommit,
    };
    let folderError: unknown = null;
    try {
      appendEvent(trialRecordFile(this.o.trialsDir, trial.trialId), e);
    } catch (err) {
      folderError = err;
    }
    // The database row says running either way, so the failure that follows is recorded on it.
    await this.db('record the trial start', () => applyTrialEvent(this.t, this.o.sweepId, trial.trialId, e));
    if (folderError) throw folderError;
  }

  async epoch(trialId: string, record: EpochMessageRecord, objective: number): Promise<void> {
    const e: TrialEvent = { v: RECORD_VERSION, type: 'epoch', at: new Date().toISOString(), record, objective };
    appendEvent(trialRecordFile(this.o.trialsDir, trialId), e);
    await this.db('record an epoch', () => applyTrialEvent(this.t, this.o.sweepId, trialId, e));
    await this.db('checkpoint', () => this.t.maybeCheckpoint(this.every));
  }

  async end(trialId: string, end: TrialEnd): Promise<void> {
    const e: TrialEvent = {
      v: RECORD_VERSION,
      type: 'end',
      at: new Date().toISOString(),
      status: end.status,
      result: { ...end.result, modelDir: this.rel(end.result.modelDir) },
      objective: end.objective,
      objectives: [...end.objectives.entries()],
      prunedAtEpoch: end.prunedAtEpoch,
    };
    appendEvent(trialRecordFile(this.o.trialsDir, trialId), e);
    await this.db('record the trial result', () => applyTrialEvent(this.t, this.o.sweepId, trialId, e));
    await this.db('checkpoint', () => this.t.checkpoint());
  }

  /** Records a failure; a folder record that cannot be written is skipped (the database still gets it). */
  async failed(trialId: string, error: string): Promise<void> {
    const e: TrialEvent = { v: RECORD_VERSION, type: 'failed', at: new Date().toISOString(), error };
    try {
      appendEvent(trialRecordFile(this.o.trialsDir, trialId), e);
    } catch {
      // the same storage fault is usually the reason for the failure; the database row says it
    }
    await this.db('record the trial failure', () => applyTrialEvent(this.t, this.o.sweepId, trialId, e));
    await this.db('checkpoint', () => this.t.checkpoint());
  }

  async finish(status: string, backend: string | null): Promise<void> {
    const e: SweepEvent = { v: RECORD_VERSION, type: 'end', at: new Date().toISOString(), status, backend };
    appendEvent(sweepRecordFile(this.o.trialsDir), e);
    await this.db('record the end of the sweep', () => applySweepEvent(this.t, this.o.sweepId, e));
    await this.db('checkpoint', () => this.t.checkpoint());
  }
}
