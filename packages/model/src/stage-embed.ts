/**
 * `model:embed` stage. CLI entry for the model package's cli.ts: `embedMain(argv)` (argv = the
 * flags after the subcommand, e.g. ['--experiment=experiments/brain-mri.yaml']); it ensures the
 * upstream stages (ingest → noise → augment) and then runs `runEmbed`.
 *
 * Reads the `model` section (backbone, weights, input_size, mode, cut_layer, features, backend,
 * inference, embed_batch_size), the augment output (train/val/test splits) and the noise stage's
 * eval sets (sets.json), and writes runs/cache/embed/<key>/ as described in io/embed-output.ts
 * (assembled from per-set caches, see runEmbed):
 * - mode head (any pretrained backbone, nets/backbones.ts): pooled backbone embeddings [N, D], or
 *   with `model.features` the concatenated pooled activations of those layers (one forward pass);
 * - mode partial: activations at cut_layer [N, h, w, c] (default: the backbone's defaultCutLayer);
 * - mode full, or backbone cnn: no features (kind 'pixels'), only labels/ids and image-set dirs.
 * Pixels are scaled as the backbone expects (BACKBONE_SPECS[name].scaling). The key hashes the
 * weights (tfjs topology + bytes, or the .h5 file), the scaling, input size, mode/cut/features and
 * the content of each set, so features are computed once per backbone and set. The backbone
 * runs inference only (ONNX Runtime or tfjs predict()).
 */
import { copyFile, link, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createProgress,
  defaultExperimentFile,
  loadExperiment,
  openImageSet,
  parseFlags,
  publishNxOutput,
  readStageMeta,
  runStage,
  stageKey,
  stringFlag,
  UserError,
  writeArray,
  type Experiment,
  type ImageSet,
  codeHash,
  ensurePipeline,
  hashObject,
  type StageMeta,
  type StageRunner,
} from '@mri-robust/core';
import { dataSchemaPart, ingestRunner } from '@mri-robust/data';
import { noiseRunner, noiseSchemaPart, SETS_FILE, type NoiseSets } from '@mri-robust/noise';
import { augmentRunner, augmentSchemaPart } from '@mri-robust/augment';
import { modelSchemaParts, modelSettingsOf, type ModelSettings } from './schema.ts';
import { selectBackend } from './backend/select.ts';
import { selectInference, type InferenceRecord } from './backend/inference.ts';
import { createForward, type Forward } from './onnx/forward.ts';
import { tf } from './backend/tf.ts';
import {
  BACKBONE_SPECS,
  backboneWeightsHash,
  backboneWeightsLocation,
  isPretrainedBackbone,
  largestActivationBytes,
  loadExperimentBackbone,
  type PretrainedBackbone,
} from './nets/backbones.ts';
import { multiLayerFeatures } from './nets/features.ts';
import { splitAtLayer } from './nets/mobilenet.ts';
import { imagesToTensor, PREPROCESSING, type PixelScaling } from './nets/preprocess.ts';
import { denoiseOf, type Denoise } from './nets/denoise.ts';
import { EMBED_FORMAT, EMBED_MANIFEST, featuresFile, idsFile, labelsFile, type EmbedManifest, type EmbedSetInfo, type FeatureKind } from './io/embed-output.ts';

const EMBED_STAGE = 'embed';

/** Per-call budget for live activations; wasm has 4 GiB in all (out of memory kills the process). */
const ACTIVATION_BUDGET_BYTES = 1024 ** 3;

export interface EmbedUpstream {
  /** Augment stage output folder (image set with train/val/test records). */
  augmentDir: string;
  /** Noise stage output folder (sets.json + eval/<id>/ image sets). */
  noiseDir: string;
  /** Upstream keys; read from each folder's stage.json when absent. */
  augmentKey?: string;
  noiseKey?: string;
}

export interface EmbedContext {
  log?: (line: string) => void;
}

export interface EmbedResult {
  key: string;
  dir: string;
  hit: boolean;
  sets: EmbedSetInfo[];
  /** The training-side key (embed.json `trainingKey`): unchanged by a noisy test set added or changed. */
  trainingKey: string;
}

interface EmbedPlan {
  kind: FeatureKind;
  settings: ModelSettings;
  /** The pretrained backbone (null for cnn). */
  backbone: PretrainedBackbone | null;
  weights: { location: string; hash: string } | null;
  scaling: PixelScaling;
  /** model.denoise (null = none). */
  denoise: Denoise | null;
  cutLayer: string | null;
  /** Head mode: layers whose pooled activations are concatenated (null: the pooled output). */
  features: string[] | null;
}

async function plan(experiment: Experiment): Promise<EmbedPlan> {
  const settings = modelSettingsOf(experiment);
  const partial = settings.mode === 'partial';
  if (settings.features && settings.mode !== 'head') {
    throw new UserError(`${experiment.file}: model.features applies to mode head only (mode is ${settings.mode}); remove it or set mode: head`);
  }
  if (settings.backbone === 'cnn') {
    if (settings.features) throw new UserError(`${experiment.file}: model.features needs a pretrained backbone (backbone is cnn)`);
    return {
      kind: 'pixels',
      settings,
      backbone: null,
      weights: null,
      scaling: PREPROCESSING,
      denoise: denoiseOf(settings.denoise),
      cutLayer: null,
      features: null,
    };
  }
  if (!isPretrainedBackbone(settings.backbone)) throw new UserError(`${experiment.file}: model.backbone '${settings.backbone}' is unknown`);
  const name = settings.backbone;
  const spec = BACKBONE_SPECS[name];
  const location = backboneWeightsLocation(experiment, settings);
  let hash: string;
  try {
    hash = await backboneWeightsHash(name, location);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${experiment.file}: model.weights: ${e.message}`);
    throw new UserError(`${experiment.file}: model.weights '${settings.weights}' cannot be read (${(e as Error).message})`);
  }
  return {
    kind: settings.mode === 'full' ? 'pixels' : partial ? 'activation' : 'embedding',
    settings,
    backbone: name,
    weights: { location, hash },
    scaling: spec.scaling,
    denoise: denoiseOf(settings.denoise),
    cutLayer: partial ? (settings.cut_layer ?? spec.defaultCutLayer) : null,
    features: settings.mode === 'head' ? (settings.features ?? null) : null,
  };
}

/**
 * Everything the features of one image depend on besides its pixels; the backend, the inference
 * engine (ONNX Runtime and tfjs agree within 1e-4 here, see test/onnx-equivalence.test.ts) and the
 * batch size are deliberately left out.
 */
function featureSettings(p: EmbedPlan): unknown {
  return {
    kind: p.kind,
    backbone: p.settings.backbone,
    mode: p.settings.mode,
    input_size: p.settings.input_size,
    cut_layer: p.cutLayer,
    features: p.features,
    weights: p.weights?.hash ?? null,
    preprocessing: p.scaling,
    denoise: p.denoise,
  };
}

async function upstreamKey(dir: string, given: string | undefined, what: string): Promise<string> {
  if (given) return given;
  try {
    return (await readStageMeta(dir)).key;
  } catch {
    throw new UserError(`${what} folder ${dir} has no stage.json (run the ${what} stage first)`);
  }
}

async function readNoiseSets(noiseDir: string): Promise<NoiseSets> {
  const setsFile = path.join(noiseDir, SETS_FILE);
  try {
    return JSON.parse(await readFile(setsFile, 'utf8')) as NoiseSets;
  } catch (e) {
    throw new UserError(`${setsFile}: cannot read the noise stage's set list (${(e as Error).message})`);
  }
}

type NoiseEvalSet = NoiseSets['eval'][number];

/**
 * Content key of each noise evaluation set: its spec and the sha256 of every file of its folder as the
 * noise stage recorded them (stage.json `files`), so an unchanged set keeps its key when another set
 * is added or changed (the noise folder's own key changes). A folder without content records falls
 * back to the noise key (always rebuilt with it).
 */
async function evalSetContentKeys(noiseDir: string, noiseKey: string, sets: readonly NoiseEvalSet[]): Promise<Map<string, string>> {
  let files: StageMeta['files'];
  try {
    files = (await readStageMeta(noiseDir)).files;
  } catch {
    files = undefined;
  }
  const out = new Map<string, string>();
  for (const e of sets) {
    const prefix = `${e.dir.replace(/\/+$/, '')}/`;
    const content = files
      ? Object.keys(files)
          .filter((f) => f.startsWith(prefix))
          .sort()
          .map((f) => [f.slice(prefix.length), files[f].sha256])
      : [];
    const spec = { id: e.id, split: e.split, kind: e.kind, severity: e.severity, snr: e.snr, params: e.params, benchmark: e.benchmark ?? null };
    out.set(e.id, hashObject(content.length > 0 ? { spec, content } : { spec, noise: noiseKey }).slice(0, 16));
  }
  return out;
}

/** Cache folders of the parts of an embed output (runs/cache/<stage>/<key>/). */
const EMBED_BASE_STAGE = 'embed-base';
const EMBED_SET_STAGE = 'embed-set';
/** `part.json` of a part folder: its sets and what the features look like. */
const PART_FILE = 'part.json';

interface PartInfo {
  sets: Omit<EmbedSetInfo, 'imageSetDir'>[];
  classes: string[];
  sampleShape: number[];
  inputChannels: number;
  backend: string;
  inference: InferenceRecord | null;
  imagesPerSecond: number | null;
  features: EmbedManifest['features'];
}

/** The keys of an embed output: one per part, the training-side key, and the output's own key. */
interface EmbedKeys {
  key: string;
  /** Key of the clean splits (train, val, test of the augment output). */
  base: string;
  /** Key of each noise eval set's features. */
  sets: Map<string, string>;
  /**
   * What trials train and are selected on: the clean splits and every eval set not drawn from the
   * test split (noisy validation sets feed the per-epoch objective). Test-only sets are left out, so
   * adding or changing a noisy test set keeps it.
   */
  training: string;
}

function embedKeys(p: EmbedPlan, augmentKey: string, noise: NoiseSets, contentKeys: Map<string, string>): EmbedKeys {
  const code = codeHash('embed');
  const settings = featureSettings(p);
  const base = stageKey({ stage: EMBED_BASE_STAGE, code, settings, upstream: { augment: augmentKey } });
  const sets = new Map<string, string>();
  for (const e of noise.eval ?? []) sets.set(e.id, stageKey({ stage: EMBED_SET_STAGE, code, settings, set: contentKeys.get(e.id) }));
  const training = stageKey({ base, sets: (noise.eval ?? []).filter((e) => e.split !== 'test').map((e) => [e.id, sets.get(e.id)]) });
  const key = stageKey({ stage: EMBED_STAGE, code, settings, parts: { base, sets: [...sets.entries()] } });
  return { key, base, sets, training };
}

interface SetSource {
  info: Omit<EmbedSetInfo, 'n'>;
  set: ImageSet;
  indices: number[];
}

function baseSources(aug: ImageSet): SetSource[] {
  return (['train', 'val', 'test'] as const).map((split) => ({
    info: { name: split, split, noiseKind: 'none', severity: 0, imageSetDir: aug.dir },
    set: aug,
    indices: aug.indicesWhere((r) => r.split === split),
  }));
}

function evalSource(e: NoiseEvalSet, dir: string, set: ImageSet): SetSource {
  return {
    info: { name: e.id, split: e.split, noiseKind: e.kind, severity: e.severity, imageSetDir: dir, benchmark: e.benchmark ?? null },
    set,
    indices: set.records.map((_, i) => i),
  };
}

/**
 * Images per predict() call: the configured batch, capped so that about three of the network's
 * largest activations (`bytesPerImage` each, see largestActivationBytes) stay within budget.
 */
function embedBatchSize(requested: number, bytesPerImage: number): number {
  return Math.max(1, Math.min(requested, Math.floor(ACTIVATION_BUDGET_BYTES / (3 * Math.max(1, bytesPerImage)))));
}

async function writeLabelsAndIds(dir: string, src: SetSource): Promise<void> {
  const classes = src.set.header.classes;
  const labels = new Int32Array(src.indices.length);
  const ids: string[] = [];
  src.indices.forEach((idx, i) => {
    const r = src.set.records[idx];
    const c = classes.indexOf(r.label);
    if (c < 0) throw new UserError(`${src.set.dir}: record ${r.id} has label '${r.label}' not in classes [${classes}]`);
    labels[i] = c;
    ids.push(r.id);
  });
  await writeArray(labelsFile(dir, src.info.name), labels, [labels.length]);
  await mkdir(path.dirname(idsFile(dir, src.info.name)), { recursive: true });
  await writeFile(idsFile(dir, src.info.name), JSON.stringify(ids));
}

async function computeFeatures(
  dir: string,
  sources: SetSource[],
  forward: Forward,
  sampleShape: number[],
  p: EmbedPlan,
  activationBytes: number,
  log: (line: string) => void,
): Promise<number> {
  const { input_size: inputSize } = p.settings;
  const requested = p.settings.embed_batch_size;
  // The cap protects tfjs wasm's 4 GiB; ONNX Runtime runs in native memory.
  const batch = forward.engine === 'tfjs' ? embedBatchSize(requested, activationBytes) : requested;
  if (batch < requested) log(`[embed] batch capped at ${batch} (from ${requested}) to stay within memory`);
  const rowSize = sampleShape.reduce((a, b) => a * b, 1);
  const total = sources.reduce((a, s) => a + s.indices.length, 0);
  const engine = forward.engine === 'onnxruntime' ? `onnxruntime ${forward.threads} thread${forward.threads > 1 ? 's' : ''}` : `tfjs ${tf.getBackend()}`;
  const progress = createProgress(`embed (${p.settings.backbone} ${p.kind}, ${engine})`, total, { unit: 'img' });
  const t0 = Date.now();
  const prepare = (src: SetSource, start: number): { input: Float32Array; n: number } => {
    const idx = src.indices.slice(start, start + batch);
    const x = imagesToTensor(src.set.batch(idx), idx.length, src.set.header, { inputSize, inputChannels: 3, scaling: p.scaling, denoise: p.denoise });
    const input = x.dataSync() as Float32Array;
    x.dispose();
    return { input, n: idx.length };
  };
  for (const src of sources) {
    const n = src.indices.length;
    const out = new Float32Array(n * rowSize);
    let next = n > 0 ? prepare(src, 0) : null;
    for (let start = 0; next; start += batch) {
      const cur = next;
      const running = forward.run(cur.input, cur.n);
      // Decode and preprocess the next batch while the engine runs this one.
      next = start + batch < n ? prepare(src, start + batch) : null;
      const [y] = await running;
      out.set(y.data, start * rowSize);
      progress.tick(cur.n);
    }
    await writeArray(featuresFile(dir, src.info.name), out, [n, ...sampleShape]);
  }
  progress.done();
  const secs = (Date.now() - t0) / 1000;
  return secs > 0 ? total / secs : 0;
}

/** The backbone, loaded once per runEmbed and only when a part must be computed. */
class Embedder {
  private ready: Promise<{
    forward: Forward | null;
    dispose: () => Promise<void>;
    sampleShape: number[] | null;
    activationBytes: number;
    backend: string;
    inference: InferenceRecord | null;
    features: EmbedManifest['features'];
  }> | null = null;
  constructor(
    private readonly experiment: Experiment,
    private readonly p: EmbedPlan,
    private readonly log: (line: string) => void,
  ) {}

  get() {
    this.ready ??= this.load();
    return this.ready;
  }

  private async load() {
    const { p, log } = this;
    if (p.kind === 'pixels') {
      return { forward: null, dispose: async () => undefined, sampleShape: null, activationBytes: 0, backend: 'none', inference: null, features: null };
    }
    const selected = await selectBackend(p.settings.backend);
    const engine = await selectInference(p.settings.inference, p.settings.threads, log);
    const backbone = await loadExperimentBackbone(this.experiment);
    if (backbone.hash !== p.weights!.hash) {
      backbone.model.dispose();
      throw new UserError(
        `${p.weights!.location}: the weights changed while the embed stage started (hash ${backbone.hash.slice(0, 12)} ≠ ${p.weights!.hash.slice(0, 12)}); run it again`,
      );
    }
    let net = backbone.model;
    let features: EmbedManifest['features'] = null;
    if (p.cutLayer) net = splitAtLayer(backbone.model, p.cutLayer).bottom;
    else if (p.features) {
      const multi = multiLayerFeatures(backbone.model, p.features);
      net = multi.model;
      features = multi.layers;
      log(`[embed] features: ${multi.layers.map((l) => `${l.layer} (${l.size})`).join(' + ')} = ${multi.size} values per image`);
    }
    const sampleShape = (net.outputs[0].shape.slice(1) as number[]).map(Number);
    const activationBytes = largestActivationBytes(net);
    const forward = await createForward(net, engine);
    return {
      forward,
      dispose: async () => {
        await forward.dispose();
        backbone.model.dispose();
      },
      sampleShape,
      activationBytes,
      backend: selected.name,
      inference: { engine: forward.engine, threads: forward.threads },
      features,
    };
  }

  async dispose(): Promise<void> {
    if (this.ready) await (await this.ready).dispose();
  }
}

/** Builds (or finds) one part: labels, ids and features of `sources`, and part.json. */
async function ensurePart(
  experiment: Experiment,
  stage: string,
  key: string,
  meta: unknown,
  open: () => Promise<{ sources: SetSource[]; close: () => void }>,
  embedder: Embedder,
  p: EmbedPlan,
  log: (line: string) => void,
): Promise<{ dir: string; info: PartInfo; hit: boolean }> {
  const res = await runStage({
    runsDir: experiment.runsDir,
    stage,
    key,
    log,
    meta,
    build: async (tmp) => {
      const { sources, close } = await open();
      try {
        for (const s of sources) await writeLabelsAndIds(tmp, s);
        const header = sources[0].set.header;
        const e = await embedder.get();
        let sampleShape: number[];
        let inputChannels: number;
        let rate: number | null = null;
        if (!e.forward || !e.sampleShape) {
          inputChannels = p.settings.backbone === 'cnn' ? header.channels : 3;
          sampleShape = [p.settings.input_size, p.settings.input_size, inputChannels];
        } else {
          inputChannels = 3;
          sampleShape = e.sampleShape;
          rate = await computeFeatures(tmp, sources, e.forward, sampleShape, p, e.activationBytes, log);
        }
        const info: PartInfo = {
          sets: sources.map((s) => {
            const { imageSetDir: _dir, ...rest } = s.info;
            return { ...rest, n: s.indices.length };
          }),
          classes: header.classes,
          sampleShape,
          inputChannels,
          backend: e.backend,
          inference: e.inference,
          imagesPerSecond: rate,
          features: e.features,
        };
        await writeFile(path.join(tmp, PART_FILE), JSON.stringify(info, null, 2));
      } finally {
        close();
      }
    },
  });
  const info = JSON.parse(await readFile(path.join(res.dir, PART_FILE), 'utf8')) as PartInfo;
  return { dir: res.dir, info, hit: res.hit };
}

/** Hard link (same file system, no copy); a copy where links are refused. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

async function linkSet(fromDir: string, toDir: string, name: string, kind: FeatureKind): Promise<void> {
  await linkOrCopy(labelsFile(fromDir, name), labelsFile(toDir, name));
  await linkOrCopy(idsFile(fromDir, name), idsFile(toDir, name));
  if (kind !== 'pixels') await linkOrCopy(featuresFile(fromDir, name), featuresFile(toDir, name));
}

function closeAll(sets: ImageSet[]): void {
  for (const s of sets) s.close();
}

async function openOrClose(dir: string, opened: ImageSet[]): Promise<ImageSet> {
  const s = await openImageSet(dir);
  opened.push(s);
  return s;
}

/**
 * Run (or reuse) the embed stage for `experiment` over the augment and noise outputs. Selects the
 * experiment's backend (model.backend, MRI_BACKEND overrides) when features must be computed.
 *
 * The features are cached in parts (DVC-style, one output per key): the clean splits under
 * `embed-base/<key>` (keyed by the augment output), each noise eval set under `embed-set/<key>`
 * (keyed by its own content), so adding or changing one noisy test set computes that set's features
 * only. `embed/<key>` assembles them (hard links) into the folder described in io/embed-output.ts.
 */
export async function runEmbed(experiment: Experiment, upstream: EmbedUpstream, ctx: EmbedContext = {}): Promise<EmbedResult> {
  const log = ctx.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const p = await plan(experiment);
  const augmentKey = await upstreamKey(upstream.augmentDir, upstream.augmentKey, 'augment');
  const noiseKey = await upstreamKey(upstream.noiseDir, upstream.noiseKey, 'noise');
  const noise = await readNoiseSets(upstream.noiseDir);
  const evalSets = noise.eval ?? [];
  for (const e of evalSets) {
    if (['train', 'val', 'test'].includes(e.id))
      throw new UserError(`${path.join(upstream.noiseDir, SETS_FILE)}: eval set id '${e.id}' clashes with a split name`);
  }
  const keys = embedKeys(p, augmentKey, noise, await evalSetContentKeys(upstream.noiseDir, noiseKey, evalSets));
  const settings = featureSettings(p);
  const code = codeHash('embed');
  let sets: EmbedSetInfo[] = [];
  const res = await runStage({
    runsDir: experiment.runsDir,
    stage: EMBED_STAGE,
    key: keys.key,
    log,
    meta: {
      stage: EMBED_STAGE,
      code,
      settings,
      upstream: { augment: augmentKey, noise: noiseKey },
      parts: { base: keys.base, sets: Object.fromEntries(keys.sets) },
      trainingKey: keys.training,
      upstreamDirs: { augment: upstream.augmentDir, noise: upstream.noiseDir },
      weights: p.weights?.location ?? null,
    },
    build: async (tmp) => {
      const embedder = new Embedder(experiment, p, log);
      try {
        const base = await ensurePart(
          experiment,
          EMBED_BASE_STAGE,
          keys.base,
          { code, settings, upstream: { augment: augmentKey }, upstreamDir: upstream.augmentDir },
          async () => {
            const opened: ImageSet[] = [];
            return { sources: baseSources(await openOrClose(upstream.augmentDir, opened)), close: () => closeAll(opened) };
          },
          embedder,
          p,
          log,
        );
        for (const s of base.info.sets) await linkSet(base.dir, tmp, s.name, p.kind);
        sets = base.info.sets.map((s) => ({ ...s, imageSetDir: upstream.augmentDir, key: keys.base }));
        let built = base.hit ? null : base.info;
        for (const e of evalSets) {
          const dir = path.resolve(upstream.noiseDir, e.dir);
          const setKey = keys.sets.get(e.id)!;
          const part = await ensurePart(
            experiment,
            EMBED_SET_STAGE,
            setKey,
            { code, settings, set: e.id, noise: noiseKey, upstreamDir: dir },
            async () => {
              const opened: ImageSet[] = [];
              try {
                const set = await openOrClose(dir, opened);
                if (set.header.classes.join('\u0000') !== base.info.classes.join('\u0000')) {
                  throw new UserError(`${dir}: classes [${set.header.classes}] differ from the augment output's [${base.info.classes}]`);
                }
                return { sources: [evalSource(e, dir, set)], close: () => closeAll(opened) };
              } catch (err) {
                closeAll(opened);
                throw err;
              }
            },
            embedder,
            p,
            log,
          );
          if (part.info.classes.join('\u0000') !== base.info.classes.join('\u0000')) {
            throw new UserError(`${dir}: classes [${part.info.classes}] differ from the augment output's [${base.info.classes}]`);
          }
          if (part.info.sampleShape.join(',') !== base.info.sampleShape.join(',')) {
            throw new UserError(`${part.dir}: feature shape [${part.info.sampleShape}] differs from [${base.info.sampleShape}] of ${base.dir}`);
          }
          await linkSet(part.dir, tmp, e.id, p.kind);
          const [info] = part.info.sets;
          sets.push({ ...info, name: e.id, imageSetDir: dir, key: setKey, benchmark: e.benchmark ?? null });
          if (!part.hit) built ??= part.info;
        }
        const shown = built ?? base.info;
        const manifest: EmbedManifest = {
          format: EMBED_FORMAT,
          kind: p.kind,
          backbone: p.settings.backbone,
          mode: p.settings.mode,
          classes: base.info.classes,
          sampleShape: base.info.sampleShape,
          inputSize: p.settings.input_size,
          inputChannels: base.info.inputChannels,
          preprocessing: p.scaling,
          denoise: p.denoise,
          cutLayer: p.cutLayer,
          weights: p.weights,
          features: base.info.features,
          backend: shown.backend,
          inference: shown.inference,
          imagesPerSecond: shown.imagesPerSecond,
          sets,
          trainingKey: keys.training,
        };
        await writeFile(path.join(tmp, EMBED_MANIFEST), JSON.stringify(manifest, null, 2));
      } finally {
        await embedder.dispose();
      }
    },
  });
  if (res.hit) {
    const manifest = JSON.parse(await readFile(path.join(res.dir, EMBED_MANIFEST), 'utf8')) as EmbedManifest;
    sets = manifest.sets;
  }
  return { key: res.key, dir: res.dir, hit: res.hit, sets, trainingKey: keys.training };
}

/** Schema parts the embed CLI validates (its package and those below it). */
export const EMBED_SCHEMA_PARTS = [dataSchemaPart, noiseSchemaPart, augmentSchemaPart, ...modelSchemaParts];

/** Ensure ingest → noise → augment → embed for an experiment file (used by tuning and the CLI). */
export async function ensureEmbed(experiment: Experiment, ctx: EmbedContext = {}): Promise<EmbedResult> {
  let result: EmbedResult | undefined;
  const embedStage: StageRunner = async (exp, up, c) => (result = await embedRunner(exp, up, c));
  await ensurePipeline(experiment, 'embed', { ingest: ingestRunner, noise: noiseRunner, augment: augmentRunner, embed: embedStage }, { log: ctx.log });
  if (!result) throw new Error('embed: the pipeline did not run the embed stage');
  return result;
}

/** The embed stage as the pipeline runs it (core/pipeline.ts): upstream augment and noise. */
export const embedRunner = (experiment: Experiment, upstream: Parameters<StageRunner>[1], ctx: EmbedContext): Promise<EmbedResult> => {
  const { augment, noise } = upstream;
  if (!augment || !noise) throw new Error('embed: the pipeline passed no augment/noise output');
  return runEmbed(experiment, { augmentDir: augment.dir, noiseDir: noise.dir, augmentKey: augment.key, noiseKey: noise.key }, ctx);
};

/** CLI: `embed [--experiment=FILE]` — prints the output folder and set sizes. */
export async function embedMain(argv: string[]): Promise<void> {
  const args = parseFlags(argv, { experiment: 'string', 'nx-output': 'boolean' });
  const file = stringFlag(args, 'experiment') ?? defaultExperimentFile();
  const experiment = loadExperiment(file, EMBED_SCHEMA_PARTS);
  const t = Date.now();
  const res = await ensureEmbed(experiment);
  if (args.nxOutput) await publishNxOutput({ stage: 'embed', experimentArg: file, runsDir: experiment.runsDir, paths: [res.dir] });
  for (const s of res.sets) process.stdout.write(`${s.name.padEnd(28)} ${String(s.n).padStart(6)}  ${s.noiseKind}${s.severity ? ` s${s.severity}` : ''}\n`);
  process.stdout.write(`${res.hit ? 'cache hit' : 'built'}: ${res.dir} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
}
