/**
 * Content records of stage folders (DVC-style): `stage.json` lists every output file with its size,
 * sha256 and mtime at build time; a cache hit checks them before the folder is used.
 *
 * Modes:
 * - `size`: every file present with its recorded size (a stat per file, ~free).
 * - `auto` (default of a cache hit): sizes, plus the sha256 of every file whose mtime differs from
 *   the recorded one (written since the build), plus the sha256 of every file when the folder holds
 *   at most `MRI_VERIFY_HASH_MIB` (default 256) MiB. Above that, a file changed in place with its
 *   mtime put back, or bit rot, is caught only by `full`.
 * - `full` (`--verify`, `MRI_VERIFY=1`, adopting an Nx replica, doctor --verify): every sha256.
 * A file whose mtime changed but whose hash still matches (a copied runs folder) is remembered in
 * `.verified.json` beside stage.json, so later hits do not hash it again.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';

export const STAGE_MARKER = 'stage.json';
/** Sidecar of `auto` checks: files whose new mtime was verified by hash (not part of the output). */
const VERIFIED_SIDECAR = '.verified.json';

export interface StageFileRecord {
  size: number;
  sha256: string;
  /** mtime (ms) when the stage was built; compared to 1 ms (what `touch -r` and `cp -p` keep). */
  mtimeMs: number;
}

export type VerifyMode = 'size' | 'auto' | 'full';

interface VerifyProblem {
  /** Path relative to the stage folder. */
  file: string;
  what: string;
}

export interface VerifyReport {
  dir: string;
  mode: VerifyMode;
  ok: boolean;
  problems: VerifyProblem[];
  /** Number of files and bytes recorded in stage.json. */
  files: number;
  bytes: number;
  /** Bytes whose sha256 was computed in this check. */
  hashedBytes: number;
  /** False for a folder built before content records existed (only its marker can be checked). */
  recorded: boolean;
}

const DEFAULT_HASH_LIMIT_MIB = 256;

/** Byte limit under which `auto` hashes a whole folder (MRI_VERIFY_HASH_MIB). */
export function autoHashLimitBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.MRI_VERIFY_HASH_MIB;
  const mib = v !== undefined && v !== '' && Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : DEFAULT_HASH_LIMIT_MIB;
  return mib * 1024 * 1024;
}

/** The mode a cache hit uses: `full` when MRI_VERIFY is set (1/true/full), else `auto`. */
export function defaultVerifyMode(env: NodeJS.ProcessEnv = process.env): VerifyMode {
  const v = (env.MRI_VERIFY ?? '').toLowerCase();
  if (v === 'size') return 'size';
  return v === '1' || v === 'true' || v === 'full' || v === 'yes' ? 'full' : 'auto';
}

export async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file, { highWaterMark: 4 << 20 })
      .on('data', (b) => h.update(b))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return h.digest('hex');
}

/** Every file under `dir` (relative, '/'-separated, sorted), except the marker and the sidecar. */
async function listOutputFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (!rel && (e.name === STAGE_MARKER || e.name === VERIFIED_SIDECAR)) continue;
    if (e.isDirectory()) out.push(...(await listOutputFiles(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/** The content record of a freshly built folder (written into its stage.json). */
export async function recordOutputFiles(dir: string): Promise<Record<string, StageFileRecord>> {
  const files: Record<string, StageFileRecord> = {};
  for (const rel of await listOutputFiles(dir)) {
    const full = path.join(dir, rel);
    const st = await stat(full);
    files[rel] = { size: st.size, sha256: await hashFile(full), mtimeMs: st.mtimeMs };
  }
  return files;
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8')) as unknown;
}

/**
 * Checks a complete stage folder against the content record in its stage.json. Never throws for
 * damage: problems come back in the report (an unreadable stage.json is one too).
 */
export async function verifyStageDir(dir: string, mode: VerifyMode, hashLimit = autoHashLimitBytes()): Promise<VerifyReport> {
  const report: VerifyReport = { dir, mode, ok: true, problems: [], files: 0, bytes: 0, hashedBytes: 0, recorded: true };
  const fail = (file: string, what: string) => {
    report.ok = false;
    report.problems.push({ file, what });
  };
  let files: Record<string, StageFileRecord> | undefined;
  try {
    files = ((await readJson(path.join(dir, STAGE_MARKER))) as { files?: Record<string, StageFileRecord> }).files;
  } catch (e) {
    fail(STAGE_MARKER, `unreadable (${(e as Error).message})`);
    return report;
  }
  if (!files) {
    report.recorded = false;
    return report;
  }
  const names = Object.keys(files).sort();
  report.files = names.length;
  for (const n of names) report.bytes += files[n].size;
  let verified: Record<string, number> = {};
  try {
    if (mode === 'auto') verified = (await readJson(path.join(dir, VERIFIED_SIDECAR))) as Record<string, number>;
  } catch {
    verified = {};
  }
  const hashAll = mode === 'full' || (mode === 'auto' && report.bytes <= hashLimit);
  const newlyVerified: Record<string, number> = {};
  for (const rel of names) {
    const rec = files[rel];
    const full = path.join(dir, rel);
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(full);
    } catch {
      fail(rel, 'missing');
      continue;
    }
    if (!st.isFile()) {
      fail(rel, 'not a file');
      continue;
    }
    if (st.size !== rec.size) {
      fail(rel, `size ${st.size} ≠ ${rec.size} recorded in stage.json`);
      continue;
    }
    if (mode === 'size') continue;
    const mtime = st.mtimeMs;
    const same = (a: number | undefined) => a !== undefined && Math.abs(a - mtime) < 1;
    const touched = !same(rec.mtimeMs) && !same(verified[rel]);
    if (!hashAll && !touched) continue;
    let got: string;
    try {
      got = await hashFile(full);
    } catch (e) {
      fail(rel, `unreadable (${(e as Error).message})`);
      continue;
    }
    report.hashedBytes += st.size;
    if (got !== rec.sha256) fail(rel, `sha256 ${got.slice(0, 12)} ≠ ${rec.sha256.slice(0, 12)} recorded in stage.json (content changed since the build)`);
    else if (!same(rec.mtimeMs)) newlyVerified[rel] = mtime;
  }
  if (report.ok && mode !== 'size' && Object.keys(newlyVerified).length > 0) {
    // Remember the new mtimes of files whose content checked out (best effort: the folder may be read-only).
    const side = path.join(dir, VERIFIED_SIDECAR);
    const tmp = `${side}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify({ ...verified, ...newlyVerified }));
      await rename(tmp, side);
    } catch {
      // not fatal
    }
  }
  return report;
}

/** One line naming the first damaged file of a report (for warnings and doctor). */
export function describeProblems(report: VerifyReport): string {
  const [first, ...rest] = report.problems;
  if (!first) return 'ok';
  return `${path.join(report.dir, first.file)}: ${first.what}${rest.length ? ` (and ${rest.length} more file${rest.length > 1 ? 's' : ''})` : ''}`;
}
