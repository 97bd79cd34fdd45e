/**
 * The fixed baseline model that corruption errors are normalised by (issue #16, ImageNet-C's CE):
 * a linear softmax head (Dense, no dropout) on frozen, globally pooled MobileNetV2-0.35 features at
 * 224 px, trained with fixed hyper-parameters (BASELINE_TRAIN) and a seed derived from the
 * experiment's, on the experiment's own training split (its noisy and augmented copies included),
 * then scored on the clean test set and every noisy test set of the experiment (the `mri-c` sets
 * when `noise.eval.benchmark: mri-c`).
 *
 * Fixed on purpose: CE_k = Σ_s E_{k,s} / Σ_s E^base_{k,s} compares models only when the denominator
 * does not move with the model under test, so nothing of the experiment's `model` / `train` sections
 * enters it. It reuses the embed stage (the experiment with its model section replaced by the
 * baseline's, mode head: its own cache entry) and `trainTrial` (ONNX Runtime forward passes), and is
 * cached as a stage: runs/cache/baseline/<key>/ (`baseline.json` + the trial folder), key = the
 * embed key (which holds the augment and noise keys and the weights hash) + the weights hash + the
 * model package's code hash + the fixed settings + the seed.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { codeHash, deriveSeed, ensurePipeline, runStage, sharedDir, stageKey, UserError, type Experiment, type StageRunner } from '@mri-robust/core';
import { ingestRunner } from '@mri-robust/data';
import { augmentRunner } from '@mri-robust/augment';
import { noiseRunner, SETS_FILE, type NoiseSets } from '@mri-robust/noise';
import { openEmbedOutput } from './io/embed-output.ts';
import { embedRunner, type EmbedResult } from './stage-embed.ts';
import { modelSettingsOf, TRAIN_DEFAULTS, type TrainSettings } from './schema.ts';
import { trainTrial } from './trial.ts';

const BASELINE_STAGE = 'baseline';
const BASELINE_JSON = 'baseline.json';
export const BASELINE_NAME = 'mobilenet_v2-0.35-linear';
/** Input side of the baseline's backbone (MobileNetV2-0.35's ImageNet resolution). */
const BASELINE_INPUT_SIZE = 224;
/** Pooled features of MobileNetV2 (1280 at every width ≤ 1, as Keras builds it): weights of another network are refused. */
const BASELINE_FEATURES = 1280;
/** Fixed training of the linear head: the train defaults without dropout. */
const BASELINE_TRAIN: TrainSettings = { ...TRAIN_DEFAULTS, dropout: 0 };

/** Accuracies of the baseline on one experiment's test sets (what CE is normalised by). */
export interface BaselineScores {
  name: string;
  description: string;
  /** Cache key (runs/cache/baseline/<key>/). */
  key: string;
  /** Accuracy on the clean test set. */
  clean: number;
  /**
   * Every noisy test set of the experiment. `benchmark`: the benchmark the set belongs to (`mri-c`),
   * null for an ad-hoc set of `noise.eval.kinds` — CE/mCE use one benchmark's sets only (an ad-hoc
   * Rician SNR 5 set and mri-c's Rician severity 4 share kind and severity).
   */
  corrupted: { testSet: string; kind: string; severity: number; accuracy: number; benchmark?: string | null }[];
}

export interface BaselineOptions {
  /** MobileNetV2-0.35 weights (tfjs layers folder). Default: the experiment's when its backbone is mobilenet_v2, else <shared>/weights/mobilenet_v2_0.35_224. */
  weights?: string;
  log?: (line: string) => void;
}

export interface BaselineResult {
  scores: BaselineScores;
  dir: string;
  hit: boolean;
}

/** Where the baseline's MobileNetV2-0.35 weights come from (absolute path or URL). */
function baselineWeights(experiment: Experiment, given?: string): string {
  if (given) return /^(https?|file):\/\//i.test(given) ? given : path.resolve(given);
  const ms = modelSettingsOf(experiment);
  if (ms.backbone === 'mobilenet_v2' && ms.weights) return /^(https?|file):\/\//i.test(ms.weights) ? ms.weights : path.resolve(experiment.dir, ms.weights);
  return path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');
}

/** The experiment as the baseline sees it: its data, noise and augment sections, the baseline's model and train sections. */
function baselineExperiment(experiment: Experiment, weights: string): Experiment {
  const ms = modelSettingsOf(experiment);
  const model = {
    backbone: 'mobilenet_v2',
    weights,
    input_size: BASELINE_INPUT_SIZE,
    mode: 'head',
    // How the forward passes run (not what they compute): the experiment's choices.
    backend: ms.backend,
    inference: ms.inference,
    ...(ms.threads !== undefined ? { threads: ms.threads } : {}),
    embed_batch_size: ms.embed_batch_size,
  };
  return { ...experiment, config: { ...experiment.config, model, train: { ...BASELINE_TRAIN } } };
}

/** Trains (once) and scores the baseline of `experiment`; cached under runs/cache/baseline/<key>/. */
export async function runBaseline(experiment: Experiment, opts: BaselineOptions = {}): Promise<BaselineResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const weights = baselineWeights(experiment, opts.weights);
  const bexp = baselineExperiment(experiment, weights);
  let embed: EmbedResult | undefined;
  const embedStage: StageRunner = async (exp, up, c) => {
    embed = await embedRunner(exp, up, c);
    return embed;
  };
  const refs = await ensurePipeline(bexp, 'embed', { ingest: ingestRunner, noise: noiseRunner, augment: augmentRunner, embed: embedStage }, { log });
  if (!embed || !refs.noise) throw new Error('baseline: the pipeline did not run the embed and noise stages');
  const features = await openEmbedOutput(embed.dir);
  const m = features.manifest;
  if (m.sampleShape.length !== 1 || m.sampleShape[0] !== BASELINE_FEATURES) {
    throw new UserError(`${weights}: the baseline needs MobileNetV2 weights (${BASELINE_FEATURES} pooled features), these give [${m.sampleShape.join(', ')}]`);
  }
  const seed = deriveSeed(experiment.seed, 'baseline');
  const settings = { name: BASELINE_NAME, inputSize: BASELINE_INPUT_SIZE, train: BASELINE_TRAIN };
  const weightsHash = m.weights?.hash ?? null;
  const key = stageKey({ stage: BASELINE_STAGE, code: codeHash('embed'), settings, upstream: { embed: embed.key }, weights: weightsHash, seed });
  const description =
    `linear softmax head on frozen pooled MobileNetV2-0.35 features at ${BASELINE_INPUT_SIZE} px (weights sha256 ${String(weightsHash).slice(0, 12)}), ` +
    `trained on the experiment's training split: Adam lr ${BASELINE_TRAIN.learning_rate}, batch ${BASELINE_TRAIN.batch_size}, up to ${BASELINE_TRAIN.epochs} epochs, ` +
    `early stopping on ${BASELINE_TRAIN.early_stopping.monitor} (patience ${BASELINE_TRAIN.early_stopping.patience}), no dropout, seed ${seed}`;
  const noiseSets = await readNoiseSets(refs.noise.dir);
  const res = await runStage({
    runsDir: experiment.runsDir,
    stage: BASELINE_STAGE,
    key,
    log,
    meta: { settings, upstream: { embed: embed.key }, weights: { location: weights, hash: weightsHash }, seed },
    build: async (tmp) => {
      log(`[baseline] training ${BASELINE_NAME} on ${features.info('train').n} training images (embed ${embed?.key})`);
      const trial = await trainTrial({
        experiment: bexp,
        features,
        params: { learningRate: BASELINE_TRAIN.learning_rate, dropout: BASELINE_TRAIN.dropout, batchSize: BASELINE_TRAIN.batch_size },
        seed,
        outDir: path.join(tmp, 'trial'),
      });
      const clean = trial.evaluations.find((e) => e.testSet === 'test');
      if (!clean) throw new Error('baseline: no clean test evaluation');
      const scores: BaselineScores = {
        name: BASELINE_NAME,
        description,
        key,
        clean: clean.accuracy,
        corrupted: trial.evaluations
          .filter((e) => e.testSet !== 'test')
          .map((e) => ({
            testSet: e.testSet,
            kind: e.noiseKind,
            severity: e.severity,
            accuracy: e.accuracy,
            benchmark: noiseSets.get(e.testSet) ?? null,
          })),
      };
      await writeFile(path.join(tmp, BASELINE_JSON), `${JSON.stringify(scores, null, 2)}\n`);
    },
  });
  const scores = JSON.parse(await readFile(path.join(res.dir, BASELINE_JSON), 'utf8')) as BaselineScores;
  return { scores, dir: res.dir, hit: res.hit };
}

/** The baseline's scores on `experiment`'s test sets (trained once per experiment data, then cached). */
export async function ensureBaseline(experiment: Experiment, opts: BaselineOptions = {}): Promise<BaselineScores> {
  return (await runBaseline(experiment, opts)).scores;
}

/** Eval set id → its benchmark (null: ad-hoc), from the noise stage's sets.json. */
async function readNoiseSets(noiseDir: string): Promise<Map<string, string | null>> {
  const file = path.join(noiseDir, SETS_FILE);
  let sets: NoiseSets;
  try {
    sets = JSON.parse(await readFile(file, 'utf8')) as NoiseSets;
  } catch (e) {
    throw new UserError(`${file}: cannot read the noise stage's set list (${(e as Error).message})`);
  }
  return new Map((sets.eval ?? []).map((e) => [e.id, e.benchmark ?? null]));
}
