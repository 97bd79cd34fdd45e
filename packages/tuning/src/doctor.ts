/**
 * `tuning:doctor [--repair] [--verify]` (DVC's `dvc doctor` / `dvc status` for this project): checks
 *   - the tracking file: it opens, every row of every table reads back;
 *   - its rows against the trial-folder records (every finished trial present, with its epochs and evaluations);
 *   - the stage caches: each file against the size and sha256 in its stage.json (`--verify`: every hash);
 *   - the model folders of finished trials: metadata.json names their sweep and trial, the files match its model hash;
 * and prints what is wrong and what `--repair` would do. `--repair` moves damaged files aside (never
 * deletes), rebuilds the tracking file from the trial folders or completes it, and marks a trial whose
 * model folder is damaged as failed (so the next sweep run trains it again).
 */
import fs from 'node:fs';
import path from 'node:path';
import { damagedDirOf, describeProblems, isUserFacingError, STAGE_MARKER, UserError, verifyStageDir, type VerifyReport } from '@mri-robust/core';
import { loadModel, selectBackend } from '@mri-robust/model';
import { checkTrackingFile, openTracking, TRACKING_FILE, type Tracking } from '@mri-robust/tracking';
import { importSweepFolder, listSweepFolders, missingDoneTrials, type ImportResult } from './import.ts';
import { applyTrialEvent } from './record.ts';
import {
  appendEvent,
  listTrialRecords,
  RECORD_VERSION,
  readEvents,
  summarizeTrialRecord,
  sweepRecordFile,
  trialRecordFile,
  type SweepEvent,
  type TrialEvent,
} from './trial-record.ts';

export interface DoctorOptions {
  runsDir: string;
  repair?: boolean;
  /** Hash every file of every stage cache (default: the cache-hit check, see core stage-verify.ts). */
  verify?: boolean;
  /** Load every model folder to check its hash (default true). */
  models?: boolean;
  out?: (line: string) => void;
}

interface Finding {
  area: 'tracking' | 'records' | 'stage' | 'model';
  /** The file or folder concerned. */
  file: string;
  what: string;
  /** What --repair does about it (null: nothing it can do). */
  repair: string | null;
  /** Set after --repair acted. */
  repaired?: string;
}

export interface DoctorReport {
  findings: Finding[];
  notes: string[];
  stages: VerifyReport[];
  /** Seconds spent on each part. */
  seconds: { tracking: number; stages: number; models: number; repair: number };
  ok: boolean;
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

/** Moves `file` aside as `<file>.damaged-<stamp>` (with its WAL for a DuckDB file); returns the new name. */
function moveAside(file: string): string {
  const dest = `${file}.damaged-${stamp()}`;
  fs.renameSync(file, dest);
  if (fs.existsSync(`${file}.wal`)) fs.renameSync(`${file}.wal`, `${dest}.wal`);
  return dest;
}

/** A new tracking file at `file` filled from every sweep folder's records under `runsDir`. */
export async function rebuildTracking(runsDir: string, file: string): Promise<ImportResult[]> {
  const t = await openTracking(file);
  try {
    const out: ImportResult[] = [];
    for (const folder of listSweepFolders(runsDir)) out.push(await importSweepFolder(t, folder, { mode: 'all' }));
    return out;
  } finally {
    await t.close();
  }
}

/** Complete stage folders under <runs>/cache/<stage>/<key>, plus leftovers (temp and moved-aside folders). */
function listStageFolders(runsDir: string): { complete: string[]; temp: string[]; aside: string[] } {
  const out = { complete: [] as string[], temp: [] as string[], aside: [] as string[] };
  const cache = path.join(runsDir, 'cache');
  if (!fs.existsSync(cache)) return out;
  for (const stage of fs.readdirSync(cache, { withFileTypes: true })) {
    if (!stage.isDirectory()) continue;
    const sdir = path.join(cache, stage.name);
    for (const e of fs.readdirSync(sdir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const d = path.join(sdir, e.name);
      if (e.name.startsWith('.tmp-')) out.temp.push(d);
      else if (e.name.startsWith('.damaged-')) out.aside.push(d);
      else if (fs.existsSync(path.join(d, STAGE_MARKER))) out.complete.push(d);
    }
  }
  for (const k of ['complete', 'temp', 'aside'] as const) out[k].sort();
  return out;
}

function duSync(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of fs.readdirSync(p)) n += duSync(path.join(p, e));
  return n;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function checkModels(runsDir: string, folders: string[], findings: Finding[], notes: string[]): Promise<void> {
  let n = 0;
  let backendReady = false;
  for (const folder of folders) {
    const sweepId = path.basename(folder);
    for (const file of listTrialRecords(folder)) {
      const s = summarizeTrialRecord(file);
      if ((s.status !== 'finished' && s.status !== 'pruned') || !s.modelDir) continue;
      const dir = path.resolve(runsDir, s.modelDir);
      n++;
      const meta = path.join(dir, 'metadata.json');
      const repairFail = `move ${dir} aside and record ${s.trialId} as failed, so the next sweep run trains it again`;
      if (!fs.existsSync(meta)) {
        findings.push({
          area: 'model',
          file: dir,
          what: `model folder of ${sweepId}/${s.trialId} is missing`,
          repair: `record ${s.trialId} as failed, so the next sweep run trains it again`,
        });
        continue;
      }
      try {
        const m = JSON.parse(fs.readFileSync(meta, 'utf8')) as { provenance?: { sweep?: string; trial?: string } };
        const p = m.provenance;
        if (p && (p.sweep !== sweepId || p.trial !== s.trialId)) {
          findings.push({
            area: 'model',
            file: meta,
            what: `names sweep ${p.sweep} trial ${p.trial}, but lies in the folder of ${sweepId}/${s.trialId} (swapped folders?)`,
            repair: repairFail,
          });
          continue;
        }
        if (!backendReady) {
          // Loading a model needs a tfjs backend; cpu is enough to read the files and check their hash.
          await selectBackend('cpu');
          backendReady = true;
        }
        const { model } = await loadModel(dir);
        model.dispose();
      } catch (e) {
        // Only a model the loader refuses (hash, metadata, missing files) is damaged; anything else is a failed check.
        const damaged = isUserFacingError(e);
        findings.push({
          area: 'model',
          file: dir,
          what: `${damaged ? '' : 'could not be checked: '}${(e as Error).message.split('\n')[0]}`,
          repair: damaged ? repairFail : null,
        });
      }
    }
  }
  notes.push(`model folders: ${n} checked`);
}

/** Appends a 'failed' event to the trial's record and applies it to the database. */
async function markFailed(t: Tracking, folder: string, trialId: string, why: string): Promise<void> {
  const sweep = readEvents<SweepEvent>(sweepRecordFile(folder)).events.find((e) => e.type === 'begin');
  const sweepId = sweep?.type === 'begin' ? sweep.sweep.sweepId : path.basename(folder);
  const e: TrialEvent = { v: RECORD_VERSION, type: 'failed', at: new Date().toISOString(), error: why };
  appendEvent(trialRecordFile(folder, trialId), e);
  await applyTrialEvent(t, sweepId, trialId, e);
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const runsDir = path.resolve(opts.runsDir);
  if (!fs.existsSync(runsDir)) throw new UserError(`${runsDir}: no such runs folder (pass --runs=DIR)`);
  const findings: Finding[] = [];
  const notes: string[] = [];
  const seconds = { tracking: 0, stages: 0, models: 0, repair: 0 };
  const file = path.join(runsDir, TRACKING_FILE);
  const folders = listSweepFolders(runsDir);

  // 1. the tracking file
  let t0 = performance.now();
  const check = await checkTrackingFile(file);
  const recorded = folders.length;
  let trackingOk = check.ok;
  if (!check.exists) {
    if (recorded > 0) findings.push({ area: 'tracking', file, what: 'missing', repair: `rebuild it from the records of ${recorded} sweep folder(s)` });
    else notes.push(`${file}: none yet (no sweep has run)`);
  } else if (!check.ok) {
    const why =
      check.openError ??
      check.tables
        .filter((x) => x.error)
        .map((x) => `table ${x.table}: ${x.error}`)
        .join('; ');
    findings.push({
      area: 'tracking',
      file,
      what: `damaged: ${why}`,
      repair: `move it aside (${path.basename(file)}.damaged-<time>) and rebuild it from the records of ${recorded} sweep folder(s)`,
    });
  } else {
    notes.push(
      `${file}: opens, ${check.tables.map((x) => `${x.table} ${x.rows}`).join(', ')} rows read back` +
        `${check.walBytes ? ` (WAL ${mib(check.walBytes)} not yet checkpointed)` : ''}${check.snapshot ? ' — held by a running sweep: a snapshot was checked' : ''}`,
    );
  }

  // 2. rows vs trial-folder records
  if (check.ok) {
    const t = await openTracking(file, { readOnly: true, snapshotIfLocked: true });
    try {
      for (const folder of folders) {
        const sweep = readEvents<SweepEvent>(sweepRecordFile(folder));
        for (const p of sweep.problems) findings.push({ area: 'records', file: sweep.file, what: p, repair: null });
        const begin = sweep.events.find((e) => e.type === 'begin');
        const sweepId = begin?.type === 'begin' ? begin.sweep.sweepId : path.basename(folder);
        const missing = await missingDoneTrials(t, sweepId, folder);
        if (missing.length > 0) {
          findings.push({
            area: 'records',
            file: folder,
            what: `${missing.length} finished trial(s) recorded in their folders are missing or incomplete in ${TRACKING_FILE}: ${missing.map((m) => m.trialId).join(', ')}`,
            repair: 'import them from their records',
          });
        }
        for (const rec of listTrialRecords(folder)) {
          const s = summarizeTrialRecord(rec);
          for (const p of s.problems) findings.push({ area: 'records', file: rec, what: p, repair: null });
        }
      }
    } finally {
      await t.close();
    }
    trackingOk = true;
  }
  seconds.tracking = (performance.now() - t0) / 1000;

  // 3. stage caches
  t0 = performance.now();
  const stageDirs = listStageFolders(runsDir);
  const stages: VerifyReport[] = [];
  let unrecorded = 0;
  let bytes = 0;
  let hashed = 0;
  for (const d of stageDirs.complete) {
    const r = await verifyStageDir(d, opts.verify ? 'full' : 'auto');
    stages.push(r);
    bytes += r.bytes;
    hashed += r.hashedBytes;
    if (!r.recorded) unrecorded++;
    if (!r.ok) findings.push({ area: 'stage', file: d, what: describeProblems(r), repair: 'move the folder aside (the next run rebuilds it)' });
  }
  seconds.stages = (performance.now() - t0) / 1000;
  notes.push(
    `stage caches: ${stageDirs.complete.length} folder(s), ${mib(bytes)}, ${mib(hashed)} hashed in ${seconds.stages.toFixed(1)} s` +
      `${opts.verify ? ' (--verify: every file)' : ' (sizes; hashes of small folders and of files written since their build; --verify hashes all)'}` +
      `${unrecorded ? `; ${unrecorded} built before content records (marker only)` : ''}`,
  );
  for (const d of stageDirs.temp) notes.push(`${d}: leftover of a killed build (not used; safe to delete)`);
  for (const d of stageDirs.aside) notes.push(`${d}: moved aside earlier (${mib(duSync(d))}; delete when no longer needed)`);

  // 4. model folders
  t0 = performance.now();
  if (opts.models ?? true) await checkModels(runsDir, folders, findings, notes);
  seconds.models = (performance.now() - t0) / 1000;

  // repair
  t0 = performance.now();
  if (opts.repair && findings.some((f) => f.repair)) {
    const trackingBad = findings.find((f) => f.area === 'tracking');
    if (trackingBad) {
      const aside = check.exists ? moveAside(file) : null;
      const res = await rebuildTracking(runsDir, file);
      const n = res.reduce((s, r) => s + r.imported.length, 0);
      trackingBad.repaired = `${aside ? `moved to ${aside}; ` : ''}rebuilt from ${res.length} sweep folder(s), ${n} trial(s)`;
      trackingOk = true;
    }
    const needWrite = findings.some((f) => f.repair && !f.repaired && (f.area === 'records' || f.area === 'model'));
    const t = trackingOk && needWrite ? await openTracking(file) : null;
    try {
      for (const f of findings) {
        if (!f.repair || f.repaired) continue;
        if (f.area === 'stage') {
          const aside = damagedDirOf(f.file);
          fs.renameSync(f.file, aside);
          f.repaired = `moved to ${aside}`;
        } else if (f.area === 'records' && t) {
          const res = await importSweepFolder(t, f.file, { mode: 'missing' });
          f.repaired = `imported ${res.imported.length} trial(s)${res.skipped.length ? `; skipped ${res.skipped.map((s) => `${s.trialId} (${s.why})`).join(', ')}` : ''}`;
        } else if (f.area === 'model' && t) {
          const trialDir = f.file.endsWith('metadata.json') ? path.dirname(path.dirname(f.file)) : path.dirname(f.file);
          const modelDir = f.file.endsWith('metadata.json') ? path.dirname(f.file) : f.file;
          let aside = '';
          if (fs.existsSync(modelDir)) {
            aside = `${modelDir}.damaged-${stamp()}`;
            fs.renameSync(modelDir, aside);
          }
          await markFailed(
            t,
            path.dirname(trialDir),
            path.basename(trialDir),
            `model folder damaged: ${f.what} (found by tuning:doctor${aside ? `, moved to ${aside}` : ''})`,
          );
          f.repaired = `${aside ? `moved to ${aside}; ` : ''}${path.basename(trialDir)} recorded as failed`;
        }
      }
    } finally {
      if (t) await t.close();
    }
  }
  seconds.repair = (performance.now() - t0) / 1000;

  for (const n of notes) out(`ok    ${n}`);
  for (const f of findings) {
    out(`FAIL  [${f.area}] ${f.file}: ${f.what}`);
    if (f.repaired) out(`      repaired: ${f.repaired}`);
    else if (f.repair) out(`      --repair would: ${f.repair}`);
    else out('      (nothing --repair can do)');
  }
  const left = findings.filter((f) => !f.repaired);
  out(
    left.length === 0
      ? findings.length
        ? `doctor: ${findings.length} problem(s) repaired`
        : 'doctor: no problems found'
      : `doctor: ${left.length} problem(s)${opts.repair ? ' left' : ''}${!opts.repair && left.some((f) => f.repair) ? '; run npx nx run tuning:doctor --repair' : ''}`,
  );
  return { findings, notes, stages, seconds, ok: left.length === 0 };
}
