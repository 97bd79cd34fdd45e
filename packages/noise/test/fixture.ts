import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImageSetWriter, parseExperiment, sharedDir, type Experiment, type ImageRecord, type SchemaPart } from '@mri-robust/core';
import { loadReal } from './helpers.ts';

const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
const FOLDERS: Record<string, Record<string, string>> = {
  nickparvar: { glioma: 'Training/glioma', meningioma: 'Training/meningioma', notumor: 'Training/notumor', pituitary: 'Training/pituitary' },
  sartaj: { glioma: 'Training/glioma_tumor', meningioma: 'Training/meningioma_tumor', notumor: 'Training/no_tumor', pituitary: 'Training/pituitary_tumor' },
};

/**
 * A small ingest-like image set built from real images of ../shared/datasets: per source and class,
 * `perSplit.train` train, `.val` val and `.test` test images at size × size × 1.
 */
export async function writeRealImageSet(dir: string, size: number, perSplit = { train: 4, val: 1, test: 2 }): Promise<ImageRecord[]> {
  const w = await ImageSetWriter.create(dir, { height: size, width: size, channels: 1, classes: CLASSES }, { info: { stage: 'test-fixture' } });
  const records: ImageRecord[] = [];
  for (const source of Object.keys(FOLDERS)) {
    for (const label of CLASSES) {
      const folder = path.join(sharedDir(), 'datasets', source, FOLDERS[source][label]);
      const files = readdirSync(folder)
        .sort()
        .slice(0, perSplit.train + perSplit.val + perSplit.test);
      for (let k = 0; k < files.length; k++) {
        const split = k < perSplit.train ? 'train' : k < perSplit.train + perSplit.val ? 'val' : 'test';
        const rel = path.join(source, FOLDERS[source][label], files[k]);
        const rec: ImageRecord = { id: `${source}/${label}/${k}`, label, split, source, path: rel };
        await w.add(await loadReal(rel, size, 1), rec);
        records.push(rec);
      }
    }
  }
  await w.close();
  return records;
}

/** An experiment file in `dir` (runs go to dir/runs) with the given sections, parsed with `parts`. */
export async function writeExperiment(dir: string, yaml: string, parts: SchemaPart[], name = 'exp.yaml'): Promise<Experiment> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  const text = `name: test\nseed: 7\nruns: ./runs\ndata:\n  sources: [{name: nickparvar}, {name: sartaj}]\n${yaml}`;
  await writeFile(file, text);
  return parseExperiment(text, file, parts);
}
