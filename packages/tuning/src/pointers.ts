// Pointer files the sweep leaves for readers that must not open DuckDB (it allows one writing process,
// and the model package may not import tuning): `serve:start` without --model, and the report's
// Grad-CAM gallery. Layout in ARCHITECTURE.md ("Pointer files of the sweep").
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { currentBackend, selectBackend, writeGradCamGallery, type BackendPreference, type Gallery } from '@mri-robust/model';
import type { TrialRow } from '@mri-robust/tracking';

const LATEST_POINTER = 'latest.json';
const BEST_POINTER = 'best.json';
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
export async function writeSweepPointers(opts: { runsDir: string; sweepId: string; trialsDir: string; best: TrialRow | null }): Promise<void> {
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
  /** The experiment's model.backend: selected here when no stage ran in this process (all cached). */
  backend?: string;
}): Promise<Gallery> {
  if (!opts.best.model_path) throw new Error(`trial ${opts.best.trial_id} has no model path`);
  if (!currentBackend()) await selectBackend((opts.backend ?? 'auto') as BackendPreference);
  return writeGradCamGallery({
    modelDir: opts.best.model_path,
    noiseDir: opts.noiseDir,
    outDir: path.join(opts.trialsDir, GALLERY_DIR),
    perClass: opts.perClass ?? 2,
    seed: opts.seed,
  });
}

/**
 * Records in best.json that the best trial's gallery could not be written (`galleryError`, the
 * one-line reason), so the report shows a warning instead of an old or missing gallery.
 */
export async function noteGalleryFailure(trialsDir: string, trialId: string, error: string): Promise<void> {
  const file = path.join(trialsDir, BEST_POINTER);
  const best = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  await writeJsonAtomic(file, { ...best, galleryError: `${trialId}: ${error}` });
}
