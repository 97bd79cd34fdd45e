/**
 * Writes of the sweep orchestrator to the tracking store. Each function is one transaction (or
 * one single-row statement), so a kill at any moment leaves either all of a change or none of it.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import type { EpochMessageRecord, EvaluationMessageRecord, TrialResultMessage } from './messages.ts';
import type { PlannedTrial } from './plan.ts';
import type { Tracking, TrialStatus } from '@mri-robust/tracking';

const now = (): string => new Date().toISOString();
const ts = (p: string) => `CAST(${p} AS TIMESTAMP)`;
const num = (x: number | undefined | null): number | null => (x === undefined || x === null || Number.isNaN(x) ? null : x);

export interface SweepRecord {
  sweepId: string;
  name: string;
  experimentPath: string;
  experimentHash: string;
  experimentYaml: string;
  strategy: string;
  objective: string;
  direction: string;
  seed: number;
  gitCommit: string;
  backend: string | null;
  nTrials: number;
  maxParallel: number;
  dataSummary: unknown;
  noiseSettings: unknown;
  stages: unknown;
  settings: unknown;
}

/** Creates the sweep (or marks an existing one running again) and its pending trials. */
export async function beginSweep(t: Tracking, s: SweepRecord, trials: PlannedTrial[], gitCommit: string): Promise<void> {
  const stamp = now();
  const statements: { sql: string; params?: DuckDBValue[] }[] = [
    {
      sql: `INSERT INTO sweeps (sweep_id, name, experiment_path, experiment_hash, experiment_yaml, strategy, objective,
              seed, status, git_commit, backend, created_at, finished_at, n_trials, data_summary, noise_settings, stages,
              direction, max_parallel, settings, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $10, ${ts('$11')}, NULL, $12, $13, $14, $15, $16, $17, $18, ${ts('$11')})
            ON CONFLICT (sweep_id) DO UPDATE SET status = 'running', experiment_path = excluded.experiment_path,
              git_commit = excluded.git_commit, finished_at = NULL, stages = excluded.stages, data_summary = excluded.data_summary,
              max_parallel = excluded.max_parallel, updated_at = excluded.updated_at`,
      params: [
        s.sweepId, s.name, s.experimentPath, s.experimentHash, s.experimentYaml, s.strategy, s.objective,
        s.seed, s.gitCommit, s.backend, stamp, s.nTrials,
        JSON.stringify(s.dataSummary ?? null), JSON.stringify(s.noiseSettings ?? null), JSON.stringify(s.stages ?? null),
        s.direction, s.maxParallel, JSON.stringify(s.settings ?? null),
      ],
    },
  ];
  for (const tr of trials) {
    statements.push({
      sql: `INSERT INTO trials (sweep_id, trial_id, trial_index, params, learning_rate, dropout, batch_size, status, seed,
              config_hash, git_commit, attempts)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, 0) ON CONFLICT DO NOTHING`,
      params: [
        s.sweepId, tr.trialId, tr.index, JSON.stringify(tr.params), tr.params.learningRate, tr.params.dropout,
        tr.params.batchSize, tr.seed, tr.configHash, gitCommit,
      ],
    });
  }
  await t.transaction(statements);
}

/** Marks a trial running and deletes what an earlier, unfinished attempt left, in one transaction. */
export async function startTrial(t: Tracking, sweepId: string, trialId: string, logPath: string, gitCommit: string): Promise<void> {
  const key = [sweepId, trialId];
  await t.transaction([
    { sql: 'DELETE FROM epochs WHERE sweep_id = $1 AND trial_id = $2', params: key },
    { sql: 'DELETE FROM evaluations WHERE sweep_id = $1 AND trial_id = $2', params: key },
    { sql: 'DELETE FROM confusion WHERE sweep_id = $1 AND trial_id = $2', params: key },
    {
      sql: `UPDATE trials SET status = 'running', started_at = ${ts('$3')}, ended_at = NULL, error = NULL, best_epoch = NULL,
              objective = NULL, model_path = NULL, epochs_run = NULL, pruned_at_epoch = NULL, temperature = NULL,
              train_seconds = NULL, log_path = $4, git_commit = $5, attempts = coalesce(attempts, 0) + 1
            WHERE sweep_id = $1 AND trial_id = $2`,
      params: [...key, now(), logPath, gitCommit],
    },
  ]);
}

const EPOCH_INSERT = `INSERT INTO epochs (sweep_id, trial_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy,
  val_noisy_accuracy, objective, learning_rate, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;

function epochParams(sweepId: string, trialId: string, e: EpochMessageRecord, objective: number): DuckDBValue[] {
  return [
    sweepId, trialId, e.epoch, num(e.trainLoss), num(e.trainAccuracy), num(e.valLoss), num(e.valAccuracy),
    num(e.valNoisyAccuracy), num(objective), num(e.learningRate), num(e.seconds),
  ];
}

/** One epoch row (its own transaction; the primary key refuses a duplicate). */
export function addEpoch(t: Tracking, sweepId: string, trialId: string, e: EpochMessageRecord, objective: number): Promise<void> {
  return t.transaction([{ sql: EPOCH_INSERT, params: epochParams(sweepId, trialId, e, objective) }]);
}

function evaluationStatements(sweepId: string, trialId: string, ev: EvaluationMessageRecord) {
  const out: { sql: string; params: DuckDBValue[] }[] = [
    {
      sql: `INSERT INTO evaluations (sweep_id, trial_id, test_set, noise_kind, severity, n, accuracy, ci_low, ci_high,
              macro_f1, ece, ece_calibrated, per_class) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      params: [
        sweepId, trialId, ev.testSet, ev.noiseKind, ev.severity, ev.n, num(ev.accuracy), num(ev.ciLow), num(ev.ciHigh),
        num(ev.macroF1), num(ev.ece), num(ev.eceCalibrated), JSON.stringify(ev.perClass ?? []),
      ],
    },
  ];
  const classes = ev.classes ?? [];
  (ev.confusion ?? []).forEach((row, i) =>
    row.forEach((count, j) =>
      out.push({
        sql: `INSERT INTO confusion (sweep_id, trial_id, test_set, true_label, pred_label, count) VALUES ($1, $2, $3, $4, $5, $6)`,
        params: [sweepId, trialId, ev.testSet, classes[i] ?? String(i), classes[j] ?? String(j), count],
      }),
    ),
  );
  return out;
}

export interface TrialEnd {
  status: Extract<TrialStatus, 'finished' | 'pruned'>;
  result: TrialResultMessage;
  objective: number | null;
  objectives: Map<number, number>;
  prunedAtEpoch: number | null;
}

/** Records a trial's result: any epoch not yet written, evaluations, confusion cells, the trial row. */
export async function finishTrial(t: Tracking, sweepId: string, trialId: string, end: TrialEnd): Promise<void> {
  const r = end.result;
  const statements: { sql: string; params?: DuckDBValue[] }[] = [];
  for (const e of r.epochs) {
    statements.push({
      sql: `${EPOCH_INSERT} ON CONFLICT DO NOTHING`,
      params: epochParams(sweepId, trialId, e, end.objectives.get(e.epoch) ?? Number.NaN),
    });
  }
  for (const ev of r.evaluations) statements.push(...evaluationStatements(sweepId, trialId, ev));
  statements.push({
    sql: `UPDATE trials SET status = $3, ended_at = ${ts('$4')}, best_epoch = $5, objective = $6, model_path = $7, backend = $8,
            temperature = $9, epochs_run = $10, pruned_at_epoch = $11, train_seconds = $12, error = NULL
          WHERE sweep_id = $1 AND trial_id = $2`,
    params: [
      sweepId, trialId, end.status, now(), r.bestEpoch, num(end.objective), r.modelDir, r.backend, num(r.temperature),
      r.epochs.length, end.prunedAtEpoch, num(r.seconds),
    ],
  });
  await t.transaction(statements);
}

export function failTrial(t: Tracking, sweepId: string, trialId: string, error: string): Promise<void> {
  return t.transaction([
    {
      sql: `UPDATE trials SET status = 'failed', ended_at = ${ts('$3')}, error = $4 WHERE sweep_id = $1 AND trial_id = $2`,
      params: [sweepId, trialId, now(), error.slice(0, 4000)],
    },
  ]);
}

export function endSweep(t: Tracking, sweepId: string, status: string, backend: string | null): Promise<void> {
  return t.transaction([
    {
      sql: `UPDATE sweeps SET status = $2, finished_at = ${ts('$3')}, updated_at = ${ts('$3')}, backend = coalesce($4, backend)
            WHERE sweep_id = $1`,
      params: [sweepId, status, now(), backend],
    },
  ]);
}
