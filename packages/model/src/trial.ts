/**
 * One training trial (contract: ARCHITECTURE.md, "Model API used by tuning"): builds the networks
 * for the experiment's mode, trains with the trial's learning rate / dropout / batch size, restores
 * the best epoch, fits the softmax temperature on validation, evaluates on the clean test set and
 * every noisy test set of the embed output, and saves the predictor (image → calibrated class).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deriveSeed, UserError, workspaceRoot, type Experiment } from '@mri-robust/core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { tf } from './backend/tf.ts';
import { selectBackend } from './backend/select.ts';
import { selectInference, type InferenceRecord } from './backend/inference.ts';
import { createForward, forwardSource, type Forward } from './onnx/forward.ts';
import { idsFile, openEmbedOutput, type EmbedOutput, type EmbedSetData } from './io/embed-output.ts';
import { dataSourcesOf, meanNoisyAccuracy, type ModelSummary, type SetCorrectness } from './provenance.ts';
import { evaluateProbabilities, type EvaluationRecord } from './evaluate.ts';
import { fitTemperature, logitsFromProbabilities } from './metrics/index.ts';
import { loadModel, saveModel, type ModelMetadata, type Preprocessing } from './save.ts';
import { resolveEvaluateSettings, resolveModelSettings, resolveTrainSettings } from './schema.ts';
import { balancedClassWeights, type BatchSource } from './train/data.ts';
import { buildClassifier, type Classifier } from './train/classifier.ts';
import { trainLoop } from './train/loop.ts';
import { buildTrialNets } from './train/nets.ts';
import { concatSources, sourceForSet } from './train/sources.ts';
import type { EpochRecord, OnEpoch, TrialParams } from './train/types.ts';

export interface TrainTrialOptions {
  experiment: Experiment;
  features: EmbedOutput;
  params: TrialParams;
  seed: number;
  /** Trial folder: the model is saved in `<outDir>/model`, the results in `<outDir>/evaluation.json`. */
  outDir: string;
  onEpoch?: OnEpoch;
  /** Show training progress on stderr (CLI). */
  progress?: boolean;
  /** Which sweep, trial and experiment hash produced the model (a sweep passes it): metadata.json `provenance`. */
  provenance?: { sweep: string; trial: string; experimentHash: string };
}

export interface TrialResult {
  bestEpoch: number;
  epochs: EpochRecord[];
  modelDir: string;
  backend: string;
  /** Engine of the evaluation forward passes (validation for the temperature, every test set). */
  inference: InferenceRecord;
  evaluations: EvaluationRecord[];
  temperature: number;
}

export const EVALUATION_JSON = 'evaluation.json';
/** Per-image predictions of every test set: `{ classes, sets: { <set>: { ids, labels, predicted } } }`. */
export const PREDICTIONS_JSON = 'predictions.json';

/** Sets read by trials, cached per embed output (a sweep worker runs many trials on one output). */
const sourceCache = new WeakMap<EmbedOutput, Map<string, Promise<BatchSource>>>();
function cachedSource(features: EmbedOutput, name: string): Promise<BatchSource> {
  let m = sourceCache.get(features);
  if (!m) sourceCache.set(features, (m = new Map()));
  let p = m.get(name);
  if (!p) {
    p = sourceForSet(features, name);
    m.set(name, p);
    p.catch(() => m!.delete(name));
  }
  return p;
}

/** Opens the embed stage output a sweep worker trains on (`embed` is the stage's `{ key, dir }`). */
export async function loadEmbedOutput(embed: { dir: string }, _experiment?: Experiment): Promise<EmbedOutput> {
  return openEmbedOutput(embed.dir);
}

/** The preprocessing a predictor needs: decode as the ingest stage did, then as the embed stage did. */
export function preprocessingOf(experiment: Experiment, features: EmbedOutput): Preprocessing {
  const image = ((experiment.config.data as { image?: Partial<Preprocessing['decode']> } | undefined)?.image ?? {}) as Partial<Preprocessing['decode']>;
  const m = features.manifest;
  if (!image.size || !image.channels || !image.fit) {
    throw new UserError(`${experiment.file}: data.image (size, channels, fit) is needed to record the predictor's preprocessing`);
  }
  return {
    decode: { size: image.size, channels: image.channels, fit: image.fit },
    inputSize: m.inputSize,
    inputChannels: m.inputChannels,
    scaling: m.preprocessing,
  };
}

/** image → [frozen part] → classifier, as one model (the classifier is the nested layer 'classifier'). */
function composePredictor(frozen: LayersModel | null, clf: Classifier, inputShape: number[]): LayersModel {
  if (!frozen) return clf.model;
  const image = tf.input({ shape: inputShape, name: 'predictor_image' });
  const out = clf.model.apply(frozen.apply(image) as SymbolicTensor) as SymbolicTensor;
  return tf.model({ inputs: image, outputs: out, name: 'predictor' });
}

export async function trainTrial(opts: TrainTrialOptions): Promise<TrialResult> {
  const { experiment, features, params, seed } = opts;
  const ms = resolveModelSettings(experiment.config);
  const ts = resolveTrainSettings(experiment.config);
  const es = resolveEvaluateSettings(experiment.config);
  const manifest = features.manifest;
  const classes = manifest.classes;
  const backend = await selectBackend(ms.backend);

  const [train, val] = await Promise.all([cachedSource(features, 'train'), cachedSource(features, 'val')]);
  const valNoisySets = features.evalSets().filter((s) => s.split === 'val');
  const valNoisy = valNoisySets.length ? concatSources(await Promise.all(valNoisySets.map((s) => cachedSource(features, s.name)))) : null;

  const nets = await buildTrialNets(manifest, ms.cnn.widths, deriveSeed(seed, 'init', 'trunk'));
  const clf = buildClassifier({
    inputShape: [...train.sampleShape],
    numClasses: classes.length,
    dropout: params.dropout,
    seed: deriveSeed(seed, 'init', 'head'),
    trunk: nets.trunk,
  });
  try {
    const loop = await trainLoop(clf, train, val, {
      epochs: ts.epochs,
      learningRate: params.learningRate,
      batchSize: params.batchSize,
      earlyStopping: { ...ts.early_stopping, restoreBest: ts.early_stopping.restore_best },
      reduceLr: { factor: ts.reduce_lr.factor, patience: ts.reduce_lr.patience, minLr: ts.reduce_lr.min_lr },
      classWeights: ts.class_weights === 'balanced' ? balancedClassWeights(train.labels, classes.length) : null,
      labelSmoothing: ts.label_smoothing,
      mixupAlpha: ts.mixup,
      seed,
      trunkTraining: nets.trunkTraining,
      valNoisy,
      evalBatchSize: Math.max(params.batchSize, 64),
      onEpoch: opts.onEpoch,
      progressLabel: opts.progress ? `train (${manifest.mode}, ${backend.name})` : undefined,
    });

    const evalBatch = Math.max(params.batchSize, 64);
    // Evaluation forward passes on the inference engine (the trained classifier exported to ONNX).
    const engine = await selectInference(ms.inference, ms.threads);
    const forward = await createForward(clf.model, engine);
    const inference: InferenceRecord = { engine: forward.engine, threads: forward.threads };
    const valProbs = await forwardSource(forward, val, evalBatch);
    const temperature = fitTemperature(logitsFromProbabilities(valProbs), val.labels, classes.length);

    const testSets = testSetsOf(features);
    const evaluations: EvaluationRecord[] = [];
    const noisyCorrect: SetCorrectness[] = [];
    // Per-image predictions of every test set (predictions.json): what paired tests between trials
    // or sweeps on the same images need (report:compare).
    const perImage: Record<string, { ids: string[]; labels: number[]; predicted: number[] }> = {};
    for (const s of testSets) {
      const src = await cachedSource(features, s.name);
      const probs = await forwardSource(forward, src, evalBatch);
      perImage[s.name] = { ids: await readSetIds(features, s.name), labels: Array.from(src.labels), predicted: argmaxRows(probs, classes.length) };
      if (s.name !== 'test') noisyCorrect.push({ ids: await readSetIds(features, s.name), correct: correctness(probs, src.labels, classes.length) });
      evaluations.push(
        evaluateProbabilities({
          testSet: s.name,
          noiseKind: s.noiseKind,
          severity: s.severity,
          probs,
          labels: src.labels,
          classes,
          temperature,
          bootstrapSamples: es.bootstrap_samples,
          eceBins: es.ece_bins,
          seed: deriveSeed(seed, 'bootstrap', s.name),
        }),
      );
    }
    await forward.dispose();

    const modelDir = path.join(opts.outDir, 'model');
    const predictor = composePredictor(nets.frozen, clf, [manifest.inputSize, manifest.inputSize, manifest.inputChannels]);
    const metadata: Omit<ModelMetadata, 'modelHash' | 'format'> = {
      classes,
      preprocessing: preprocessingOf(experiment, features),
      backbone: { name: manifest.backbone, mode: manifest.mode, cutLayer: manifest.cutLayer, weights: manifest.weights },
      temperature,
      experiment: { name: experiment.name, hash: experiment.hash, file: experiment.file },
      backend: backend.name,
      seed,
      createdAt: new Date().toISOString(),
      ...(opts.provenance ? { provenance: opts.provenance } : {}),
      // What predict/serve show beside every prediction (provenance.ts; not part of the model hash).
      ...{ summary: modelSummary(experiment, evaluations, noisyCorrect, es.bootstrap_samples, deriveSeed(seed, 'bootstrap', 'mean-noisy')) },
    };
    await saveModel(modelDir, predictor, metadata);
    const result: TrialResult = {
      bestEpoch: loop.bestEpoch,
      epochs: loop.epochs,
      modelDir,
      backend: backend.name,
      inference,
      evaluations,
      temperature,
    };
    await mkdir(opts.outDir, { recursive: true });
    await writeFile(path.join(opts.outDir, PREDICTIONS_JSON), JSON.stringify({ classes, sets: perImage }) + '\n');
    await writeFile(
      path.join(opts.outDir, EVALUATION_JSON),
      JSON.stringify({ params, seed, stoppedBy: loop.stoppedBy, embed: features.dir, ...result }, null, 2) + '\n',
    );
    return result;
  } finally {
    clf.model.dispose();
    nets.frozen?.dispose();
  }
}

/** Index of the largest value of each row of `probs` (row-major [n, k]). */
function argmaxRows(probs: Float32Array, k: number): number[] {
  const n = probs.length / k;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** Per-sample 0/1 correctness of the argmax of `probs` (row-major [n, k]). */
function correctness(probs: Float32Array, labels: Int32Array, k: number): Uint8Array {
  return Uint8Array.from(labels, (y, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
    return best === y ? 1 : 0;
  });
}

async function readSetIds(features: EmbedOutput, name: string): Promise<string[]> {
  return JSON.parse(await readFile(idsFile(features.dir, name), 'utf8')) as string[];
}

/** metadata.json `summary`: data sources and the clean / mean-noisy test accuracy with CIs. */
function modelSummary(experiment: Experiment, evaluations: EvaluationRecord[], noisy: SetCorrectness[], bootstrapSamples: number, seed: number): ModelSummary {
  const sources = dataSourcesOf(experiment, workspaceRoot());
  const clean = evaluations.find((e) => e.testSet === 'test');
  return {
    data: { sources, synthetic: sources.some((s) => s.synthetic) },
    test: {
      clean: clean ? { accuracy: clean.accuracy, ciLow: clean.ciLow, ciHigh: clean.ciHigh, n: clean.n } : null,
      meanNoisy: meanNoisyAccuracy(noisy, bootstrapSamples, seed),
    },
  };
}

/** Test sets of an embed output: the clean test split, then every noisy set drawn from the test split. */
export function testSetsOf(features: EmbedOutput): { name: string; noiseKind: string; severity: number }[] {
  return [{ name: 'test', noiseKind: 'none', severity: 0 }, ...features.evalSets().filter((s) => s.split === 'test')];
}

/** Checks that a saved model was trained on features like these (same backbone, cut, input, weights). */
export function checkModelMatchesFeatures(meta: ModelMetadata, features: EmbedOutput, modelDir: string): void {
  const m = features.manifest;
  const problems: string[] = [];
  if (meta.backbone.name !== m.backbone) problems.push(`backbone ${meta.backbone.name} ≠ ${m.backbone}`);
  if (meta.backbone.mode !== m.mode) problems.push(`mode ${meta.backbone.mode} ≠ ${m.mode}`);
  if ((meta.backbone.cutLayer ?? null) !== (m.cutLayer ?? null)) problems.push(`cut layer ${meta.backbone.cutLayer} ≠ ${m.cutLayer}`);
  if (meta.preprocessing.inputSize !== m.inputSize) problems.push(`input size ${meta.preprocessing.inputSize} ≠ ${m.inputSize}`);
  if ((meta.backbone.weights?.hash ?? null) !== (m.weights?.hash ?? null)) problems.push('backbone weights hash differs');
  if (meta.classes.join(',') !== m.classes.join(',')) problems.push(`classes ${meta.classes.join(',')} ≠ ${m.classes.join(',')}`);
  if (problems.length) {
    throw new UserError(`${modelDir}: the model does not match the experiment's features (${features.dir}): ${problems.join('; ')}`);
  }
}

/**
 * Evaluates a saved model folder on the clean and noisy test sets of an embed output, using the
 * nested classifier on cached features (or the whole model on pixels in full mode).
 */
export async function evaluateModelDir(opts: {
  modelDir: string;
  features: EmbedOutput;
  experiment: Experiment;
  seed?: number;
}): Promise<{ evaluations: EvaluationRecord[]; temperature: number; backend: string; inference: InferenceRecord }> {
  const { features, modelDir } = opts;
  const ms = resolveModelSettings(opts.experiment.config);
  const es = resolveEvaluateSettings(opts.experiment.config);
  const backend = await selectBackend(ms.backend);
  const { model, metadata, onnx } = await loadModel(modelDir);
  const engine = await selectInference(ms.inference, ms.threads);
  let forward: Forward | null = null;
  try {
    checkModelMatchesFeatures(metadata, features, modelDir);
    const pixels = features.manifest.kind === 'pixels';
    const inner = pixels ? model : (model.getLayer('classifier') as unknown as LayersModel);
    // On cached features only the nested classifier runs (exported now); on pixels, the folder's model.onnx.
    forward = await createForward(inner, engine, pixels && onnx ? { onnx, outputs: ['output'] } : {});
    const seed = opts.seed ?? metadata.seed;
    const evaluations: EvaluationRecord[] = [];
    for (const s of testSetsOf(features)) {
      const src = await cachedSource(features, s.name);
      evaluations.push(
        evaluateProbabilities({
          testSet: s.name,
          noiseKind: s.noiseKind,
          severity: s.severity,
          probs: await forwardSource(forward, src, 64),
          labels: src.labels,
          classes: metadata.classes,
          temperature: metadata.temperature,
          bootstrapSamples: es.bootstrap_samples,
          eceBins: es.ece_bins,
          seed: deriveSeed(seed, 'bootstrap', s.name),
        }),
      );
    }
    return { evaluations, temperature: metadata.temperature, backend: backend.name, inference: { engine: forward.engine, threads: forward.threads } };
  } finally {
    await forward?.dispose();
    model.dispose();
  }
}

export type { EmbedSetData };
