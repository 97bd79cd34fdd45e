/**
 * A hash of the data every experiment reads: the listings (paths, sizes, mtimes) of every source of
 * every experiments/*.yaml plus the files named in $MRI_EXPERIMENTS (separated by the path
 * delimiter). Used as an Nx `runtime` input, because Nx does not hash git-ignored or outside files.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { hashObject, loadExperiment, workspaceRoot } from '@mri-robust/core';
import { dataSchemaPart, dataSettingsOf } from './schema.ts';
import { listingFingerprint, listSources, resolveSources } from './sources.ts';

function experimentFiles(): string[] {
  const dir = path.join(workspaceRoot(), 'experiments');
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => path.join(dir, f))
    : [];
  for (const f of (process.env.MRI_EXPERIMENTS ?? '').split(path.delimiter).filter(Boolean)) {
    const abs = path.resolve(f);
    if (!files.includes(abs)) files.push(abs);
  }
  return files;
}

/** One hash over all experiments' source listings; a file that fails to load contributes its error. */
export async function dataFingerprint(files: readonly string[] = experimentFiles()): Promise<string> {
  const parts: unknown[] = [];
  for (const file of files) {
    try {
      const exp = loadExperiment(file, [dataSchemaPart]);
      const settings = dataSettingsOf(exp);
      const listings = await listSources(resolveSources(exp, settings), settings, exp.seed);
      parts.push({ file: path.relative(workspaceRoot(), file), listing: listingFingerprint(listings) });
    } catch (e) {
      parts.push({ file, error: (e as Error).message });
    }
  }
  return hashObject(parts);
}
