/**
 * Reads one sweep (or the list of sweeps) from the tracking database, read-only. The tables are the
 * contract in ARCHITECTURE.md ("Tracking"); columns beyond it are used when present, never required.
 */
import fs from 'node:fs';
import { DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import { UserError } from '@mri-robust/core';
import {
  byTrial,
  cleanOf,
  rankTrials,
  testEvaluations,
  toConfusion,
  toEpoch,
  toEvaluation,
  toSweep,
  toTrial,
  worstNoisyOf,
} from './rows.ts';
import type { SweepData, SweepInfo, SweepSummary } from './types.ts';

type Row = Record<string, unknown>;

export interface TrackingReader {
  all(sql: string, params?: DuckDBValue[]): Promise<Row[]>;
  close(): void;
}

/** Opens the tracking database read-only; a clear error when it is missing or held by a writer. */
export async function openTrackingReader(file: string): Promise<TrackingReader> {
  if (!fs.existsSync(file)) throw new UserError(`no tracking database at ${file}: run a sweep first (npx nx run tuning:sweep)`);
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  } catch (e) {
    const msg = (e as Error).message;
    if (/lock/i.test(msg)) throw new UserError(`${file} is in use by a running sweep (its only writer); build the report when it ends: ${msg}`);
    throw new UserError(`cannot open tracking database ${file}: ${msg}`);
  }
  const conn = await instance.connect();
  return {
    async all(sql, params = []) {
      const r = await conn.runAndReadAll(sql, params);
      return r.getRowObjectsJS() as Row[];
    },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

const ORDER_SWEEPS = 'ORDER BY created_at DESC, sweep_id DESC';

export async function readSweeps(db: TrackingReader): Promise<SweepInfo[]> {
  return (await db.all(`SELECT * FROM sweeps ${ORDER_SWEEPS}`)).map(toSweep);
}

/** The sweep with this id, or (no id) the latest one; a UserError naming what exists otherwise. */
export async function resolveSweep(db: TrackingReader, sweepId?: string): Promise<SweepInfo> {
  const sweeps = await readSweeps(db);
  if (sweeps.length === 0) throw new UserError('the tracking database holds no sweep yet: run one first (npx nx run tuning:sweep)');
  if (sweepId === undefined) return sweeps[0];
  const s = sweeps.find((x) => x.sweepId === sweepId);
  if (!s) {
    const known = sweeps.slice(0, 10).map((x) => x.sweepId).join(', ');
    throw new UserError(`--sweep ${sweepId}: no such sweep in the tracking database (known: ${known}${sweeps.length > 10 ? ', …' : ''})`);
  }
  return s;
}

export async function readSweepData(db: TrackingReader, sweep: SweepInfo): Promise<SweepData> {
  const id = sweep.sweepId;
  const trials = (await db.all('SELECT * FROM trials WHERE sweep_id = $1 ORDER BY trial_index, trial_id', [id])).map(toTrial);
  const epochs = (await db.all('SELECT * FROM epochs WHERE sweep_id = $1 ORDER BY trial_id, epoch', [id])).map(toEpoch);
  const evaluations = (await db.all('SELECT * FROM evaluations WHERE sweep_id = $1 ORDER BY trial_id, test_set', [id])).map(
    toEvaluation,
  );
  const ranked = rankTrials(trials, sweep.direction);
  const best = ranked[0];
  const bestConfusion =
    best === undefined
      ? []
      : (
          await db.all(
            'SELECT * FROM confusion WHERE sweep_id = $1 AND trial_id = $2 ORDER BY test_set, true_label, pred_label',
            [id, best],
          )
        ).map(toConfusion);
  return { sweep, trials, epochs, evaluations, ranked, bestConfusion };
}

/** One line per sweep (newest first) with its best trial, for the index page. */
export async function readSweepSummaries(db: TrackingReader): Promise<SweepSummary[]> {
  const sweeps = await readSweeps(db);
  const trialRows = (await db.all('SELECT * FROM trials')).map((r) => ({ sweepId: String(r.sweep_id), trial: toTrial(r) }));
  const evalRows = (await db.all('SELECT * FROM evaluations')).map((r) => ({ sweepId: String(r.sweep_id), e: toEvaluation(r) }));
  return sweeps.map((sweep) => {
    const trials = trialRows.filter((t) => t.sweepId === sweep.sweepId).map((t) => t.trial);
    const bestId = rankTrials(trials, sweep.direction)[0];
    const bestTrial = trials.find((t) => t.trialId === bestId);
    let best: SweepSummary['best'] = null;
    if (bestTrial) {
      const evals = byTrial(testEvaluations(evalRows.filter((r) => r.sweepId === sweep.sweepId).map((r) => r.e))).get(bestTrial.trialId) ?? [];
      best = {
        trialId: bestTrial.trialId,
        objective: bestTrial.objective as number,
        cleanAccuracy: cleanOf(evals)?.accuracy ?? null,
        worstNoisyAccuracy: worstNoisyOf(evals)?.accuracy ?? null,
      };
    }
    return { sweep, trials: trials.length, finished: trials.filter((t) => t.status === 'finished').length, best };
  });
}
