/**
 * What a stage's Nx target declares as its cached output, one folder per experiment argument:
 *   <workspace>/runs/nx/<stage>/<--experiment as given>/   (project.json: "{options.experiment}")
 *
 * Why not runs/cache/<stage> itself: that folder holds the stage outputs of every experiment, and
 * Nx, on a cache hit whose recorded outputs differ from the disk, deletes the declared outputs and
 * copies its cached ones back — so running the target for experiment A would delete B's folders.
 *
 * The per-experiment folder is a replica, in hard links (no copy, no extra disk), of the paths the
 * stage produced under the runs folder (`cache/<stage>/<key>/…`, and pointer files), at the same
 * relative paths. When Nx restores it (say after `rm -rf runs/cache`), `runStage` adopts a stage
 * folder from it instead of rebuilding, and `restoreFromNxOutput` puts pointer files back.
 *
 * Restore-by-verify: a hard link shares its inode with the cache file, so bytes damaged in place in
 * one are damaged in the other. Adoption therefore checks every sha256 of the replica against its
 * stage.json (the record written at build time) and refuses a replica that fails, with a one-line
 * warning naming the file: deleting a damaged cache folder rebuilds it, never brings the damage back.
 */
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { workspaceRoot } from './paths.ts';
import { describeProblems, STAGE_MARKER, verifyStageDir } from './stage-verify.ts';

/** Root of the Nx output replicas of one stage: <workspace>/runs/nx/<stage>. */
function nxOutputRoot(stage: string, root: string = workspaceRoot()): string {
  return path.join(root, 'runs', 'nx', stage);
}

/**
 * The folder Nx caches for `stage` run with `--experiment=<experimentArg>`, exactly as project.json
 * interpolates it, or null when that path would leave the stage's replica root (e.g. `../x.yaml`).
 */
export function nxOutputDir(stage: string, experimentArg: string, root: string = workspaceRoot()): string | null {
  const base = nxOutputRoot(stage, root);
  const dir = path.join(base, experimentArg);
  const rel = path.relative(base, dir);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? dir : null;
}

/** True when `runsDir` is the workspace's own runs folder (the only one Nx outputs can describe). */
function isWorkspaceRuns(runsDir: string, root: string = workspaceRoot()): boolean {
  return path.resolve(runsDir) === path.join(root, 'runs');
}

/** Hard-links (or, across file systems, copies) a file or folder tree from `src` to `dest`. */
async function linkTree(src: string, dest: string): Promise<void> {
  const s = await stat(src);
  if (s.isDirectory()) {
    await mkdir(dest, { recursive: true });
    for (const name of await readdir(src)) await linkTree(path.join(src, name), path.join(dest, name));
    return;
  }
  await mkdir(path.dirname(dest), { recursive: true });
  try {
    await link(src, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EXDEV' || (e as NodeJS.ErrnoException).code === 'EPERM') await copyFile(src, dest);
    else throw e;
  }
}

export interface PublishNxOutputOptions {
  stage: string;
  /** The `--experiment` value as passed on the command line (Nx interpolates it verbatim). */
  experimentArg: string;
  runsDir: string;
  /** Files or folders under `runsDir` that make up this run's output. */
  paths: string[];
  root?: string;
}

/**
 * Replaces the Nx output folder of (stage, experiment) with hard links to `paths`. Returns the
 * folder, or null when there is none to write (runs folder outside the workspace, odd argument).
 */
export async function publishNxOutput(opts: PublishNxOutputOptions): Promise<string | null> {
  const root = opts.root ?? workspaceRoot();
  const dir = nxOutputDir(opts.stage, opts.experimentArg, root);
  if (!dir || !isWorkspaceRuns(opts.runsDir, root)) return null;
  const runsDir = path.resolve(opts.runsDir);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const p of opts.paths) {
    const rel = path.relative(runsDir, path.resolve(p));
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${p} is not inside the runs folder ${runsDir}`);
    await linkTree(path.resolve(p), path.join(tmp, rel));
  }
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

/** Finds `<replica>/cache/<stage>/<key>/stage.json` in any replica of the stage (bounded walk). */
async function findReplica(base: string, stage: string, key: string): Promise<string | null> {
  let level = [base];
  for (let depth = 0; depth < 12 && level.length; depth++) {
    const next: string[] = [];
    for (const d of level) {
      const candidate = path.join(d, 'cache', stage, key);
      if (existsSync(path.join(candidate, STAGE_MARKER))) return candidate;
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory() && e.name !== 'cache' && !e.name.includes('.tmp-')) next.push(path.join(d, e.name));
    }
    level = next;
  }
  return null;
}

/**
 * If an Nx-restored replica holds the complete folder `cache/<stage>/<key>` and every file matches
 * the sha256 its stage.json records, links it into `runsDir` (temp folder + rename, as a build
 * would) and returns its path; otherwise null (a damaged replica is named on `log`).
 */
export async function adoptFromNxOutput(
  runsDir: string,
  stage: string,
  key: string,
  root: string = workspaceRoot(),
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<string | null> {
  if (!isWorkspaceRuns(runsDir, root)) return null;
  const base = nxOutputRoot(stage, root);
  if (!existsSync(base)) return null;
  const found = await findReplica(base, stage, key);
  if (!found) return null;
  const dest = path.join(path.resolve(runsDir), 'cache', stage, key);
  const tmp = path.join(path.dirname(dest), `.tmp-${key}-adopt-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await linkTree(found, tmp);
    const check = await verifyStageDir(tmp, 'full');
    if (!check.ok) {
      // Only the links just made are removed; the replica stays for Nx to replace on its next run.
      await rm(tmp, { recursive: true, force: true });
      log(`warning: [${stage}] the Nx replica of ${key} is damaged too: ${describeProblems(check).replace(tmp, found)}; not restoring it`);
      return null;
    }
    if (existsSync(dest)) await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (existsSync(path.join(dest, STAGE_MARKER))) return dest;
    throw e;
  }
  return dest;
}

/**
 * Puts `file` (a path under `runsDir`) back from the Nx output of (stage, experiment) when it is
 * missing and the replica has it. Returns true when the file exists afterwards.
 */
export async function restoreFromNxOutput(
  stage: string,
  experimentArg: string,
  runsDir: string,
  file: string,
  root: string = workspaceRoot(),
): Promise<boolean> {
  if (existsSync(file)) return true;
  const dir = nxOutputDir(stage, experimentArg, root);
  if (!dir || !isWorkspaceRuns(runsDir, root)) return false;
  const rel = path.relative(path.resolve(runsDir), path.resolve(file));
  if (!rel || rel.startsWith('..')) return false;
  const src = path.join(dir, rel);
  if (!existsSync(src)) return false;
  await linkTree(src, file);
  return true;
}
