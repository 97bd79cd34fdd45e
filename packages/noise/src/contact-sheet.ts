import path from 'node:path';
import { openImageSet, type ImageSet } from '@mri-robust/core';
import { sampleByClass, writeContactSheet, type ContactRow } from '@mri-robust/data';
import { resolveNoiseParams } from './models/registry.ts';
import type { NoiseSettings } from './schema.ts';
import type { NoiseSets } from './stage.ts';
import { noisePixels } from './worker.ts';

/**
 * contact-sheet.png of a noise output: a few images per class (columns), clean, then under every
 * evaluation set (read back from the written sets) and under each training kind at the severities
 * of its range (all of a short range, ends and middle of a long one) (computed here with a fixed seed).
 */
export async function writeNoiseSheet(input: ImageSet, outDir: string, sets: NoiseSets, settings: NoiseSettings): Promise<void> {
  const { height, width, channels, classes } = input.header;
  const shape = { height, width, channels };
  const splitShown = sets.eval[0]?.split ?? 'train';
  const picks = sampleByClass(input.records, classes, settings.contact_sheet.per_class, (i) => input.records[i].split === splitShown);
  const clean = picks.map((i) => input.get(i));
  const rows: ContactRow[] = [{ label: `clean (${splitShown})`, tiles: clean }];
  for (const e of sets.eval.filter((s) => s.split === splitShown)) {
    const es = await openImageSet(path.join(outDir, e.dir));
    try {
      const pos = new Map(es.records.map((r, k) => [r.id, k]));
      rows.push({ label: e.id, tiles: picks.map((i) => (pos.has(input.records[i].id) ? es.get(pos.get(input.records[i].id)!) : null)) });
    } finally {
      es.close();
    }
  }
  for (const k of settings.train.fraction > 0 ? settings.train.kinds : []) {
    const [lo, hi] = Array.isArray(k.severity) ? k.severity : [k.severity, k.severity];
    // every severity of a short range; the ends and the middle of a long one
    const shown = hi - lo <= 2 ? Array.from({ length: hi - lo + 1 }, (_, i) => lo + i) : [lo, Math.round((lo + hi) / 2), hi];
    for (const s of shown) {
      const params = resolveNoiseParams({ kind: k.kind, severity: s });
      rows.push({ label: `train ${k.kind} s${s}`, tiles: clean.map((px, j) => noisePixels({ pixels: px, kind: k.kind, params, seed: 1000 + j }, shape)) });
    }
  }
  await writeContactSheet(path.join(outDir, 'contact-sheet.png'), {
    height,
    width,
    channels,
    rows,
    columns: picks.map((i) => input.records[i].label),
    title: `noise: train ${settings.train.mode} fraction ${settings.train.fraction}; ${sets.eval.length} eval sets`,
  });
}
