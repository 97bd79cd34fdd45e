import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The monorepo root: the nearest folder above this file (or cwd) that holds nx.json. */
export function workspaceRoot(): string {
  if (cachedRoot) return cachedRoot;
  for (const start of [path.dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    let dir = start;
    for (;;) {
      if (existsSync(path.join(dir, 'nx.json'))) {
        cachedRoot = dir;
        return dir;
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  cachedRoot = process.cwd();
  return cachedRoot;
}

/** Resolves `p` against the folder of `baseFile` (absolute paths and URLs are returned as they are). */
export function resolveFrom(baseFile: string, p: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) || path.isAbsolute(p)) return p;
  return path.resolve(path.dirname(baseFile), p);
}

/** The folder holding the shared data sets and weights: $MRI_SHARED, else ../shared beside the repo. */
export function sharedDir(): string {
  return process.env.MRI_SHARED ? path.resolve(process.env.MRI_SHARED) : path.resolve(workspaceRoot(), '..', 'shared');
}

let cachedCommit: string | undefined;

/** The git commit of the workspace (with "-dirty" when it has uncommitted changes), or "unknown". */
export function gitCommit(): string {
  if (cachedCommit) return cachedCommit;
  try {
    const root = workspaceRoot();
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    cachedCommit = dirty ? `${head}-dirty` : head;
  } catch {
    cachedCommit = 'unknown';
  }
  return cachedCommit;
}
