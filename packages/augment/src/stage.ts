import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createProgress,
  deriveSeed,
  IMAGESET_FILE,
  ImageSetWriter,
  openImageSet,
  runStage,
  stageKey,
  UserError,
  type Experiment,
  type ImageRecord,
  type ImageSet,
  codeHash,
  type StageRunner,
} from '@mri-robust/core';
import { sampleByClass, writeContactSheet, type ContactRow } from '@mri-robust/data';
import { floatFromUint8, floatToUint8 } from './image.ts';
import { applyAugment, IDENTITY_PLAN, type AugmentPlan } from './ops.ts';
import { type AugmentSettings, augmentSettingsOf } from './schema.ts';
import { augmentPixels, type AugmentRequest, type AugmentResponse } from './worker.ts';
import { defaultWorkerCount, mapOrdered, WorkerPool } from '@mri-robust/core';

const BATCH = 16;

export interface StageOutput {
  key: string;
  dir: string;
  hit: boolean;
}

export interface AugmentContext {
  /** Worker threads (default: cores, or MRI_WORKERS); 0 runs in this thread. */
  workers?: number;
  log?: (line: string) => void;
}

/**
 * The image set augment reads: `<dir>/train` of a noise-stage output, or `dir` itself when it is an
 * image set (e.g. an ingest output when no noise stage runs).
 */
function augmentInputDir(upstreamDir: string): string {
  const train = path.join(upstreamDir, 'train');
  if (existsSync(path.join(train, IMAGESET_FILE))) return train;
  if (existsSync(path.join(upstreamDir, IMAGESET_FILE))) return upstreamDir;
  throw new UserError(`augment: ${upstreamDir} holds neither train/${IMAGESET_FILE} (a noise output) nor ${IMAGESET_FILE}`);
}

/**
 * What the input images depend on: the noise stage's train key (sets.json), so that a change of the
 * noise stage's evaluation sets keeps this stage's key; the whole upstream key for other inputs.
 */
function trainKeyOf(upstream: { key: string; dir: string }): string {
  try {
    const sets = JSON.parse(readFileSync(path.join(upstream.dir, 'sets.json'), 'utf8')) as { train?: { key?: unknown } };
    if (typeof sets.train?.key === 'string') return sets.train.key;
  } catch {
    // not a noise output (an image set given directly): its stage key stands for its content
  }
  return upstream.key;
}

function augmentKey(experiment: Experiment, upstreamKey: string): string {
  return stageKey({
    stage: 'augment',
    code: codeHash('augment'),
    settings: augmentSettingsOf(experiment),
    upstream: upstreamKey,
    seed: experiment.seed,
  });
}

/** Seed of copy k of a record (stable under reordering and under changes to other records). */
function augmentCopySeed(experiment: Experiment, settings: AugmentSettings, recordId: string, k: number): number {
  return deriveSeed(experiment.seed + settings.seed_offset, 'augment', recordId, k);
}

/**
 * Augment stage: every record of the upstream set is copied unchanged (record gains
 * `augment: null`), and each TRAIN record is followed by K augmented copies
 * (`id: <id>~aug<k>`, `augmentOf`, `augment: {copy, ...plan}`). Val and test records are never
 * augmented. Writes `imageset.json` + shards and `contact-sheet.png` into runs/cache/augment/<key>/.
 */
export async function runAugment(experiment: Experiment, upstream: { key: string; dir: string }, ctx: AugmentContext = {}): Promise<StageOutput> {
  const settings = augmentSettingsOf(experiment);
  const inputDir = augmentInputDir(upstream.dir);
  const key = augmentKey(experiment, trainKeyOf(upstream));
  const res = await runStage({
    runsDir: experiment.runsDir,
    stage: 'augment',
    key,
    log: ctx.log,
    meta: { settings, upstream: { key: upstream.key, dir: upstream.dir }, seed: experiment.seed, code: codeHash('augment') },
    build: async (tmp) => {
      const set = await openImageSet(inputDir);
      try {
        await buildAugmented(set, tmp, experiment, settings, ctx);
        await writeAugmentSheet(set, path.join(tmp, 'contact-sheet.png'), settings, experiment);
      } finally {
        set.close();
      }
    },
  });
  return { key: res.key, dir: res.dir, hit: res.hit };
}

async function buildAugmented(set: ImageSet, outDir: string, experiment: Experiment, settings: AugmentSettings, ctx: AugmentContext): Promise<void> {
  const { height, width, channels, classes } = set.header;
  const writer = await ImageSetWriter.create(
    outDir,
    { height, width, channels, classes },
    {
      info: { stage: 'augment', copies: settings.copies, input: set.header.info ?? null },
    },
  );
  const records = set.records;
  const trainCount = records.filter((r) => r.split === 'train').length;
  const progress = createProgress('augment', records.length + trainCount * settings.copies, { unit: 'img' });
  const workers = settings.copies === 0 ? 0 : (ctx.workers ?? (trainCount * settings.copies < 64 ? 0 : defaultWorkerCount()));
  const pool = await WorkerPool.start<AugmentRequest, AugmentResponse>(new URL('./worker.ts', import.meta.url), workers);
  try {
    const batches: number[][] = [];
    for (let i = 0; i < records.length; i += BATCH) batches.push(Array.from({ length: Math.min(BATCH, records.length - i) }, (_, k) => i + k));
    const requests = function* (): Generator<AugmentRequest> {
      for (const batch of batches) {
        const items = batch
          .filter((i) => records[i].split === 'train' && settings.copies > 0)
          .map((i) => ({
            pixels: set.get(i),
            seeds: Array.from({ length: settings.copies }, (_, k) => augmentCopySeed(experiment, settings, records[i].id, k + 1)),
          }));
        yield { height, width, channels, settings, items };
      }
    };
    await mapOrdered(pool, requests(), async (res, b) => {
      let next = 0;
      for (const i of batches[b]) {
        const rec = records[i];
        await writer.add(set.get(i), { ...rec, augment: null });
        progress.tick();
        if (rec.split !== 'train' || settings.copies === 0) continue;
        const copies = res.items[next++].copies;
        for (let k = 0; k < copies.length; k++) {
          const copy: ImageRecord = { ...rec, id: `${rec.id}~aug${k + 1}`, augmentOf: rec.id, augment: { copy: k + 1, ...copies[k].plan } };
          await writer.add(copies[k].pixels, copy);
          progress.tick();
        }
      }
    });
  } finally {
    await pool.close();
  }
  await writer.close();
  progress.done();
}

/** A few training images per class: original, each op alone at a strong setting, and K random copies. */
async function writeAugmentSheet(set: ImageSet, file: string, settings: AugmentSettings, experiment: Experiment): Promise<void> {
  const { height, width, channels, classes } = set.header;
  const picks = sampleByClass(set.records, classes, settings.contact_sheet.per_class, (i) => set.records[i].split === 'train');
  const originals = picks.map((i) => set.get(i));
  const one = (plan: Partial<AugmentPlan>) => (px: Uint8Array) =>
    floatToUint8(applyAugment(floatFromUint8(px, height, width, channels), { ...IDENTITY_PLAN, ...plan }));
  const demos: [string, (px: Uint8Array) => Uint8Array][] = [
    ['original', (px) => px],
    [`rotation +${settings.rotation.degrees}°`, one({ rotation: settings.rotation.degrees })],
    ['hflip', one({ hflip: true })],
    [`zoom ×${settings.zoom.range[1]}`, one({ zoom: settings.zoom.range[1] })],
    [`shift ${settings.translation.fraction}`, one({ shiftX: settings.translation.fraction * width, shiftY: settings.translation.fraction * height })],
    [`brightness +${settings.brightness.delta}`, one({ brightness: settings.brightness.delta })],
    [`contrast ×${settings.contrast.range[0]}`, one({ contrast: settings.contrast.range[0] })],
    [`gamma ${settings.gamma.range[1]}`, one({ gamma: settings.gamma.range[1] })],
    [
      `CLAHE ${settings.clahe.tiles}×${settings.clahe.tiles} clip ${settings.clahe.clip_limit}`,
      one({ clahe: { tiles: settings.clahe.tiles, clipLimit: settings.clahe.clip_limit } }),
    ],
  ];
  const rows: ContactRow[] = demos.map(([label, f]) => ({ label, tiles: originals.map(f) }));
  for (let k = 1; k <= Math.min(settings.copies, 3); k++) {
    rows.push({
      label: `random copy ${k}`,
      tiles: picks.map(
        (i, j) => augmentPixels(originals[j], { height, width, channels }, settings, augmentCopySeed(experiment, settings, set.records[i].id, k)).pixels,
      ),
    });
  }
  await writeContactSheet(file, {
    height,
    width,
    channels,
    rows,
    columns: picks.map((i) => set.records[i].label),
    title: `augment: K = ${settings.copies} copies per training image (val/test untouched)`,
  });
}

/** The augment stage as the pipeline runs it (core/pipeline.ts): upstream noise (its train/ set). */
export const augmentRunner: StageRunner = (experiment, upstream, ctx) => {
  if (!upstream.noise) throw new Error('augment: the pipeline passed no noise output');
  return runAugment(experiment, upstream.noise, { log: ctx.log });
};
