/**
 * One training trial (contract: ARCHITECTURE.md, "Model API used by tuning"): builds the networks
 * for the experiment's mode, trains with the trial's learning rate / dropout / batch size, restores
 * the best epoch, fits the softmax temperature on validation, evaluates on the clean test set and
 * every noisy test set of the embed output, and saves the predictor (image → calibrated class).
 */
import { copyFile, link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deriveSeed, hashObject, UserError, workspaceRoot, type Experiment } from '@mri-robust/core';
import { dataSettingsOf } from '@mri-robust/data';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { tf } from './backend/tf.ts';
import { selectBackend } from './backend/select.ts';
import { selectInference, type InferenceRecord } from './backend/inference.ts';
import { createForward, forwardSource, type Forward } from './onnx/forward.ts';
import { idsFile, type EmbedOutput, type EmbedSetInfo } from './io/embed-output.ts';
import { dataSourcesOf, meanNoisyAccuracy, type ModelSummary, type SetCorrectness } from './provenance.ts';
import { evaluateProbabilities, type EvaluationRecord } from './evaluate.ts';
import { fitTemperature, logitsFromProbabilities } from './metrics/index.ts';
import { loadModel, METADATA_JSON, saveModel, type ModelMetadata, type Preprocessing } from './save.ts';
import { evaluateSettingsOf, modelSettingsOf, trainSettingsOf } from './schema.ts';
import { balancedClassWeights, type BatchSource } from './train/data.ts';
import { buildClassifier, type Classifier } from './train/classifier.ts';
import { lossAndAccuracy, predictSource, trainLoop } from './train/loop.ts';
import { buildTrialNets } from './train/nets.ts';
import { concatSources, sourceForSet } from './train/sources.ts';
import { pairGroups } from './train/consistency.ts';
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
const PREDICTIONS_JSON = 'predictions.json';

/** Sets read by trials, cached per embed output (a sweep worker runs many trials on one output). */
const sourceCache = new WeakMap<EmbedOutput, Map<string, Promise<BatchSource>>>();
function cachedSource(features: EmbedOutput, name: string): Promise<BatchSource> {
  let m = sourceCache.get(features);
  if (!m) {
    m = new Map();
    sourceCache.set(features, m);
  }
  let p = m.get(name);
  if (!p) {
    p = sourceForSet(features, name);
    m.set(name, p);
    p.catch(() => m!.delete(name));
  }
  return p;
}

/** The preprocessing a predictor needs: decode as the ingest stage did, then as the embed stage did. */
function preprocessingOf(experiment: Experiment, features: EmbedOutput): Preprocessing {
  // Absent when the experiment was loaded without the data part.
  const image: Partial<Preprocessing['decode']> = dataSettingsOf(experiment).image ?? {};
  const m = features.manifest;
  if (!image.size || !image.channels || !image.fit) {
    throw new UserError(`${experiment.file}: data.image (size, channels, fit) is needed to record the predictor's preprocessing`);
  }
  return {
    decode: { size: image.size, channels: image.channels, fit: image.fit },
    inputSize: m.inputSize,
    inputChannels: m.inputChannels,
    scaling: m.preprocessing,
    ...(m.denoise ? { denoise: m.denoise } : {}),
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
  const ms = modelSettingsOf(experiment);
  const ts = trainSettingsOf(experiment);
  const es = evaluateSettingsOf(experiment);
  const manifest = features.manifest;
  const classes = manifest.classes;
  const backend = await selectBackend(ms.backend);

  const [train, val] = await Promise.all([cachedSource(features, 'train'), cachedSource(features, 'val')]);
  // Noisy validation sets: the ad-hoc ones (noise.eval) give valNoisyAccuracy; the benchmark's
  // (`noise.eval.benchmark` with val in noise.eval.splits) the mean accuracy over its sets, valCorruptionAccuracy.
  const valSets = features.evalSets().filter((s) => s.split === 'val');
  const valNoisySets = valSets.filter((s) => !s.benchmark);
  const valNoisy = valNoisySets.length ? concatSources(await Promise.all(valNoisySets.map((s) => cachedSource(features, s.name)))) : null;
  const valCorruption = await Promise.all(valSets.filter((s) => s.benchmark).map((s) => cachedSource(features, s.name)));

  if (ts.consistency > 0 && !pairGroups(train.ids ?? []).some((g) => g.length > 1)) {
    throw new UserError(
      `${experiment.file}: train.consistency needs noisy copies of the training images beside them (noise.train with mode: copies); the training set has none`,
    );
  }
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
      ema: ts.ema,
      consistency: ts.consistency,
      seed,
      trunkTraining: nets.trunkTraining,
      valNoisy,
      evalBatchSize: Math.max(params.batchSize, 64),
      onEpoch:
        valCorruption.length > 0
          ? (rec) => {
              // Mean over the benchmark's validation sets of each set's accuracy, with this epoch's weights.
              const accs = valCorruption.map(
                (src) => lossAndAccuracy(predictSource(clf, src, Math.max(params.batchSize, 64)), src.labels, classes.length).accuracy,
              );
              const withCorruption: TrialEpochRecord = { ...rec, valCorruptionAccuracy: accs.reduce((a, b) => a + b, 0) / accs.length };
              return opts.onEpoch ? opts.onEpoch(withCorruption) : 'continue';
            }
          : opts.onEpoch,
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
    const evaluated = await evaluateSets({ forward, features, sets: testSets.map((t) => t.name), classes, temperature, batchSize: evalBatch, seed, es });
    const evaluations = testSets.map((t) => evaluated.evaluations.get(t.name)!);
    // Per-image predictions of every test set (predictions.json): what paired tests between trials
    // or sweeps on the same images need (report:compare).
    const perImage = Object.fromEntries(testSets.map((t) => [t.name, evaluated.predictions.get(t.name)!]));
    const noisyCorrect = noisyCorrectness(perImage);
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
      JSON.stringify(
        { params, seed, stoppedBy: loop.stoppedBy, embed: features.dir, evaluationKeys: evaluationKeysOf(features, testSets, es), ...result },
        null,
        2,
      ) + '\n',
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

type EvaluateSettings = ReturnType<typeof evaluateSettingsOf>;
type SetPredictions = { ids: string[]; labels: number[]; predicted: number[] };

/** An epoch as a trial reports it: the loop's record plus, with the benchmark on validation, the mean accuracy over its sets. */
type TrialEpochRecord = EpochRecord & { valCorruptionAccuracy?: number };

/** Evaluation record and per-image predictions of each named set, one forward pass each (same for training and re-evaluation). */
async function evaluateSets(o: {
  forward: Forward;
  features: EmbedOutput;
  sets: string[];
  classes: string[];
  temperature: number;
  batchSize: number;
  seed: number;
  es: EvaluateSettings;
}): Promise<{ evaluations: Map<string, EvaluationRecord>; predictions: Map<string, SetPredictions> }> {
  const evaluations = new Map<string, EvaluationRecord>();
  const predictions = new Map<string, SetPredictions>();
  const info = new Map(testSetsOf(o.features).map((t) => [t.name, t]));
  for (const name of o.sets) {
    const s = info.get(name) ?? { name, noiseKind: o.features.info(name).noiseKind, severity: o.features.info(name).severity };
    const src = await cachedSource(o.features, name);
    const probs = await forwardSource(o.forward, src, o.batchSize);
    predictions.set(name, { ids: await readSetIds(o.features, name), labels: Array.from(src.labels), predicted: argmaxRows(probs, o.classes.length) });
    evaluations.set(
      name,
      evaluateProbabilities({
        testSet: name,
        noiseKind: s.noiseKind,
        severity: s.severity,
        probs,
        labels: src.labels,
        classes: o.classes,
        temperature: o.temperature,
        bootstrapSamples: o.es.bootstrap_samples,
        eceBins: o.es.ece_bins,
        seed: deriveSeed(o.seed, 'bootstrap', name),
      }),
    );
  }
  return { evaluations, predictions };
}

/** Per-image 0/1 correctness of every noisy test set (all sets but the clean `test`), in order. */
function noisyCorrectness(perImage: Record<string, SetPredictions>): SetCorrectness[] {
  return Object.entries(perImage)
    .filter(([name]) => name !== 'test')
    .map(([, p]) => ({ ids: p.ids, correct: Uint8Array.from(p.labels, (y, i) => (p.predicted[i] === y ? 1 : 0)) }));
}

/**
 * What a set's evaluation depends on besides the model and the trial seed: the set's features (its
 * part key in the embed output) and the evaluate settings. evaluation.json records it per set, so a
 * re-evaluation keeps the records of unchanged sets as they are. Sets of older outputs have no key.
 */
function evaluationKeysOf(features: EmbedOutput, sets: { name: string }[], es: EvaluateSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name } of sets) {
    const key = (features.info(name) as EmbedSetInfo).key;
    if (key) out[name] = hashObject({ set: key, bootstrap_samples: es.bootstrap_samples, ece_bins: es.ece_bins }).slice(0, 16);
  }
  return out;
}

/** The parts of a trial folder's evaluation.json that a re-evaluation reads. */
interface SavedEvaluation {
  params: TrialParams;
  seed: number;
  stoppedBy?: unknown;
  evaluationKeys?: Record<string, string>;
  bestEpoch: number;
  epochs: TrialEpochRecord[];
  backend: string;
  evaluations: EvaluationRecord[];
  temperature: number;
}

/** Hard link (no copy) where the file system allows it. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/**
 * Reuses the model a trial trained earlier (`fromDir`, a trial folder of this or another sweep with
 * the same training key) for a trial of a new sweep whose experiment differs only in its test sets:
 * the model files are linked into `<outDir>/model` (metadata.json rewritten with the new provenance
 * and summary; the model hash does not cover them), each test set is evaluated exactly as trainTrial
 * evaluates it — or, when its evaluation key is unchanged, its record and predictions are kept —
 * and evaluation.json / predictions.json are written for the new set list. Nothing is trained.
 */
export async function reevaluateTrial(opts: {
  experiment: Experiment;
  features: EmbedOutput;
  fromDir: string;
  outDir: string;
  provenance?: { sweep: string; trial: string; experimentHash: string };
}): Promise<TrialResult & { reused: string[]; evaluated: string[] }> {
  const { experiment, features, fromDir, outDir } = opts;
  const es = evaluateSettingsOf(experiment);
  const ms = modelSettingsOf(experiment);
  let saved: SavedEvaluation;
  let savedPredictions: { sets?: Record<string, SetPredictions> };
  try {
    saved = JSON.parse(await readFile(path.join(fromDir, EVALUATION_JSON), 'utf8')) as SavedEvaluation;
    savedPredictions = JSON.parse(await readFile(path.join(fromDir, PREDICTIONS_JSON), 'utf8')) as typeof savedPredictions;
  } catch (e) {
    throw new UserError(`${fromDir}: cannot read the saved trial results (${(e as Error).message})`);
  }
  const fromModel = path.join(fromDir, 'model');
  const { model, metadata, onnx } = await loadModel(fromModel);
  let forward: Forward | null = null;
  try {
    checkModelMatchesFeatures(metadata, features, fromModel);
    const classes = metadata.classes;
    const testSets = testSetsOf(features);
    const keys = evaluationKeysOf(features, testSets, es);
    const savedEval = new Map(saved.evaluations.map((e) => [e.testSet, e]));
    const keep = testSets
      .map((t) => t.name)
      .filter((n) => keys[n] !== undefined && saved.evaluationKeys?.[n] === keys[n] && savedEval.has(n) && savedPredictions.sets?.[n]);
    const todo = testSets.map((t) => t.name).filter((n) => !keep.includes(n));
    let inference: InferenceRecord = { engine: 'onnxruntime', threads: 0 };
    const evaluated = { evaluations: new Map<string, EvaluationRecord>(), predictions: new Map<string, SetPredictions>() };
    if (todo.length > 0) {
      const pixels = features.manifest.kind === 'pixels';
      const inner = pixels ? model : (model.getLayer('classifier') as unknown as LayersModel);
      await selectBackend(ms.backend);
      const engine = await selectInference(ms.inference, ms.threads);
      forward = await createForward(inner, engine, pixels && onnx ? { onnx, outputs: ['output'] } : {});
      inference = { engine: forward.engine, threads: forward.threads };
      const got = await evaluateSets({
        forward,
        features,
        sets: todo,
        classes,
        temperature: metadata.temperature,
        batchSize: Math.max(saved.params.batchSize, 64),
        seed: saved.seed,
        es,
      });
      for (const [k, v] of got.evaluations) evaluated.evaluations.set(k, v);
      for (const [k, v] of got.predictions) evaluated.predictions.set(k, v);
    }
    const evaluations = testSets.map((t) => evaluated.evaluations.get(t.name) ?? savedEval.get(t.name)!);
    const perImage = Object.fromEntries(testSets.map((t) => [t.name, evaluated.predictions.get(t.name) ?? savedPredictions.sets![t.name]]));

    // The model folder: the same files (linked), metadata.json naming the new sweep and trial.
    const modelDir = path.join(outDir, 'model');
    await rm(modelDir, { recursive: true, force: true });
    await mkdir(modelDir, { recursive: true });
    for (const f of await readdir(fromModel)) if (f !== METADATA_JSON) await linkOrCopy(path.join(fromModel, f), path.join(modelDir, f));
    const meta: ModelMetadata = {
      ...metadata,
      experiment: { name: experiment.name, hash: experiment.hash, file: experiment.file },
      ...(opts.provenance ? { provenance: opts.provenance } : {}),
      ...{
        summary: modelSummary(experiment, evaluations, noisyCorrectness(perImage), es.bootstrap_samples, deriveSeed(saved.seed, 'bootstrap', 'mean-noisy')),
      },
    };
    await writeFile(path.join(modelDir, METADATA_JSON), JSON.stringify(meta, null, 2) + '\n');
    const result: TrialResult = {
      bestEpoch: saved.bestEpoch,
      epochs: saved.epochs,
      modelDir,
      backend: saved.backend,
      inference,
      evaluations,
      temperature: metadata.temperature,
    };
    await writeFile(path.join(outDir, PREDICTIONS_JSON), JSON.stringify({ classes, sets: perImage }) + '\n');
    await writeFile(
      path.join(outDir, EVALUATION_JSON),
      JSON.stringify(
        { params: saved.params, seed: saved.seed, stoppedBy: saved.stoppedBy, embed: features.dir, evaluationKeys: keys, reusedFrom: fromDir, ...result },
        null,
        2,
      ) + '\n',
    );
    return { ...result, reused: keep, evaluated: todo };
  } finally {
    await forward?.dispose();
    model.dispose();
  }
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
function testSetsOf(features: EmbedOutput): { name: string; noiseKind: string; severity: number }[] {
  return [{ name: 'test', noiseKind: 'none', severity: 0 }, ...features.evalSets().filter((s) => s.split === 'test')];
}

/** Checks that a saved model was trained on features like these (same backbone, cut, input, weights). */
function checkModelMatchesFeatures(meta: ModelMetadata, features: EmbedOutput, modelDir: string): void {
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
  const ms = modelSettingsOf(opts.experiment);
  const es = evaluateSettingsOf(opts.experiment);
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
