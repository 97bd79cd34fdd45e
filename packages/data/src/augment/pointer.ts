import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { adoptFromNxOutput, hashObject, restoreFromNxOutput, type Experiment } from '@mri-robust/core';

/**
 * Where the noise CLI records its latest output for an experiment, so that the data package's
 * `augment` CLI (which must not import @mri-robust/noise) can find its input:
 * runs/cache/noise/pointers/<experiment name>.json = { key, dir, check }. `check` hashes the
 * sections the noise output depends on, so a stale pointer is detected, never used.
 */
export function noisePointerFile(experiment: Experiment): string {
  return path.join(experiment.runsDir, 'cache', 'noise', 'pointers', `${experiment.name}.json`);
}

/**
 * Hash of what the noise output depends on: the seed and the data and noise sections as written in
 * the file (raw, so that it does not depend on which schema parts filled in defaults).
 */
export function noisePointerCheck(experiment: Experiment): string {
  const raw = (parse(experiment.text) ?? {}) as Record<string, unknown>;
  return hashObject({ seed: experiment.seed, data: raw.data ?? null, noise: raw.noise ?? null });
}

export async function writeNoisePointer(experiment: Experiment, out: { key: string; dir: string }): Promise<void> {
  const file = noisePointerFile(experiment);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ key: out.key, dir: out.dir, check: noisePointerCheck(experiment) }, null, 2));
}

/** The noise output recorded for this experiment, or null when absent, stale or gone. */
export function readNoisePointer(experiment: Experiment): { key: string; dir: string } | null {
  const file = noisePointerFile(experiment);
  if (!existsSync(file)) return null;
  const p = JSON.parse(readFileSync(file, 'utf8')) as { key: string; dir: string; check: string };
  if (p.check !== noisePointerCheck(experiment) || !existsSync(path.join(p.dir, 'stage.json'))) return null;
  return { key: p.key, dir: p.dir };
}

/**
 * Puts back, from noise:apply's Nx output replica (see core's nx-output.ts), a pointer file and the
 * noise folder it names when an Nx cache restore brought them back only there. No-op otherwise.
 */
export async function recoverNoisePointer(experiment: Experiment, experimentArg: string): Promise<void> {
  const file = noisePointerFile(experiment);
  if (!(await restoreFromNxOutput('noise', experimentArg, experiment.runsDir, file))) return;
  const p = JSON.parse(readFileSync(file, 'utf8')) as { key: string; dir: string; check: string };
  if (p.check === noisePointerCheck(experiment) && !existsSync(path.join(p.dir, 'stage.json'))) {
    await adoptFromNxOutput(experiment.runsDir, 'noise', p.key);
  }
}
