/**
 * Grad-CAM gallery for the report: overlays of a few test images per class, clean and under each
 * noisy evaluation set of the noise stage, with the same scans in every set so that clean and noisy
 * maps can be compared side by side. Reads the noise stage output (`sets.json`, its `train/` image
 * set for the clean test split and `eval/<set-id>/` for the noisy copies) and a saved model folder;
 * writes `<outDir>/gallery.json` and `<outDir>/<set-id>/<n>.jpg`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { createRng, deriveSeed, openImageSet, UserError, type ImageSet } from '@mri-robust/core';
import { loadPredictor } from '../predict.ts';
import { explainPixels } from './explain.ts';

export interface GalleryOptions {
  modelDir: string;
  /** Noise stage output folder (runs/cache/noise/<key>). */
  noiseDir: string;
  outDir: string;
  /** Scans per class (default 2). */
  perClass?: number;
  /** Noisy evaluation set ids to include (default: every test-split set in sets.json). */
  sets?: string[];
  /** Seed of the scan choice (default 0). */
  seed?: number;
}

interface GalleryItem {
  /** 'clean' or the noisy set id. */
  set: string;
  id: string;
  label: string;
  predicted: string;
  /** Calibrated probability of the predicted class. */
  probability: number;
  correct: boolean;
  /** The overlay PNG, relative to the gallery folder. */
  file: string;
}

export interface Gallery {
  model: string;
  classes: string[];
  sets: { id: string; noiseKind: string; severity: number; snr: number | null }[];
  items: GalleryItem[];
}

interface SetsJson {
  eval: { id: string; split: string; kind: string; severity: number; snr: number | null; dir: string }[];
}

async function readSets(noiseDir: string): Promise<SetsJson> {
  const file = path.join(noiseDir, 'sets.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SetsJson;
  } catch (e) {
    throw new UserError(`${file}: cannot read the noise stage's set list (${(e as Error).message})`);
  }
}

export async function writeGradCamGallery(opts: GalleryOptions): Promise<Gallery> {
  const perClass = opts.perClass ?? 2;
  const sets = await readSets(opts.noiseDir);
  const noisy = sets.eval.filter((s) => s.split === 'test' && (!opts.sets || opts.sets.includes(s.id)));
  if (opts.sets) {
    const missing = opts.sets.filter((id) => !noisy.some((s) => s.id === id));
    if (missing.length) throw new UserError(`${path.join(opts.noiseDir, 'sets.json')}: no test set ${missing.join(', ')}`);
  }
  const loaded = await loadPredictor(opts.modelDir);
  const opened: ImageSet[] = [];
  try {
    const clean = await openImageSet(path.join(opts.noiseDir, 'train'));
    opened.push(clean);
    // The scans: per class, a seeded choice among the clean test images.
    const chosen: string[] = [];
    for (const label of loaded.metadata.classes) {
      const ids = clean.records.filter((r) => r.split === 'test' && r.noise == null && r.label === label).map((r) => r.id);
      createRng(deriveSeed(opts.seed ?? 0, 'gallery', label)).shuffle(ids);
      chosen.push(...ids.slice(0, perClass));
    }
    const items: GalleryItem[] = [];
    const render = async (set: ImageSet, setId: string) => {
      const byId = new Map(set.records.map((r, i) => [r.id, i] as const));
      const { height, width, channels } = set.header;
      await mkdir(path.join(opts.outDir, setId), { recursive: true });
      for (const [n, id] of chosen.entries()) {
        const index = byId.get(id);
        if (index === undefined) continue;
        const rec = set.records[index];
        const orig = { width: Number(rec.origWidth ?? 0), height: Number(rec.origHeight ?? 0) };
        // The overlay PNG is only re-encoded as JPEG below: stored without compression (same pixels).
        // Layer-CAM: the finer 14×14 map (block_12_add) for looking at; the server and predict draw Grad-CAM.
        const e = await explainPixels(loaded, { pixels: set.get(index), height, width, channels }, { orig, pngCompression: 0, method: 'layer-cam' });
        // JPEG (q 85): the gallery is for looking at, and the report inlines every overlay — PNGs of
        // noisy scans made it ~5× larger (~190 KB each, 12 MB for the quick start's report).
        const file = path.join(setId, `${n}.jpg`);
        await writeFile(path.join(opts.outDir, file), await sharp(e.overlayPng).jpeg({ quality: 85 }).toBuffer());
        items.push({ set: setId, id, label: rec.label, predicted: e.class, probability: e.probabilities[e.classIndex], correct: e.class === rec.label, file });
      }
    };
    await render(clean, 'clean');
    for (const s of noisy) {
      const set = await openImageSet(path.join(opts.noiseDir, s.dir));
      opened.push(set);
      await render(set, s.id);
    }
    const gallery: Gallery = {
      model: path.resolve(opts.modelDir),
      classes: loaded.metadata.classes,
      sets: [
        { id: 'clean', noiseKind: 'none', severity: 0, snr: null },
        ...noisy.map((s) => ({ id: s.id, noiseKind: s.kind, severity: s.severity, snr: s.snr })),
      ],
      items,
    };
    await writeFile(path.join(opts.outDir, 'gallery.json'), JSON.stringify(gallery, null, 2) + '\n');
    return gallery;
  } finally {
    for (const s of opened) s.close();
    await loaded.dispose();
  }
}
