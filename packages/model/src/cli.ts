/**
 * CLI of the model package (Nx targets model:embed, model:train, model:evaluate, model:predict):
 *   embed    [--experiment FILE]                      ingest → noise → augment → embed (cached)
 *   train    [--experiment FILE] [--out DIR] [--lr X --dropout X --batch-size N --epochs N]
 *   evaluate [--experiment FILE] [--model DIR[,DIR…]] [--tta none|hflip] [--compare-to DIR[,DIR…]]
 *            [--baseline auto|none] [--out FILE] [--batch-size N]
 *            one model or an ensemble (mean of the members' calibrated probabilities), optionally
 *            with horizontal-flip TTA, scored from the pixels of the clean and every noisy test set
 *            (model.onnx on ONNX Runtime): accuracy + CI per set, CE/mCE against the fixed baseline
 *            when the experiment has benchmark sets, paired tests against --compare-to (no TTA)
 *            → <first model's parent>/evaluation-pixels[-hflip][-ensembleN].json
 *   predict  --model DIR --image FILE [--frame N] [--experiment FILE] [--json]
 *            prints the class, calibrated probabilities and the model's provenance (experiment,
 *            sweep/trial, data sources, clean and mean-noisy test accuracy); warns on stderr when
 *            the model was trained on synthetic phantoms. FILE: JPEG/PNG/BMP/TIFF/WebP or DICOM.
 *   predict  ... --gradcam OUT.png [--cam grad-cam|layer-cam]  also writes the class-activation overlay (gradcam/)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  defaultExperimentFile,
  loadExperiment,
  parseFlags,
  runMain,
  stringFlag,
  UserError,
  type CorruptionSummary,
  type Experiment,
  type PairedComparison,
  type ParsedArgs,
} from '@mri-robust/core';
import { dataSettingsOf } from '@mri-robust/data';
import { openEmbedOutput } from './io/embed-output.ts';
import { parseModelList, TTA_MODES, type Tta } from './ensemble.ts';
import { evaluateFromPixels } from './evaluate-pixels.ts';
import { embedMain, ensureEmbed, EMBED_SCHEMA_PARTS } from './stage-embed.ts';
import { modelSettingsOf, trainSettingsOf } from './schema.ts';
import { EVALUATION_JSON, trainTrial } from './trial.ts';
import { loadPredictor, predictWith, PREDICT_MAX_PIXELS, type LoadedPredictor } from './predict.ts';
import { camMethodOf, explainImage, type CamMethod } from './gradcam/explain.ts';
import { ImageInputError } from './prepare-image.ts';
import { provenanceLines, provenanceOf, SYNTHETIC_WARNING } from './provenance.ts';
import type { EvaluationRecord } from './evaluate.ts';
import type { Preprocessing } from './save.ts';
import { BACKBONE_SPECS, isPretrainedBackbone } from './nets/backbones.ts';
import { PREPROCESSING } from './nets/preprocess.ts';
import { denoiseOf } from './nets/denoise.ts';

const USAGE = `usage: cli.ts <embed|train|evaluate|predict> [--experiment FILE] ...
  embed    [--experiment FILE]
  train    [--experiment FILE] [--out DIR] [--lr X] [--dropout X] [--batch-size N] [--epochs N]
  evaluate [--experiment FILE] [--model DIR[,DIR...]] [--tta none|hflip] [--compare-to DIR[,DIR...]] [--baseline auto|none] [--out FILE] [--batch-size N]
  predict  --model DIR --image FILE [--frame N] [--experiment FILE] [--json] [--gradcam OUT.png [--cam grad-cam|layer-cam]]`;

function numberFlag(args: ParsedArgs, name: string): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UserError(`--${name} must be a number, got '${v}'`);
  return n;
}

function experimentFrom(args: ParsedArgs): Experiment {
  return loadExperiment(stringFlag(args, 'experiment') ?? defaultExperimentFile(), EMBED_SCHEMA_PARTS);
}

/** Default folder of `model:train` for an experiment: <runs>/models/<name>. */
function defaultTrainDir(experiment: Experiment): string {
  return path.join(experiment.runsDir, 'models', experiment.name);
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '  n/a');

function formatEvaluations(evals: EvaluationRecord[]): string {
  const head = `${'test set'.padEnd(26)} ${'n'.padStart(5)}  ${'accuracy [95% CI]'.padEnd(22)} macro-F1   ECE → calibrated`;
  const rows = evals.map(
    (e) =>
      `${e.testSet.padEnd(26)} ${String(e.n).padStart(5)}  ${`${pct(e.accuracy)} [${pct(e.ciLow)}, ${pct(e.ciHigh)}]`.padEnd(22)} ${e.macroF1
        .toFixed(3)
        .padStart(8)}   ${e.ece.toFixed(3)} → ${e.eceCalibrated.toFixed(3)}`,
  );
  return `${[head, ...rows].join('\n')}\n`;
}

async function train(argv: string[]): Promise<void> {
  const args = parseFlags(argv, { experiment: 'string', out: 'string', lr: 'string', dropout: 'string', 'batch-size': 'string', epochs: 'string' });
  const base = experimentFrom(args);
  const ts = trainSettingsOf(base);
  const epochs = numberFlag(args, 'epochs');
  const experiment: Experiment = epochs ? { ...base, config: { ...base.config, train: { ...ts, epochs } } } : base;
  const embed = await ensureEmbed(experiment);
  const features = await openEmbedOutput(embed.dir);
  const outDir = path.resolve(stringFlag(args, 'out') ?? defaultTrainDir(experiment));
  const params = {
    learningRate: numberFlag(args, 'lr') ?? ts.learning_rate,
    dropout: numberFlag(args, 'dropout') ?? ts.dropout,
    batchSize: numberFlag(args, 'batchSize') ?? ts.batch_size,
  };
  const mode = modelSettingsOf(experiment).mode;
  process.stderr.write(`[train] mode ${mode}, ${features.manifest.kind} ${JSON.stringify(features.manifest.sampleShape)}, params ${JSON.stringify(params)}\n`);
  const r = await trainTrial({
    experiment,
    features,
    params,
    seed: experiment.seed,
    outDir,
    progress: true,
    onEpoch: (e) => {
      process.stderr.write(
        `[train] epoch ${e.epoch}: loss ${e.trainLoss.toFixed(4)} acc ${pct(e.trainAccuracy)} | val loss ${e.valLoss.toFixed(4)} acc ${pct(e.valAccuracy)}` +
          `${e.valNoisyAccuracy !== undefined ? ` noisy ${pct(e.valNoisyAccuracy)}` : ''} | lr ${e.learningRate.toExponential(2)} | ${e.seconds.toFixed(1)} s\n`,
      );
      return 'continue';
    },
  });
  process.stdout.write(formatEvaluations(r.evaluations));
  process.stdout.write(`best epoch ${r.bestEpoch}/${r.epochs.length}, temperature ${r.temperature.toFixed(3)}, backend ${r.backend}\n`);
  process.stdout.write(`model: ${r.modelDir}\nresults: ${path.join(outDir, EVALUATION_JSON)}\n`);
}

async function evaluate(argv: string[]): Promise<void> {
  const args = parseFlags(argv, {
    experiment: 'string',
    model: 'string',
    tta: 'string',
    'compare-to': 'string',
    baseline: 'string',
    out: 'string',
    'batch-size': 'string',
  });
  const experiment = experimentFrom(args);
  const models = parseModelList(stringFlag(args, 'model') ?? path.join(defaultTrainDir(experiment), 'model')).map((d) => path.resolve(d));
  const tta = stringFlag(args, 'tta') ?? 'none';
  if (!(TTA_MODES as readonly string[]).includes(tta)) throw new UserError(`--tta ${tta}: expected one of ${TTA_MODES.join(', ')}`);
  const baselineFlag = stringFlag(args, 'baseline') ?? 'auto';
  if (baselineFlag !== 'auto' && baselineFlag !== 'none') throw new UserError(`--baseline ${baselineFlag}: expected auto or none`);
  const compare = stringFlag(args, 'compareTo');
  const batchSize = numberFlag(args, 'batchSize') ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`--batch-size ${batchSize}: expected an integer ≥ 1`);
  const r = await evaluateFromPixels({
    experiment,
    models,
    tta: tta as Tta,
    compareTo: compare ? parseModelList(compare, '--compare-to').map((d) => path.resolve(d)) : undefined,
    baseline: baselineFlag === 'auto',
    batchSize,
  });
  const suffix = `${tta === 'hflip' ? '-hflip' : ''}${models.length > 1 ? `-ensemble${models.length}` : ''}`;
  const out = path.resolve(stringFlag(args, 'out') ?? path.join(path.dirname(models[0]), `evaluation-pixels${suffix}.json`));
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`${models.length > 1 ? `ensemble of ${models.length} (${r.combination})` : models[0]}, tta ${tta}\n`);
  process.stdout.write(formatEvaluations(r.evaluations));
  if (r.corruption) process.stdout.write(formatCorruption(r.corruption, r.baseline?.name ?? '?'));
  if (r.compareTo) {
    process.stdout.write(`\ncompared with ${r.compareTo.models.join(', ')} (no TTA), paired on the same images:\n`);
    process.stdout.write(formatPaired(r.compareTo.paired));
    if (r.compareTo.corruption) process.stdout.write(formatCorruption(r.compareTo.corruption, r.baseline?.name ?? '?'));
  }
  process.stdout.write(
    `${r.images} images scored in ${r.scoringSeconds.toFixed(1)} s (${r.inference.engine}, ${r.inference.threads} threads); wall time ${r.seconds.toFixed(1)} s\nresults: ${out}\n`,
  );
}

/** CE / mCE lines of a corruption summary. */
function formatCorruption(c: CorruptionSummary & { benchmark: string }, baseline: string): string {
  const kinds = Object.keys(c.ce).sort();
  const rows = kinds.map(
    (k) => `  ${k.padEnd(22)} CE ${c.ce[k].toFixed(3)}   relative CE ${c.relativeCe[k] === undefined ? '  n/a' : c.relativeCe[k].toFixed(3)}`,
  );
  const skipped =
    (c.skipped.length ? `  (left out: ${c.skipped.join(', ')})\n` : '') +
    (c.relativeSkipped.length ? `  (no relative CE where the baseline loses < 1 point on average: ${c.relativeSkipped.join(', ')})\n` : '');
  return `${c.benchmark}: mCE ${c.mce.toFixed(3)}, relative mCE ${c.relativeMce.toFixed(3)} (baseline ${baseline})\n${rows.join('\n')}\n${skipped}`;
}

/** One line per test set of a paired comparison (A = the evaluated model, B = --compare-to). */
function formatPaired(rows: (PairedComparison & { testSet: string })[]): string {
  const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
  return `${rows
    .map(
      (p) =>
        `  ${p.testSet.padEnd(26)} ${pct(p.accuracyA)} vs ${pct(p.accuracyB)}  Δ ${pts(p.difference)} [${pts(p.ciLow)}, ${pts(p.ciHigh)}]  McNemar p ${p.pValue.toPrecision(2)}  ${p.verdict}`,
    )
    .join('\n')}\n`;
}

async function predict(argv: string[]): Promise<void> {
  const args = parseFlags(argv, { model: 'string', image: 'string', experiment: 'string', json: 'boolean', gradcam: 'string', frame: 'string', cam: 'string' });
  const modelDir = stringFlag(args, 'model');
  const image = stringFlag(args, 'image');
  if (!modelDir || !image) throw new UserError(`predict needs --model DIR and --image FILE\n${USAGE}`);
  const frameFlag = numberFlag(args, 'frame');
  if (frameFlag !== undefined && !(Number.isInteger(frameFlag) && frameFlag >= 0))
    throw new UserError(`--frame must be a frame index ≥ 0 (0-based), got '${stringFlag(args, 'frame')}'`);
  const frame = frameFlag;
  // Grad-CAM at out_relu (one ONNX Runtime pass) unless --cam layer-cam (block_12_add, a tfjs gradient pass).
  const cam = camMethodOf(stringFlag(args, 'cam'));
  if (args.cam !== undefined && !args.gradcam) throw new UserError('--cam chooses the map of --gradcam OUT.png: give --gradcam too');
  let expected: Preprocessing | undefined;
  const expFile = stringFlag(args, 'experiment');
  if (expFile) {
    // The preprocessing this experiment would give a model: its data.image and the model section.
    const experiment = loadExperiment(expFile, EMBED_SCHEMA_PARTS);
    const ms = modelSettingsOf(experiment);
    const img = dataSettingsOf(experiment).image;
    expected = {
      decode: { size: img.size, channels: img.channels, fit: img.fit },
      inputSize: ms.input_size,
      inputChannels: ms.backbone === 'cnn' ? img.channels : 3,
      scaling: isPretrainedBackbone(ms.backbone) ? BACKBONE_SPECS[ms.backbone].scaling : PREPROCESSING,
      ...(ms.denoise === 'none' ? {} : { denoise: denoiseOf(ms.denoise) }),
    };
  }
  const imageFile = path.resolve(image);
  const pred = await loadPredictor(path.resolve(modelDir), { expected });
  try {
    // Where the model comes from, before anything it says (a phantom model warns on stderr).
    const prov = provenanceOf(pred.metadata);
    if (prov.synthetic) process.stderr.write(`warning: ${modelDir}: ${SYNTHETIC_WARNING}\n`);
    const p = await predictWith(pred, imageFile, { frame });
    const gradcamOut = stringFlag(args, 'gradcam');
    if (gradcamOut) {
      const g = await explainFile(pred, imageFile, frame, cam);
      const file = path.resolve(gradcamOut);
      await writeFile(file, g.overlayPng);
      process.stderr.write(
        `grad-cam of '${g.class}' (${g.cam.method}, layer ${g.cam.layerName}, ${g.cam.height}×${g.cam.width}, shown ${g.display.width}×${g.display.height}) → ${file}\n`,
      );
    }
    if (args.json === true) {
      process.stdout.write(`${JSON.stringify({ ...p, provenance: prov }, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${p.file}\nclass: ${p.class}\ncalibrated probabilities (T = ${p.temperature.toFixed(3)}):\n`);
    for (const [c, v] of Object.entries(p.probabilities)) process.stdout.write(`  ${c.padEnd(12)} ${v.toFixed(4)}\n`);
    process.stdout.write(
      `model provenance:\n${provenanceLines(prov)
        .map((l) => `  ${l}`)
        .join('\n')}\n`,
    );
    if (prov.synthetic) process.stdout.write(`  WARNING: ${SYNTHETIC_WARNING}\n`);
  } finally {
    await pred.dispose();
  }
}

/** The overlay of a local file (any format data's decoder reads; `frame` of a multi-frame DICOM). */
async function explainFile(pred: LoadedPredictor, file: string, frame: number | undefined, method: CamMethod) {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read the image (${(e as Error).message})`);
  }
  try {
    return await explainImage(pred, bytes, { maxPixels: PREDICT_MAX_PIXELS, anyFormat: true, frame, method });
  } catch (err) {
    if (err instanceof ImageInputError) throw new UserError(`${file}: ${err.message}`);
    throw err;
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'embed':
      return embedMain(rest);
    case 'train':
      return train(rest);
    case 'evaluate':
      return evaluate(rest);
    case 'predict':
      return predict(rest);
    default:
      throw new UserError(`${cmd ? `unknown subcommand '${cmd}'` : 'no subcommand'}\n${USAGE}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) runMain(() => main(process.argv.slice(2)));
