// Pointer files the sweep leaves for readers that must not open DuckDB (it allows one writing process,
// and the model package may not import tuning): `serve:start` without --model, and the report's
// Grad-CAM gallery. Layout in ARCHITECTURE.md ("Pointer files of the sweep").
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeGradCamGallery, type Gallery } from '@mri-robust/model';
import type { TrialRow } from '@mri-robust/tracking';

export const LATEST_POINTER = 'latest.json';
export const BEST_POINTER = 'best.json';
export const GALLERY_DIR = 'gradcam';

function relativeInside(base: string, p: string): string {
  const rel = path.relative(path.resolve(base), path.resolve(p));
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : p;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, file);
}

/**
 * `runs/trials/latest.json` = {sweep}; `<trialsDir>/best.json` = {trial, modelDir, objective} (or null
 * trial). modelDir is relative to best.json's folder when inside it, so a moved runs folder still serves.
 */
export async function writeSweepPointers(opts: {
  runsDir: string;
  sweepId: string;
  trialsDir: string;
  best: TrialRow | null;
}): Promise<void> {
  await writeJsonAtomic(path.join(opts.trialsDir, BEST_POINTER), {
    sweep: opts.sweepId,
    trial: opts.best?.trial_id ?? null,
    modelDir: opts.best?.model_path ? relativeInside(opts.trialsDir, opts.best.model_path) : null,
    objective: opts.best?.objective ?? null,
  });
  await writeJsonAtomic(path.join(opts.runsDir, 'trials', LATEST_POINTER), { sweep: opts.sweepId });
}

/**
 * Grad-CAM overlays of the best trial: a few clean test scans per class and the same scans under every
 * noisy test set, in `<trialsDir>/gradcam/` (gallery.json + PNGs), read by the report.
 */
export async function writeBestGallery(opts: {
  trialsDir: string;
  best: TrialRow;
  noiseDir: string;
  seed: number;
  perClass?: number;
}): Promise<Gallery> {
  if (!opts.best.model_path) throw new Error(`trial ${opts.best.trial_id} has no model path`);
  return writeGradCamGallery({
    modelDir: opts.best.model_path,
    noiseDir: opts.noiseDir,
    outDir: path.join(opts.trialsDir, GALLERY_DIR),
    perClass: opts.perClass ?? 2,
    seed: opts.seed,
  });
}
