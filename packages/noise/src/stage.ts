import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createProgress,
  ImageSetWriter,
  openImageSet,
  runStage,
  stageKey,
  type Experiment,
  type ImageRecord,
  type ImageSet,
  codeHash,
  defaultWorkerCount,
  mapOrdered,
  WorkerPool,
  type StageRunner,
} from '@mri-robust/core';
import { dataSettingsOf } from '@mri-robust/data';
import { writeNoiseSheet } from './contact-sheet.ts';
import { cachedEvalSet, evalSetKey, linkTree, NOISE_SET_STAGE, storeEvalSet } from './eval-cache.ts';
import { checkNoiseSettings, evalImageSeed, evalSetSpecs, MRI_C_SEED, planTrainNoise, type BenchmarkName, type EvalSetSpec, type NoiseTag } from './plan.ts';
import { type NoiseSettings, noiseSettingsOf } from './schema.ts';
import type { NoiseJob, NoiseRequest, NoiseResponse } from './worker.ts';

const BATCH = 16;

export interface StageOutput {
  key: string;
  dir: string;
  hit: boolean;
}

export interface NoiseContext {
  /** Worker threads (default: cores, or MRI_WORKERS); 0 runs in this thread. */
  workers?: number;
  log?: (line: string) => void;
}

/** `sets.json` of a noise output. */
export interface NoiseSets {
  /** `key`: noiseTrainKey — what the train/ images depend on (absent in outputs of older code). */
  train: { dir: string; count: number; noisy: number; mode: 'copies' | 'replace'; key?: string };
  eval: (EvalSetSpec & { dir: string; count: number })[];
}

export const SETS_FILE = 'sets.json';

/** The corruption benchmark the experiment opts into (`noise.eval.benchmark`; absent = none). */
export function benchmarkOf(experiment: Pick<Experiment, 'config'>): BenchmarkName {
  // `?.`: an experiment loaded without the noise part has no filled-in `eval`.
  return noiseSettingsOf(experiment).eval?.benchmark ?? 'none';
}

/**
 * Key of the `train/` part alone: the training noise settings, the ingest key, the seed and the code.
 * The augment stage keys itself on it, so a change to the evaluation sets (noise.eval or the
 * benchmark) never rebuilds augment, nor what depends on the training images alone.
 */
function noiseTrainKey(experiment: Experiment, ingestKey: string): string {
  return stageKey({ stage: 'noise/train', code: codeHash('noise'), train: noiseSettingsOf(experiment).train, upstream: ingestKey, seed: experiment.seed });
}

export function noiseKey(experiment: Experiment, ingestKey: string): string {
  return stageKey({
    stage: 'noise',
    code: codeHash('noise'),
    // The benchmark is hashed beside the settings (as when it was evaluate.benchmark), so keys of
    // outputs built before it moved to noise.eval stay valid; switching it on changes the key.
    settings: withoutBenchmark(noiseSettingsOf(experiment)),
    benchmark: benchmarkOf(experiment),
    upstream: ingestKey,
    seed: experiment.seed,
  });
}

function withoutBenchmark(settings: NoiseSettings): NoiseSettings {
  if (settings.eval?.benchmark === undefined) return settings;
  const { benchmark: _, ...evalSettings } = settings.eval;
  return { ...settings, eval: evalSettings };
}

function sourceNames(experiment: Experiment): string[] | null {
  // null when the experiment was loaded without the data part (its sources unchecked).
  const { sources } = dataSettingsOf(experiment);
  return Array.isArray(sources) ? sources.map((s) => String(s.name)) : null;
}

/**
 * Noise stage. Reads the ingest image set (all splits) and writes into runs/cache/noise/<key>/:
 * - `train/`: every ingest record; in the configured sources/splits a fraction gets noise, either as
 *   an added copy (`id: <id>~noise`, `noiseOf`) or in place; every record has `noise: {kind,
 *   severity, params} | null`;
 * - `eval/<set-id>/`: a noisy copy of each evaluation split per kind × severity (or SNR), fixed seed;
 * - `sets.json` listing them, and `contact-sheet.png`.
 */
export async function runNoise(experiment: Experiment, ingest: { key: string; dir: string }, ctx: NoiseContext = {}): Promise<StageOutput> {
  const settings = noiseSettingsOf(experiment);
  checkNoiseSettings(settings, sourceNames(experiment), experiment.file);
  const key = noiseKey(experiment, ingest.key);
  const res = await runStage({
    runsDir: experiment.runsDir,
    stage: 'noise',
    key,
    log: ctx.log,
    meta: { settings, upstream: { key: ingest.key, dir: ingest.dir }, seed: experiment.seed, code: codeHash('noise') },
    build: async (tmp) => {
      const set = await openImageSet(ingest.dir);
      try {
        const sets = await buildNoise(set, tmp, experiment, settings, ingest.key, ctx);
        sets.train.key = noiseTrainKey(experiment, ingest.key);
        await writeFile(path.join(tmp, SETS_FILE), JSON.stringify(sets, null, 2));
        await writeNoiseSheet(set, tmp, sets, settings);
      } finally {
        set.close();
      }
    },
  });
  return { key: res.key, dir: res.dir, hit: res.hit };
}

/** A unit of work: one batch of records for one output (train or an eval set). */
interface Batch {
  target: number; // -1 = train, else eval set index
  indices: number[];
}

async function buildNoise(
  set: ImageSet,
  outDir: string,
  experiment: Experiment,
  settings: NoiseSettings,
  ingestKey: string,
  ctx: NoiseContext,
): Promise<NoiseSets> {
  const { height, width, channels, classes } = set.header;
  const shape = { height, width, channels, classes };
  const records = set.records;
  const plan = planTrainNoise(records, settings.train, experiment.seed);
  const allSpecs = evalSetSpecs(settings.eval, benchmarkOf(experiment));
  // Evaluation sets already built by an earlier noise folder (same spec, seed, ingest and code) are
  // linked from the per-set cache instead of being generated again (eval-cache.ts).
  const seedOf = (s: EvalSetSpec) => (s.benchmark ? MRI_C_SEED : settings.eval.seed);
  const setKeys = allSpecs.map((s) => evalSetKey(s, ingestKey, seedOf(s)));
  // Every reused file's sha256 is checked against its record first ('full'): the folders share
  // inodes (hard links), so a file damaged in one noise folder must never be carried into another.
  const reused = await Promise.all(setKeys.map((k) => cachedEvalSet(experiment.runsDir, k, 'full')));
  for (let t = 0; t < allSpecs.length; t++) {
    const from = reused[t];
    if (from) await linkTree(from, path.join(outDir, 'eval', allSpecs[t].id));
  }
  if (reused.some(Boolean))
    ctx.log?.(`[noise] ${reused.filter(Boolean).length} of ${allSpecs.length} evaluation sets reused from runs/cache/${NOISE_SET_STAGE}`);
  const specs = allSpecs.filter((_, t) => !reused[t]);
  const trainWriter = await ImageSetWriter.create(path.join(outDir, 'train'), shape, {
    info: { stage: 'noise', part: 'train', mode: settings.train.mode, noisy: plan.size },
  });
  const evalWriters = await Promise.all(
    specs.map((s) => ImageSetWriter.create(path.join(outDir, 'eval', s.id), shape, { info: { stage: 'noise', part: 'eval', ...s } })),
  );
  const evalMembers = specs.map((s) => set.indicesWhere((r) => r.split === s.split));
  const batches: Batch[] = [];
  for (let i = 0; i < records.length; i += BATCH) batches.push({ target: -1, indices: range(i, Math.min(records.length, i + BATCH)) });
  specs.forEach((_, t) => {
    const m = evalMembers[t];
    for (let i = 0; i < m.length; i += BATCH) batches.push({ target: t, indices: m.slice(i, i + BATCH) });
  });
  const totalWork = records.length + (settings.train.mode === 'copies' ? plan.size : 0) + evalMembers.reduce((a, m) => a + m.length, 0);
  const progress = createProgress('noise', totalWork, { unit: 'img' });
  const noisyJobs = plan.size + evalMembers.reduce((a, m) => a + m.length, 0);
  const workers = ctx.workers ?? (noisyJobs < 64 ? 0 : defaultWorkerCount());
  const pool = await WorkerPool.start<NoiseRequest, NoiseResponse>(new URL('./worker.ts', import.meta.url), workers);
  const jobFor = (b: Batch): NoiseJob[] => {
    if (b.target < 0) {
      return b.indices
        .filter((i) => plan.has(i))
        .map((i) => {
          const p = plan.get(i)!;
          return { pixels: set.get(i), kind: p.kind, params: p.params, seed: p.seed, ...(p.chain ? { chain: p.chain } : {}) };
        });
    }
    const s = specs[b.target];
    return b.indices.map((i) => ({
      pixels: set.get(i),
      kind: s.kind,
      params: s.params,
      seed: evalImageSeed(seedOf(s), s.id, records[i].id),
    }));
  };
  try {
    await mapOrdered(
      pool,
      (function* () {
        for (const b of batches) yield { height, width, channels, jobs: jobFor(b) } satisfies NoiseRequest;
      })(),
      async (res, bi) => {
        const b = batches[bi];
        if (b.target >= 0) {
          const s = specs[b.target];
          const tag: NoiseTag = { kind: s.kind, severity: s.severity, params: s.params };
          for (let k = 0; k < b.indices.length; k++) {
            const rec = records[b.indices[k]];
            await evalWriters[b.target].add(res.pixels[k], { ...rec, noise: { ...tag, ...(s.snr === null ? {} : { snr: s.snr }) }, noiseSet: s.id });
            progress.tick();
          }
          return;
        }
        let next = 0;
        for (const i of b.indices) {
          const rec = records[i];
          const p = plan.get(i);
          const tag: NoiseTag | null = p
            ? {
                kind: p.kind,
                severity: p.severity,
                params: p.params,
                ...(p.chain ? { chain: p.chain.map(({ kind, severity, params }) => ({ kind, severity, params })) } : {}),
              }
            : null;
          if (!p) {
            await trainWriter.add(set.get(i), { ...rec, noise: null });
          } else if (settings.train.mode === 'replace') {
            await trainWriter.add(res.pixels[next++], { ...rec, noise: tag });
          } else {
            await trainWriter.add(set.get(i), { ...rec, noise: null });
            const copy: ImageRecord = { ...rec, id: `${rec.id}~noise`, noiseOf: rec.id, noise: tag };
            await trainWriter.add(res.pixels[next++], copy);
            progress.tick();
          }
          progress.tick();
        }
      },
    );
  } finally {
    await pool.close();
  }
  const trainHeader = await trainWriter.close();
  await Promise.all(evalWriters.map((w) => w.close()));
  progress.done();
  for (let t = 0; t < allSpecs.length; t++) {
    if (reused[t]) continue;
    const s = allSpecs[t];
    const meta = { spec: s, seed: seedOf(s), upstream: { key: ingestKey }, code: codeHash('noise') };
    await storeEvalSet(experiment.runsDir, setKeys[t], path.join(outDir, 'eval', s.id), meta, ctx.log);
  }
  // An eval set holds every record of its split, built here or reused (no need to reopen it).
  const splitCount = (split: string) => records.filter((r) => r.split === split).length;
  return {
    train: { dir: 'train', count: trainHeader.count, noisy: plan.size, mode: settings.train.mode },
    eval: allSpecs.map((s) => ({ ...s, dir: `eval/${s.id}`, count: splitCount(s.split) })),
  };
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, k) => a + k);
}

/** The noise stage as the pipeline runs it (core/pipeline.ts): upstream ingest. */
export const noiseRunner: StageRunner = (experiment, upstream, ctx) => {
  if (!upstream.ingest) throw new Error('noise: the pipeline passed no ingest output');
  return runNoise(experiment, upstream.ingest, { log: ctx.log });
};
