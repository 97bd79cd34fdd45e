/**
 * Where a saved model comes from, as shown next to every prediction (`model:predict`, the predict
 * page): experiment, sweep and trial, data sources (with a `synthetic` flag for phantom sources),
 * and the clean and mean-noisy test accuracy with 95 % bootstrap intervals.
 *
 * `trainTrial` evaluates before it saves, so all of it is written into metadata.json at save time
 * (`summary`, beside the existing `experiment` and `provenance`) and predict/serve need no DuckDB.
 * `summary` is descriptive: it is NOT part of the model hash (save.ts hashes only what changes a
 * prediction — classes, preprocessing, temperature, backbone), so editing it cannot change an answer,
 * and a folder saved before it existed still loads (shown as "not recorded").
 *
 * Mean-noisy accuracy: each noisy test set is a noisy copy of the clean test split with the same
 * record ids (noise stage), so per test image the fraction of noisy sets that classify it correctly
 * is one score; the mean of those scores is the mean of the sets' accuracies (equal set sizes), and
 * its interval is a percentile bootstrap over images — resampling images keeps the sets' shared
 * images together, unlike resampling each set on its own.
 */
import path from 'node:path';
import { createRng, type Experiment } from '@mri-robust/core';
import { dataSettingsOf, resolveSources } from '@mri-robust/data';
import { bootstrapMeanInterval } from './metrics/bootstrap.ts';
import type { ModelMetadata } from './save.ts';

export interface ModelDataSource {
  name: string;
  kind: 'kaggle' | 'phantom';
  /** Folder of a Kaggle source (relative to the workspace root when inside it); null for phantoms. */
  root: string | null;
  /** Procedurally generated images (phantoms), not real MRI. */
  synthetic: boolean;
}

export interface AccuracyInterval {
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  /** Test images. */
  n: number;
}

/** metadata.json `summary`. */
export interface ModelSummary {
  data: { sources: ModelDataSource[]; synthetic: boolean };
  test: {
    clean: AccuracyInterval | null;
    /** Mean over the noisy test sets (bootstrap over test images); null without noisy sets. */
    meanNoisy: (AccuracyInterval & { sets: number }) | null;
  };
}

/** Everything shown next to a prediction, from metadata.json alone. */
export interface ModelProvenance {
  experiment: string;
  sweep: string | null;
  trial: string | null;
  /** null: the folder was saved before metadata.json recorded its data sources. */
  sources: ModelDataSource[] | null;
  /** True when any training source is synthetic (phantoms). */
  synthetic: boolean;
  clean: AccuracyInterval | null;
  meanNoisy: (AccuracyInterval & { sets: number }) | null;
  backbone: string;
}

export const SYNTHETIC_WARNING = 'trained on synthetic images — not meaningful on real scans';

/** The experiment's data sources as recorded in a model folder. */
export function dataSourcesOf(experiment: Experiment, root?: string): ModelDataSource[] {
  // Not an array when the experiment was loaded without the data part.
  if (!Array.isArray(dataSettingsOf(experiment).sources)) return [];
  return resolveSources(experiment).map((s) => {
    if (s.kind === 'phantom') return { name: s.name, kind: 'phantom', root: null, synthetic: true };
    const rel = root ? path.relative(root, s.root) : '';
    return { name: s.name, kind: 'kaggle', root: root && rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : s.root, synthetic: false };
  });
}

/** One test set's per-image correctness, by record id. */
export interface SetCorrectness {
  ids: readonly string[];
  correct: ArrayLike<number>;
}

/**
 * Mean accuracy over noisy test sets with a percentile bootstrap interval over test images: image i
 * scores the mean correctness over the sets that hold it. Pure (seeded).
 */
export function meanNoisyAccuracy(sets: readonly SetCorrectness[], bootstrapSamples: number, seed: number): (AccuracyInterval & { sets: number }) | null {
  if (sets.length === 0) return null;
  const sum = new Map<string, { s: number; k: number }>();
  for (const set of sets) {
    if (set.ids.length !== set.correct.length) throw new Error(`mean noisy accuracy: ${set.ids.length} ids for ${set.correct.length} results`);
    set.ids.forEach((id, i) => {
      const e = sum.get(id) ?? { s: 0, k: 0 };
      e.s += set.correct[i];
      e.k += 1;
      sum.set(id, e);
    });
  }
  const scores = Float64Array.from(sum.values(), (e) => e.s / e.k);
  if (scores.length === 0) return null;
  const accuracy = scores.reduce((a, b) => a + b, 0) / scores.length;
  const ci = bootstrapMeanInterval(scores, bootstrapSamples, createRng(seed));
  return { accuracy, ciLow: ci.low, ciHigh: ci.high, n: scores.length, sets: sets.length };
}

/** metadata.json as written by trainTrial: `provenance` (sweep, trial) and `summary` are optional (older folders, tiny test models). */
export type MetadataWithProvenance = ModelMetadata & {
  provenance?: { sweep: string; trial: string; experimentHash: string };
  summary?: ModelSummary;
};

/** Provenance of a loaded model folder (metadata.json only). */
export function provenanceOf(metadata: ModelMetadata): ModelProvenance {
  const meta = metadata as MetadataWithProvenance;
  const summary = meta.summary ?? null;
  const b = meta.backbone;
  return {
    experiment: meta.experiment?.name ?? '(unknown)',
    sweep: meta.provenance?.sweep ?? null,
    trial: meta.provenance?.trial ?? null,
    sources: summary?.data.sources ?? null,
    synthetic: summary?.data.synthetic ?? false,
    clean: summary?.test.clean ?? null,
    meanNoisy: summary?.test.meanNoisy ?? null,
    backbone: `${b.name} (${b.mode}${b.cutLayer ? `, cut at ${b.cutLayer}` : ''}), ${meta.preprocessing.inputSize} px`,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** "83.3 % (95 % CI 71.0–92.1 %, n = 394)". */
export function formatAccuracy(a: AccuracyInterval | null): string {
  if (!a) return 'not recorded';
  return `${pct(a.accuracy)} (95 % CI ${(100 * a.ciLow).toFixed(1)}–${pct(a.ciHigh)}, n = ${a.n})`;
}

/** A source as one phrase: "sartaj (kaggle, datasets/sartaj)" or "phantom (synthetic phantoms)". */
export function formatSource(s: ModelDataSource): string {
  return s.synthetic ? `${s.name} (synthetic phantoms)` : `${s.name} (${s.kind}${s.root ? `, ${s.root}` : ''})`;
}

/** The provenance lines printed by `model:predict` (without the synthetic warning). */
export function provenanceLines(p: ModelProvenance): string[] {
  return [
    `experiment: ${p.experiment}`,
    `sweep: ${p.sweep ?? '(not from a sweep)'}   trial: ${p.trial ?? '-'}`,
    `model: ${p.backbone}`,
    `data: ${p.sources ? p.sources.map(formatSource).join(', ') : 'not recorded in metadata.json (saved before sources were recorded)'}`,
    `test accuracy, clean: ${formatAccuracy(p.clean)}`,
    `test accuracy, mean of noisy sets: ${p.meanNoisy ? `${formatAccuracy(p.meanNoisy)}, ${p.meanNoisy.sets} sets` : p.clean ? 'no noisy test sets' : 'not recorded'}`,
  ];
}
