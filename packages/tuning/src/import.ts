/**
 * Rebuilds or completes tracking.duckdb from the trial-folder records (trial-record.ts), by
 * replaying their events through the same writes the sweep made (record.ts), so the rows come back
 * exactly as they were recorded. Used by `tuning:import`, `tuning:doctor --repair` and a resuming
 * sweep that finds finished trials its database lost (a WAL lost after a kill, say).
 */
import fs from 'node:fs';
import path from 'node:path';
import { getSweep, listTrials, type Tracking } from '@mri-robust/tracking';
import { sweepEventStatements, trialEventStatements } from './record.ts';
import { listTrialRecords, readEvents, summarizeTrialRecord, sweepRecordFile, SWEEP_RECORD, type SweepEvent, type TrialRecordSummary } from './trial-record.ts';

export interface ImportOptions {
  /**
   * `missing`: add the sweep row when absent and replay each trial whose record proves it finished or
   * pruned while the database does not say so (the rows of other trials are left alone).
   * `all`: replay every record (into a new, empty file).
   */
  mode: 'missing' | 'all';
  /** Skip a done trial whose model folder is gone (a resume retrains it instead). Default true. */
  requireModel?: boolean;
}

export interface ImportResult {
  sweepId: string;
  sweepRow: 'kept' | 'imported' | 'absent';
  /** Trials replayed from their records. */
  imported: string[];
  /** Done trials that could not be imported, with why. */
  skipped: { trialId: string; why: string }[];
  problems: string[];
}

const DONE = new Set(['finished', 'pruned']);

/** Sweep folders (under <runs>/trials) that hold a sweep record. */
export function listSweepFolders(runsDir: string): string[] {
  const base = path.join(runsDir, 'trials');
  if (!fs.existsSync(base)) return [];
  return fs
    .readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(base, d.name, SWEEP_RECORD)))
    .map((d) => path.join(base, d.name))
    .sort();
}

/** Done trials whose records the database lacks (status, epoch or evaluation count differ). */
export async function missingDoneTrials(t: Tracking, sweepId: string, trialsDir: string): Promise<TrialRecordSummary[]> {
  const rows = new Map((await listTrials(t, sweepId)).map((r) => [r.trial_id, r]));
  const counts = new Map(
    (
      await t.all<{ trial_id: string; epochs: number; evaluations: number }>(
        `SELECT t.trial_id,
           (SELECT count(*) FROM epochs e WHERE e.sweep_id = t.sweep_id AND e.trial_id = t.trial_id) AS epochs,
           (SELECT count(*) FROM evaluations v WHERE v.sweep_id = t.sweep_id AND v.trial_id = t.trial_id) AS evaluations
         FROM trials t WHERE t.sweep_id = $1`,
        [sweepId],
      )
    ).map((r) => [r.trial_id, r]),
  );
  const out: TrialRecordSummary[] = [];
  for (const file of listTrialRecords(trialsDir)) {
    const s = summarizeTrialRecord(file);
    if (!DONE.has(s.status)) continue;
    const row = rows.get(s.trialId);
    const c = counts.get(s.trialId);
    if (!row || row.status !== s.status || !c || c.epochs !== s.epochs || c.evaluations !== s.evaluations) out.push(s);
  }
  return out;
}

/** Replays one sweep folder's records into `t` (see ImportOptions.mode); paths resolve against the tracking file's folder. */
export async function importSweepFolder(t: Tracking, trialsDir: string, opts: ImportOptions): Promise<ImportResult> {
  const sweepEvents = readEvents<SweepEvent>(sweepRecordFile(trialsDir));
  const begin = sweepEvents.events.find((e) => e.type === 'begin');
  const sweepId = begin?.type === 'begin' ? begin.sweep.sweepId : path.basename(trialsDir);
  const res: ImportResult = { sweepId, sweepRow: 'kept', imported: [], skipped: [], problems: [] };
  res.problems.push(...sweepEvents.problems);
  const haveRow = (await getSweep(t, sweepId)) !== null;
  if (opts.mode === 'all' || !haveRow) {
    if (sweepEvents.events.length === 0) res.sweepRow = haveRow ? 'kept' : 'absent';
    else {
      await t.transaction(sweepEvents.events.flatMap((e) => sweepEventStatements(e, sweepId)));
      res.sweepRow = 'imported';
    }
  }
  const candidates = opts.mode === 'all' ? listTrialRecords(trialsDir).map((f) => summarizeTrialRecord(f)) : await missingDoneTrials(t, sweepId, trialsDir);
  for (const s of candidates) {
    res.problems.push(...s.problems);
    if (opts.mode === 'missing' && (opts.requireModel ?? true) && s.modelDir !== null) {
      const dir = path.resolve(t.runsDir, s.modelDir);
      if (!fs.existsSync(path.join(dir, 'metadata.json'))) {
        res.skipped.push({ trialId: s.trialId, why: `its model folder ${dir} is gone` });
        continue;
      }
    }
    const start = s.events.find((e) => e.type === 'start');
    if (!start) {
      res.skipped.push({ trialId: s.trialId, why: `${s.file} has no start event` });
      continue;
    }
    // Start from the state before the first attempt, then replay every event in order: one
    // transaction per trial (all of its rows, or none).
    await t.transaction([
      { sql: 'DELETE FROM trials WHERE sweep_id = $1 AND trial_id = $2', params: [sweepId, s.trialId] },
      ...s.events.flatMap((e) => trialEventStatements(e, sweepId, s.trialId)),
    ]);
    res.imported.push(s.trialId);
  }
  await t.checkpoint();
  return res;
}

/**
 * At the start of a resume: finished trials that the trial folders prove but the database lacks
 * (its WAL lost after a kill, an old backup) are imported from their records instead of being
 * trained again, with a warning that says so.
 */
export async function recoverFromTrialRecords(t: Tracking, trialsDir: string, sweepId: string, log: (line: string) => void): Promise<ImportResult | null> {
  if (!fs.existsSync(sweepRecordFile(trialsDir))) return null;
  const haveRow = (await getSweep(t, sweepId)) !== null;
  const missing = await missingDoneTrials(t, sweepId, trialsDir);
  if (haveRow && missing.length === 0) return null;
  const res = await importSweepFolder(t, trialsDir, { mode: 'missing' });
  if (res.imported.length > 0 || res.sweepRow === 'imported') {
    log(
      `warning: ${t.file} lacked ${res.imported.length} finished trial(s) that their trial folders recorded` +
        `${res.sweepRow === 'imported' ? ' (and the sweep row)' : ''} — was its WAL lost? Re-imported from ` +
        `${path.join(trialsDir, '<trial>', 'record.jsonl')} instead of retraining: ${res.imported.join(', ') || '-'}`,
    );
  }
  for (const s of res.skipped) log(`warning: ${s.trialId} is recorded as done but ${s.why}: it runs again`);
  for (const p of res.problems) log(`warning: ${p}`);
  return res;
}
