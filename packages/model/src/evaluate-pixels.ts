/**
 * `model:evaluate`: one model, or an ensemble of several (ensemble.ts), with or without horizontal-
 * flip test-time augmentation, scored from the pixels of the experiment's test image sets — the
 * clean test split (augment output) and every noisy test set of the noise stage (the `mri-c` sets
 * when `noise.eval.benchmark: mri-c`) — with each folder's whole network (model.onnx on ONNX Runtime).
 * Per set: accuracy with its bootstrap CI, F1, ECE (evaluateProbabilities). When the experiment has
 * benchmark sets: CE per kind, mCE and relative mCE against the fixed baseline (baseline.ts). With
 * `compareTo`: the same for that model (scored without TTA), and per set a paired comparison
 * (McNemar's exact test + paired bootstrap CI of the accuracy difference) on the identical images.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  corruptionSummary,
  createProgress,
  deriveSeed,
  ensurePipeline,
  openImageSet,
  pairedComparison,
  UserError,
  type CorruptionSummary,
  type Experiment,
  type ImageSet,
  type PairedComparison,
} from '@mri-robust/core';
import { dataSettingsOf, ingestRunner } from '@mri-robust/data';
import { augmentRunner } from '@mri-robust/augment';
import { noiseRunner, SETS_FILE, type NoiseSets } from '@mri-robust/noise';
import { ensureBaseline, type BaselineScores } from './baseline.ts';
import { ensembleProbabilities, loadEnsemble, memberMismatch, type Ensemble, type Tta } from './ensemble.ts';
import { evaluateProbabilities, type EvaluationRecord } from './evaluate.ts';
import { argmaxRows } from './metrics/classification.ts';
import { imagesToTensor, pixelScalingOf } from './nets/preprocess.ts';
import { evaluateSettingsOf, modelSettingsOf } from './schema.ts';
import type { ModelMetadata } from './save.ts';

/** One test set as pixels: the image set and the rows of it that form the set. */
interface PixelTestSet {
  name: string;
  noiseKind: string;
  severity: number;
  /** `mri-c` for a benchmark set, null for the clean set and ad-hoc noisy sets. */
  benchmark: string | null;
  dir: string;
  indices: number[];
}

/** The clean test split of the augment output, then every noisy test set of the noise stage (the embed stage's order). */
async function pixelTestSets(augmentDir: string, noiseDir: string): Promise<PixelTestSet[]> {
  const aug = await openImageSet(augmentDir);
  const test = aug.indicesWhere((r) => r.split === 'test');
  aug.close();
  const file = path.join(noiseDir, SETS_FILE);
  let noise: NoiseSets;
  try {
    noise = JSON.parse(await readFile(file, 'utf8')) as NoiseSets;
  } catch (e) {
    throw new UserError(`${file}: cannot read the noise stage's set list (${(e as Error).message})`);
  }
  const out: PixelTestSet[] = [{ name: 'test', noiseKind: 'none', severity: 0, benchmark: null, dir: augmentDir, indices: test }];
  for (const e of noise.eval ?? []) {
    if (e.split !== 'test') continue;
    out.push({ name: e.id, noiseKind: e.kind, severity: e.severity, benchmark: e.benchmark ?? null, dir: path.resolve(noiseDir, e.dir), indices: [] });
  }
  return out;
}

interface ScoredModels {
  /** The folders, in the order given. */
  models: string[];
  tta: Tta;
  /** 'mean of the members' calibrated probabilities' (or 'single model'). */
  combination: string;
  evaluations: EvaluationRecord[];
  /** CE / mCE / relative mCE of the benchmark sets against the baseline (null: no benchmark sets, or baseline off). */
  corruption: (CorruptionSummary & { benchmark: string }) | null;
}

export interface PixelEvaluation extends ScoredModels {
  experiment: { name: string; file: string; hash: string };
  inference: { engine: string; threads: number };
  baseline: Pick<BaselineScores, 'name' | 'description' | 'key' | 'clean'> | null;
  compareTo: (ScoredModels & { paired: (PairedComparison & { testSet: string })[] }) | null;
  /** Wall time of the whole command (stages, loading, baseline) and of the forward passes alone. */
  seconds: number;
  scoringSeconds: number;
  images: number;
}

export interface PixelEvaluationOptions {
  experiment: Experiment;
  models: string[];
  tta: Tta;
  /** Model folder(s) scored beside (no TTA) and compared per set. */
  compareTo?: string[];
  /** Score the benchmark sets against the baseline (trains and caches it on first use; default true). */
  baseline?: boolean;
  batchSize?: number;
  log?: (line: string) => void;
}

interface Scorer {
  ens: Ensemble;
  tta: Tta;
  calibrated: Float32Array[];
  raw: Float32Array[];
}

/** Checks that the image sets' pixels are what the model decodes to (size, channels, fit of the experiment's data.image). */
function checkDecode(experiment: Experiment, ens: Ensemble, set: ImageSet): void {
  const d = ens.preprocessing.decode;
  const h = set.header;
  const fit = dataSettingsOf(experiment).image?.fit;
  const problems: string[] = [];
  if (h.height !== d.size || h.width !== d.size) problems.push(`images ${h.width}×${h.height} ≠ decode size ${d.size}`);
  if (h.channels !== d.channels) problems.push(`channels ${h.channels} ≠ ${d.channels}`);
  if (fit && fit !== d.fit) problems.push(`data.image.fit ${fit} ≠ ${d.fit}`);
  if (h.classes.join('\u0000') !== ens.classes.join('\u0000')) problems.push(`classes [${h.classes.join(', ')}] ≠ [${ens.classes.join(', ')}]`);
  if (problems.length) throw new UserError(`${ens.members[0].dir}: the model does not match ${experiment.file}'s images: ${problems.join('; ')}`);
}

async function scoreSet(set: ImageSet, indices: number[], scorers: Scorer[], batchSize: number, tick: (n: number) => void): Promise<Int32Array> {
  const labels = Int32Array.from(indices, (i) => {
    const c = set.header.classes.indexOf(set.records[i].label);
    if (c < 0) throw new UserError(`${set.dir}: record ${set.records[i].id} has label '${set.records[i].label}' not in classes [${set.header.classes}]`);
    return c;
  });
  const k = set.header.classes.length;
  for (const s of scorers) {
    s.calibrated.push(new Float32Array(indices.length * k));
    s.raw.push(new Float32Array(indices.length * k));
  }
  for (let start = 0; start < indices.length; start += batchSize) {
    const idx = indices.slice(start, start + batchSize);
    const pixels = set.batch(idx);
    // Scorers share the preprocessing (checked) but for the denoiser: one input per denoiser per batch.
    const inputs = new Map<string, Float32Array>();
    const inputFor = (p: Ensemble['preprocessing']): Float32Array => {
      const key = JSON.stringify(p.denoise ?? null);
      let input = inputs.get(key);
      if (!input) {
        const target = { inputSize: p.inputSize, inputChannels: p.inputChannels, scaling: pixelScalingOf(p.scaling), denoise: p.denoise ?? null };
        const x = imagesToTensor(pixels, idx.length, set.header, target);
        input = x.dataSync() as Float32Array;
        x.dispose();
        inputs.set(key, input);
      }
      return input;
    };
    for (const s of scorers) {
      const out = await ensembleProbabilities(s.ens, inputFor(s.ens.preprocessing), idx.length, s.tta);
      s.calibrated[s.calibrated.length - 1].set(out.calibrated, start * k);
      s.raw[s.raw.length - 1].set(out.raw, start * k);
    }
    tick(idx.length);
  }
  return labels;
}

function correctOf(calibrated: Float32Array, labels: Int32Array, k: number): boolean[] {
  const pred = argmaxRows(calibrated, k);
  return Array.from(labels, (y, i) => pred[i] === y);
}

function summarise(evals: EvaluationRecord[], sets: PixelTestSet[], baseline: BaselineScores | null): (CorruptionSummary & { benchmark: string }) | null {
  if (!baseline) return null;
  const bench = sets.find((s) => s.benchmark)?.benchmark;
  if (!bench) return null;
  const names = new Set(sets.filter((s) => s.benchmark === bench).map((s) => s.name));
  const clean = evals.find((e) => e.testSet === 'test');
  if (!clean) return null;
  const corrupted = evals.filter((e) => names.has(e.testSet)).map((e) => ({ kind: e.noiseKind, severity: e.severity, accuracy: e.accuracy }));
  const base = baseline.corrupted.filter((c) => names.has(c.testSet)).map((c) => ({ kind: c.kind, severity: c.severity, accuracy: c.accuracy }));
  return { benchmark: bench, ...corruptionSummary({ clean: clean.accuracy, corrupted }, { clean: baseline.clean, corrupted: base }) };
}

/** Scores the model(s) on every test set of the experiment from pixels (see the file comment). */
export async function evaluateFromPixels(opts: PixelEvaluationOptions): Promise<PixelEvaluation> {
  const { experiment } = opts;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const t0 = Date.now();
  const es = evaluateSettingsOf(experiment);
  const ms = modelSettingsOf(experiment);
  const refs = await ensurePipeline(experiment, 'augment', { ingest: ingestRunner, noise: noiseRunner, augment: augmentRunner }, { log });
  if (!refs.augment || !refs.noise) throw new Error('evaluate: the pipeline did not run the augment and noise stages');
  const sets = await pixelTestSets(refs.augment.dir, refs.noise.dir);
  const ensOpts = { inference: ms.inference, threads: ms.threads, log };
  const main = await loadEnsemble(opts.models, ensOpts);
  let other: Ensemble | null = null;
  try {
    if (opts.compareTo?.length) {
      other = await loadEnsemble(opts.compareTo, ensOpts);
      // A model with another denoiser is compared on the same images, each through its own denoiser:
      // everything but the denoiser must match.
      const sansDenoise = ({ classes, preprocessing }: ModelMetadata) => ({ classes, preprocessing: { ...preprocessing, denoise: null } });
      const diffs = memberMismatch(sansDenoise(main.members[0].metadata), sansDenoise(other.members[0].metadata));
      if (diffs.length) throw new UserError(`--compare-to ${other.members[0].dir}: cannot be compared with ${main.members[0].dir}: ${diffs.join('; ')}`);
    }
    const scorers: Scorer[] = [{ ens: main, tta: opts.tta, calibrated: [], raw: [] }];
    if (other) scorers.push({ ens: other, tta: 'none', calibrated: [], raw: [] });
    const opened = await Promise.all(sets.map((s) => openImageSet(s.dir)));
    const labelsOf: Int32Array[] = [];
    let tScore = Date.now();
    let scoringSeconds = 0;
    try {
      for (const [i, s] of sets.entries()) if (s.name !== 'test') s.indices = opened[i].records.map((_, j) => j);
      checkDecode(experiment, main, opened[0]);
      const total = sets.reduce((a, s) => a + s.indices.length, 0);
      const passes = (opts.tta === 'hflip' ? 2 : 1) * main.members.length + (other ? other.members.length : 0);
      const label = `evaluate (${main.members.length} model${main.members.length > 1 ? 's' : ''}, tta ${opts.tta}${other ? ', + compare-to' : ''}, ${main.inference.engine} ${main.inference.threads} thr, ${passes} passes/img)`;
      log(`[evaluate] ${sets.length} test sets, ${total} images`);
      const progress = createProgress(label, total, { unit: 'img' });
      tScore = Date.now();
      for (const [i, s] of sets.entries()) labelsOf.push(await scoreSet(opened[i], s.indices, scorers, opts.batchSize ?? 32, (n) => progress.tick(n)));
      progress.done();
      scoringSeconds = (Date.now() - tScore) / 1000;
    } finally {
      for (const o of opened) o.close();
    }

    const seed = main.members[0].metadata.seed;
    const k = main.classes.length;
    const evaluate = (sc: Scorer): EvaluationRecord[] =>
      sets.map((s, i) =>
        evaluateProbabilities({
          testSet: s.name,
          noiseKind: s.noiseKind,
          severity: s.severity,
          probs: sc.raw[i],
          calibrated: sc.calibrated[i],
          labels: labelsOf[i],
          classes: sc.ens.classes,
          temperature: 1,
          bootstrapSamples: es.bootstrap_samples,
          eceBins: es.ece_bins,
          seed: deriveSeed(seed, 'bootstrap', s.name),
        }),
      );
    const mainEvals = evaluate(scorers[0]);
    let baseline: BaselineScores | null = null;
    if (opts.baseline !== false && sets.some((s) => s.benchmark)) {
      log('[evaluate] baseline for CE/mCE (cached after its first run)');
      baseline = await ensureBaseline(experiment, { log });
    }
    const combination = (n: number) => (n > 1 ? "mean of the members' calibrated probabilities" : 'single model (calibrated with its temperature)');
    let compareTo: PixelEvaluation['compareTo'] = null;
    if (other) {
      const sc = scorers[1];
      const evals = evaluate(sc);
      compareTo = {
        models: other.members.map((m) => m.dir),
        tta: 'none',
        combination: combination(other.members.length),
        evaluations: evals,
        corruption: summarise(evals, sets, baseline),
        paired: sets.map((s, i) => ({
          testSet: s.name,
          ...pairedComparison(correctOf(scorers[0].calibrated[i], labelsOf[i], k), correctOf(sc.calibrated[i], labelsOf[i], k), {
            samples: es.bootstrap_samples,
            seed: deriveSeed(seed, 'paired', s.name),
          }),
        })),
      };
    }
    return {
      experiment: { name: experiment.name, file: experiment.file, hash: experiment.hash },
      models: main.members.map((m) => m.dir),
      tta: opts.tta,
      combination: combination(main.members.length),
      inference: main.inference,
      evaluations: mainEvals,
      corruption: summarise(mainEvals, sets, baseline),
      baseline: baseline ? { name: baseline.name, description: baseline.description, key: baseline.key, clean: baseline.clean } : null,
      compareTo,
      seconds: (Date.now() - t0) / 1000,
      scoringSeconds,
      images: sets.reduce((a, s) => a + s.indices.length, 0),
    };
  } finally {
    await main.dispose();
    await other?.dispose();
  }
}
