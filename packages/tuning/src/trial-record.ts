/**
 * The trial-folder record (MLflow file-store style): every change the orchestrator makes to the
 * tracking database is first appended, as one JSON line, to a file beside the results it describes:
 *   <trials>/<sweep>/sweep.jsonl            begin / end of each run of the sweep
 *   <trials>/<sweep>/<trial>/record.jsonl   start, every epoch, end (evaluations, confusion) or failure
 * Lines are only appended (and fsynced), never rewritten. Replaying them through the same writes
 * (record.ts `applySweepEvent` / `applyTrialEvent`) rebuilds the database rows exactly, so losing
 * tracking.duckdb (or its WAL) loses no finished trial (`tuning:import`, `tuning:doctor --repair`).
 * Paths inside events are relative to the runs folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '@mri-robust/core';
import type { EpochMessageRecord, TrialResultMessage } from './messages.ts';
import type { PlannedTrial } from './plan.ts';

export const SWEEP_RECORD = 'sweep.jsonl';
const TRIAL_RECORD = 'record.jsonl';
/** Version of the line format. */
export const RECORD_VERSION = 1;

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

export type SweepEvent =
  | { v: number; type: 'begin'; at: string; sweep: SweepRecord; trials: PlannedTrial[]; gitCommit: string }
  | { v: number; type: 'end'; at: string; status: string; backend: string | null };

export type TrialEvent =
  | { v: number; type: 'start'; at: string; sweepId: string; trial: PlannedTrial; logPath: string; gitCommit: string }
  | { v: number; type: 'epoch'; at: string; record: EpochMessageRecord; objective: number }
  | {
      v: number;
      type: 'end';
      at: string;
      status: 'finished' | 'pruned';
      /** modelDir relative to the runs folder. */
      result: TrialResultMessage;
      objective: number | null;
      objectives: [number, number][];
      prunedAtEpoch: number | null;
    }
  | { v: number; type: 'failed'; at: string; error: string };

/** JSON with NaN and ±Infinity kept (as strings), so a replay writes the same DOUBLEs. */
function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `__num:${v}` : v));
}

function decode(line: string): unknown {
  return JSON.parse(line, (_k, v: unknown) => (typeof v === 'string' && v.startsWith('__num:') ? Number(v.slice(6)) : v));
}

/** A write to a record file that failed (disk full, read-only, I/O error): names the file. */
export class RecordWriteError extends UserError {
  constructor(
    readonly file: string,
    readonly reason: unknown,
  ) {
    const code = (reason as NodeJS.ErrnoException)?.code;
    const why =
      code === 'ENOSPC' ? 'the disk is full' : code === 'EROFS' ? 'the file system is read-only' : code === 'EIO' ? 'an I/O error' : (code ?? 'error');
    super(`cannot write ${file}: ${why} (${(reason as Error)?.message ?? String(reason)})`);
  }
}

/** Appends one event as a line and fsyncs it: once this returns, the line survives a crash. */
export function appendEvent(file: string, event: SweepEvent | TrialEvent): void {
  let fd: number | null = null;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fd = fs.openSync(file, 'a');
    fs.writeSync(fd, `${encode(event)}\n`);
    fs.fdatasyncSync(fd);
  } catch (e) {
    throw new RecordWriteError(file, e);
  } finally {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        // the write error above is the one to report
      }
    }
  }
}

export interface ReadRecord<E> {
  file: string;
  events: E[];
  /** Lines that do not parse (a torn last line after a kill is dropped silently; others are listed). */
  problems: string[];
}

export function readEvents<E extends { type: string }>(file: string): ReadRecord<E> {
  const out: ReadRecord<E> = { file, events: [], problems: [] };
  if (!fs.existsSync(file)) return out;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const last = lines.length - 1;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const e = decode(line) as E;
      if (!e || typeof e !== 'object' || typeof e.type !== 'string') throw new Error('not an event');
      out.events.push(e);
    } catch (err) {
      // The last line without its newline is a write cut short by a kill: the event never happened.
      if (i === last) return;
      out.problems.push(`${file}:${i + 1}: unreadable line (${(err as Error).message})`);
    }
  });
  return out;
}

export const sweepRecordFile = (trialsDir: string) => path.join(trialsDir, SWEEP_RECORD);
export const trialRecordFile = (trialsDir: string, trialId: string) => path.join(trialsDir, trialId, TRIAL_RECORD);

/** What a trial's record proves: its last state and, when done, its model folder (runs-relative). */
export interface TrialRecordSummary {
  trialId: string;
  file: string;
  events: TrialEvent[];
  problems: string[];
  /** Status after the last event: running (started, no end), finished, pruned, failed. */
  status: 'running' | 'finished' | 'pruned' | 'failed' | 'none';
  attempts: number;
  epochs: number;
  evaluations: number;
  modelDir: string | null;
}

export function summarizeTrialRecord(file: string): TrialRecordSummary {
  const r = readEvents<TrialEvent>(file);
  const s: TrialRecordSummary = {
    trialId: path.basename(path.dirname(file)),
    file,
    events: r.events,
    problems: r.problems,
    status: 'none',
    attempts: 0,
    epochs: 0,
    evaluations: 0,
    modelDir: null,
  };
  for (const e of r.events) {
    if (e.type === 'start') {
      s.attempts++;
      s.status = 'running';
      s.epochs = 0;
      s.evaluations = 0;
      s.modelDir = null;
    } else if (e.type === 'epoch') s.epochs++;
    else if (e.type === 'end') {
      s.status = e.status;
      s.epochs = Math.max(s.epochs, e.result.epochs.length);
      s.evaluations = e.result.evaluations.length;
      s.modelDir = e.result.modelDir;
    } else if (e.type === 'failed') s.status = 'failed';
  }
  return s;
}

/** The trial folders of a sweep that hold a record, sorted by name. */
export function listTrialRecords(trialsDir: string): string[] {
  if (!fs.existsSync(trialsDir)) return [];
  return fs
    .readdirSync(trialsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(trialsDir, d.name, TRIAL_RECORD)))
    .map((d) => path.join(trialsDir, d.name, TRIAL_RECORD))
    .sort();
}

/** A trial's error, with the trial folder named when it is a storage fault that names no file. */
export function describeTrialFailure(error: string, trialDir: string): string {
  const first = error.split('\n')[0];
  if (!/ENOSPC|EROFS|EIO|EDQUOT|no space left|read-only file system|i\/o error/i.test(first)) return error;
  const why = /ENOSPC|EDQUOT|no space/i.test(first) ? 'disk full' : /EROFS|read-only/i.test(first) ? 'read-only file system' : 'I/O error';
  const names = /\/[^\s'"]+/.test(first);
  return `${why}${names ? '' : ` while writing into ${trialDir}`}: ${error}`;
}
