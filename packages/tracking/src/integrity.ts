/**
 * Integrity check of a tracking file (used by `tuning:doctor`): it opens, and every row of every
 * table reads back (DuckDB checks each block's checksum as it reads it, so a damaged block shows up
 * as an error on the table that holds it). Never throws: what is wrong comes back in the result.
 */
import fs from 'node:fs';
import { Tracking, TRACKING_TABLES } from './tracking.ts';

interface TableCheck {
  table: string;
  rows: number | null;
  error: string | null;
}

interface TrackingCheck {
  file: string;
  exists: boolean;
  /** Bytes of the main file and of its WAL (0 when absent). */
  bytes: number;
  walBytes: number;
  /** Set when the file could not be opened at all. */
  openError: string | null;
  /** True when a running sweep held the file and a snapshot was read instead. */
  snapshot: boolean;
  tables: TableCheck[];
  ok: boolean;
}

const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);

export async function checkTrackingFile(file: string): Promise<TrackingCheck> {
  const res: TrackingCheck = {
    file,
    exists: fs.existsSync(file),
    bytes: size(file),
    walBytes: size(`${file}.wal`),
    openError: null,
    snapshot: false,
    tables: [],
    ok: false,
  };
  if (!res.exists) {
    res.openError = 'missing';
    return res;
  }
  let t: Tracking;
  try {
    t = await Tracking.open(file, { readOnly: true, snapshotIfLocked: true });
  } catch (e) {
    res.openError = (e as Error).message.split('\n')[0];
    return res;
  }
  res.snapshot = t.snapshotAt !== null;
  try {
    for (const table of TRACKING_TABLES) {
      try {
        // Every column of every row: SELECT * makes DuckDB read (and checksum) every block of the table.
        const rows = await t.all(`SELECT * FROM ${table}`);
        res.tables.push({ table, rows: rows.length, error: null });
      } catch (e) {
        res.tables.push({ table, rows: null, error: (e as Error).message.split('\n')[0] });
      }
    }
  } finally {
    await t.close().catch(() => undefined);
  }
  res.ok = res.tables.every((x) => x.error === null);
  return res;
}
