import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from './errors.ts';
import { hashObject } from './hash.ts';
import { adoptFromNxOutput } from './nx-output.ts';
import { defaultVerifyMode, describeProblems, recordOutputFiles, STAGE_MARKER, verifyStageDir, type StageFileRecord, type VerifyMode } from './stage-verify.ts';

/** Marks a stage folder as complete; written last, inside the temp folder, before the rename. */
export { STAGE_MARKER };

export interface StageMeta {
  stage: string;
  key: string;
  createdAt: string;
  meta: unknown;
  /** Size, sha256 and mtime of every output file (absent in folders built before content records). */
  files?: Record<string, StageFileRecord>;
}

export interface StageResult {
  stage: string;
  key: string;
  dir: string;
  /** True when the folder already existed (nothing was built). */
  hit: boolean;
}

export interface RunStageOptions {
  runsDir: string;
  stage: string;
  key: string;
  /** Stored in stage.json: settings, upstream keys, counts — whatever explains the folder. */
  meta?: unknown;
  /** Writes the stage's files into tmpDir. */
  build: (tmpDir: string) => Promise<void>;
  /** Where to say "cache hit" / "building"; default stderr. */
  log?: (line: string) => void;
  /**
   * Workspace whose Nx output replicas (runs/nx/<stage>/…, see nx-output.ts) may hold this folder
   * after an Nx cache restore; null: do not look. Default: the workspace root.
   */
  nxRoot?: string | null;
  /** How a cache hit is checked (see stage-verify.ts); default `full` when MRI_VERIFY is set, else `auto`. */
  verify?: VerifyMode;
}

/** A stage key: 16 hex chars of the hash of everything the output depends on. */
export function stageKey(parts: unknown): string {
  return hashObject(parts).slice(0, 16);
}

export function stageDir(runsDir: string, stage: string, key: string): string {
  return path.join(runsDir, 'cache', stage, key);
}

export function isStageComplete(dir: string): boolean {
  return existsSync(path.join(dir, STAGE_MARKER));
}

export async function readStageMeta(dir: string): Promise<StageMeta> {
  const file = path.join(dir, STAGE_MARKER);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StageMeta;
  } catch (e) {
    throw new UserError(`${file}: cannot read the stage record (${(e as Error).message}); npx nx run tuning:doctor --repair moves a damaged folder aside`);
  }
}

/** `<stage folder>/../.damaged-<key>-<stamp>`: where a folder that failed its check is moved (never deleted). */
export function damagedDirOf(dir: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return path.join(path.dirname(dir), `.damaged-${path.basename(dir)}-${stamp}-${process.pid}`);
}

/**
 * DVC-like cached stage: runs/cache/<stage>/<key>/. Built in a temp folder beside it and renamed
 * into place when complete, so a killed stage never leaves a folder that looks done. `stage.json`
 * records the size and sha256 of every output file; a hit is checked against it (`verify`), and a
 * folder that fails is moved aside with a one-line warning naming the file, then rebuilt.
 */
export async function runStage(options: RunStageOptions): Promise<StageResult> {
  const { runsDir, stage, key } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const dir = stageDir(runsDir, stage, key);
  const mode = options.verify ?? defaultVerifyMode();
  if (isStageComplete(dir)) {
    const check = await verifyStageDir(dir, mode);
    if (check.ok) {
      log(`[${stage}] cache hit ${key}${mode === 'full' ? ' (verified)' : ''}`);
      return { stage, key, dir, hit: true };
    }
    const aside = damagedDirOf(dir);
    try {
      await rename(dir, aside);
      log(`warning: [${stage}] cache ${key} is damaged: ${describeProblems(check)}; moved aside to ${aside}, rebuilding`);
    } catch (e) {
      // Another process moved it first (it rebuilds too; the rename below keeps one result).
      if (existsSync(dir)) throw e;
      log(`warning: [${stage}] cache ${key} is damaged: ${describeProblems(check)}; rebuilding`);
    }
  }
  if (options.nxRoot !== null) {
    const adopted = await adoptFromNxOutput(runsDir, stage, key, options.nxRoot, log);
    if (adopted) {
      log(`[${stage}] cache hit ${key} (restored from the Nx cache), every sha256 verified`);
      return { stage, key, dir, hit: true };
    }
  }
  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.tmp-${key}-${process.pid}-${Date.now()}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  log(`[${stage}] building ${key}`);
  try {
    await options.build(tmp);
    const files = await recordOutputFiles(tmp);
    const marker: StageMeta = { stage, key, createdAt: new Date().toISOString(), meta: options.meta ?? null, files };
    await writeFile(path.join(tmp, STAGE_MARKER), JSON.stringify(marker, null, 2));
    // A leftover incomplete folder (no marker) from an older, killed layout is replaced.
    if (existsSync(dir) && !isStageComplete(dir)) await rm(dir, { recursive: true, force: true });
    try {
      await rename(tmp, dir);
    } catch (e) {
      // Another process finished the same key first: its folder is equivalent, keep it.
      if (isStageComplete(dir)) await rm(tmp, { recursive: true, force: true });
      else throw e;
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw storageError(stage, tmp, e);
  }
  return { stage, key, dir, hit: false };
}

/** A disk-full / read-only / I/O error of a build as one line naming the folder; other errors unchanged. */
function storageError(stage: string, tmp: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOSPC' || code === 'EDQUOT' ? 'the disk is full' : code === 'EROFS' ? 'the file system is read-only' : code === 'EIO' ? 'an I/O error' : null;
  if (!why) return e;
  const where = (e as NodeJS.ErrnoException).path ?? tmp;
  return new UserError(
    `[${stage}] cannot write ${where === tmp ? `into ${tmp}` : where}: ${why} (${(e as Error).message}); nothing was kept, free space (or fix the disk) and run again`,
  );
}
