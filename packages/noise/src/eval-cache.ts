/**
 * Per-set cache of the noise stage's evaluation sets: runs/cache/noise-set/<key>/.
 *
 * An evaluation set (one split × kind × severity, fixed seed) depends only on the ingest output, its
 * own spec and seed, and the noise code — not on the training noise nor on the other sets. The noise
 * folder's own key holds all of them, so without this cache a change of `noise.train` (a study over
 * training-noise kinds, say) regenerated all 60 `mri-c` sets of brain-mri.yaml (~41,000 images,
 * minutes here) into identical bytes. Each set is stored once under its own key and hard-linked
 * (copied across file systems) into every noise folder that lists it, so the noise folder's files,
 * their sha256 records and the embed stage's content keys stay exactly as before.
 */
import { copyFile, link, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { codeHash, isStageComplete, runStage, STAGE_MARKER, stageDir, stageKey, verifyStageDir, type VerifyMode } from '@mri-robust/core';
import type { EvalSetSpec } from './plan.ts';

export const NOISE_SET_STAGE = 'noise-set';

/** Key of one evaluation set: the noise code, the ingest output, the set's spec and the seed its images draw from. */
export function evalSetKey(spec: EvalSetSpec, ingestKey: string, seed: number): string {
  return stageKey({ stage: NOISE_SET_STAGE, code: codeHash('noise'), upstream: ingestKey, spec, seed });
}

/** The cached folder of `key` when it is complete and passes the stage check; null otherwise (build it). */
export async function cachedEvalSet(runsDir: string, key: string, verify: VerifyMode): Promise<string | null> {
  const dir = stageDir(runsDir, NOISE_SET_STAGE, key);
  if (!isStageComplete(dir)) return null;
  return (await verifyStageDir(dir, verify)).ok ? dir : null;
}

/** Hard-links (or copies) every file of `from` except the stage marker into `to`, recursively. */
export async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (entry.name === STAGE_MARKER) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) {
      await linkTree(src, dst);
    } else {
      try {
        await link(src, dst);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw e;
        await copyFile(src, dst);
      }
    }
  }
}

/** Stores a freshly built set folder under its key (a no-op when another run stored it first). */
export async function storeEvalSet(runsDir: string, key: string, builtDir: string, meta: unknown, log?: (line: string) => void): Promise<void> {
  // 'full': a damaged folder already under this key (found by cachedEvalSet) is moved aside and replaced.
  await runStage({
    runsDir,
    stage: NOISE_SET_STAGE,
    key,
    meta,
    nxRoot: null,
    verify: 'full',
    log: log ?? (() => undefined),
    build: (tmp) => linkTree(builtDir, tmp),
  });
}
