/**
 * Augment benchmark (`npm run bench -- augment`), writes runs/bench/augment.json: images/s of each
 * augmentation op alone, of the default settings and of every op at once, at 224×224 grey, one
 * thread, median of rounds. (The 10,000-image noise + augment stage figure is in noise.json.)
 */
import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { createRng, median, parseExperiment, sharedDir, workspaceRoot } from '@mri-robust/core';
import {
  applyAugment,
  augmentSchemaPart,
  augmentSettingsOf,
  floatFromUint8,
  floatToUint8,
  IDENTITY_PLAN,
  planAugment,
  type AugmentPlan,
} from '../src/index.ts';

const SIZE = 224;
const folder = path.join(sharedDir(), 'datasets/nickparvar/Training/glioma');
const files = readdirSync(folder).sort().slice(0, 24);
const images = await Promise.all(
  files.map(
    async (f) => new Uint8Array(await sharp(path.join(folder, f)).resize(SIZE, SIZE, { fit: 'contain', background: '#000' }).grayscale().raw().toBuffer()),
  ),
);
const defaults = augmentSettingsOf(parseExperiment('name: b\naugment: {}\n', '/tmp/b.yaml', [augmentSchemaPart]));

function rate(plan: (i: number) => AugmentPlan, n = 40, rounds = 5): number {
  const run = (i: number) => floatToUint8(applyAugment(floatFromUint8(images[i % images.length], SIZE, SIZE, 1), plan(i)));
  for (let i = 0; i < 8; i++) run(i);
  const r: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) run(i);
    r.push(n / ((performance.now() - t) / 1000));
  }
  return Math.round(median(r) * 10) / 10;
}

const ops: Record<string, Partial<AugmentPlan>> = {
  rotation: { rotation: 12 },
  hflip: { hflip: true },
  zoom: { zoom: 1.1 },
  translation: { shiftX: 10, shiftY: -7 },
  brightness: { brightness: 0.1 },
  contrast: { contrast: 1.2 },
  gamma: { gamma: 1.2 },
  clahe: { clahe: { tiles: 8, clipLimit: 2 } },
};
const perOp: Record<string, number> = {};
for (const [name, p] of Object.entries(ops)) {
  perOp[name] = rate(() => ({ ...IDENTITY_PLAN, ...p }));
  process.stderr.write(`  ${name.padEnd(12)} ${perOp[name]} img/s\n`);
}
const all: AugmentPlan = { ...IDENTITY_PLAN, ...Object.assign({}, ...Object.values(ops)) };
const result = {
  bench: 'augment',
  runAt: new Date().toISOString(),
  image: `${SIZE}x${SIZE}x1`,
  threads: 1,
  perOpImagesPerSecond: perOp,
  defaultSettingsImagesPerSecond: rate((i) => planAugment(defaults, createRng(i), SIZE, SIZE)),
  allOpsImagesPerSecond: rate(() => all),
};
process.stderr.write(`  default settings ${result.defaultSettingsImagesPerSecond} img/s, all ops ${result.allOpsImagesPerSecond} img/s\n`);
const out = path.join(workspaceRoot(), 'runs', 'bench');
await mkdir(out, { recursive: true });
await writeFile(path.join(out, 'augment.json'), JSON.stringify(result, null, 2));
