/**
 * The `model:embed` stage's output (contract between the embed stage and training/evaluation).
 *
 * Folder `runs/cache/embed/<key>/` (files hard-linked from the per-part caches `embed-base/<key>/`,
 * the clean splits, and `embed-set/<key>/`, one noise eval set each):
 *   embed.json                 EmbedManifest (below)
 *   features/<set>.arr         float32 [N, D] (head) or [N, h, w, c] (partial); absent for 'pixels'
 *   labels/<set>.arr           int32 [N] class indices into `classes`
 *   ids/<set>.json             string[] record ids, row order of features/labels
 *
 * `<set>` is `train`, `val`, `test` (splits of the augment output) or a noise eval set id from the
 * noise stage's sets.json (e.g. `test-rician-snr5`, `val-gaussian-s3`).
 *
 * `kind`:
 *   'embedding'  — mode head: pooled backbone output, sampleShape [D]
 *   'activation' — mode partial: backbone activations at `cutLayer`, sampleShape [h, w, c]; train
 *                  `buildTop()` of `splitAtLayer(backbone, cutLayer)` (nets/mobilenet.ts) on them
 *   'pixels'     — mode full, or backbone cnn: nothing cached; each set names its image-set folder
 *                  (`imageSetDir`) and training reads pixels with `openImageSet` + `imagesToTensor`
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readArray, UserError } from '@mri-robust/core';
import type { InferenceRecord } from '../backend/inference.ts';
import type { PixelScaling } from '../nets/preprocess.ts';
import type { Denoise } from '../nets/denoise.ts';
import type { Backbone } from '../schema.ts';

export const EMBED_MANIFEST = 'embed.json';
export const EMBED_FORMAT = 'mri-robust/embed@1';

export type FeatureKind = 'embedding' | 'activation' | 'pixels';

export interface EmbedSetInfo {
  /** 'train' | 'val' | 'test' | eval set id. */
  name: string;
  /** Which split of the data the images come from. */
  split: 'train' | 'val' | 'test';
  /** 'none' for the clean splits; the noise kind of an eval set otherwise. */
  noiseKind: string;
  /** 0 for clean; the eval set's severity (e.g. SNR level index or value) otherwise. */
  severity: number;
  /** Number of samples. */
  n: number;
  /** Absolute folder of the source image set (always set; the only input for kind 'pixels'). */
  imageSetDir: string;
  /** Key of the cached part holding this set's features (absent in outputs of older code). */
  key?: string;
  /** The benchmark an eval set belongs to (`mri-c`), null for an ad-hoc set or a clean split. */
  benchmark?: string | null;
}

export interface EmbedManifest {
  format: typeof EMBED_FORMAT;
  kind: FeatureKind;
  backbone: Backbone;
  mode: 'head' | 'partial' | 'full';
  classes: string[];
  /** Shape of one sample: [D], [h, w, c], or the network input [s, s, ch] for 'pixels'. */
  sampleShape: number[];
  /** Network input size (pixels, square). */
  inputSize: number;
  /** Network input channels (3 for mobilenet_v2: grey replicated; the image channels for cnn). */
  inputChannels: number;
  /** Pixel scaling applied before the backbone (the backbone's own, see nets/preprocess.ts). */
  preprocessing: PixelScaling;
  /** Denoiser applied to the pixels before the backbone (model.denoise; absent or null = none). */
  denoise?: Denoise | null;
  /** Cut layer name ('partial' only). */
  cutLayer: string | null;
  /** Resolved weights location and sha256 of the weights (tfjs folder or .h5; null for cnn / pixels). */
  weights: { location: string; hash: string } | null;
  /** Head mode with `model.features`: the layers whose pooled activations make up each row, in order (absent or null otherwise). */
  features?: { layer: string; size: number; offset: number }[] | null;
  /** Backend that computed the features, and images/s. */
  backend: string;
  /** Inference engine of the forward passes (absent in outputs written before engines existed; null for 'pixels'). */
  inference?: InferenceRecord | null;
  imagesPerSecond: number | null;
  sets: EmbedSetInfo[];
  /**
   * Key of what trials train and are selected on: the clean splits and every noise set not drawn from
   * the test split. A noisy test set added or changed leaves it unchanged (absent in older outputs).
   */
  trainingKey?: string;
}

interface EmbedSetData {
  info: EmbedSetInfo;
  /** Row-major float32 [n, ...sampleShape]; empty for kind 'pixels'. */
  features: Float32Array;
  labels: Int32Array;
  ids: string[];
}

export interface EmbedOutput {
  dir: string;
  manifest: EmbedManifest;
  /** Names of all sets, clean splits first. */
  setNames(): string[];
  info(name: string): EmbedSetInfo;
  /** Noise eval sets (everything but train/val/test). */
  evalSets(): EmbedSetInfo[];
  /** Reads one set's arrays (features not read for kind 'pixels'). */
  load(name: string): Promise<EmbedSetData>;
}

export function featuresFile(dir: string, set: string): string {
  return path.join(dir, 'features', `${set}.arr`);
}
export function labelsFile(dir: string, set: string): string {
  return path.join(dir, 'labels', `${set}.arr`);
}
export function idsFile(dir: string, set: string): string {
  return path.join(dir, 'ids', `${set}.json`);
}

const CLEAN = new Set(['train', 'val', 'test']);

/** Open a finished embed stage folder. */
export async function openEmbedOutput(dir: string): Promise<EmbedOutput> {
  const file = path.join(dir, EMBED_MANIFEST);
  let manifest: EmbedManifest;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8')) as EmbedManifest;
  } catch (e) {
    throw new UserError(`${file}: cannot read the embed output manifest (${(e as Error).message}); run model:embed first`);
  }
  if (manifest.format !== EMBED_FORMAT) {
    throw new UserError(`${file}: format '${String(manifest.format)}' is not ${EMBED_FORMAT}`);
  }
  const byName = new Map(manifest.sets.map((s) => [s.name, s]));
  const info = (name: string): EmbedSetInfo => {
    const s = byName.get(name);
    if (!s) throw new UserError(`${dir}: no set '${name}' in the embed output (have ${[...byName.keys()].join(', ')})`);
    return s;
  };
  return {
    dir,
    manifest,
    setNames: () => manifest.sets.map((s) => s.name),
    info,
    evalSets: () => manifest.sets.filter((s) => !CLEAN.has(s.name)),
    async load(name) {
      const i = info(name);
      const labels = await readArray(labelsFile(dir, name));
      const ids = JSON.parse(await readFile(idsFile(dir, name), 'utf8')) as string[];
      let features: Float32Array = new Float32Array(0);
      if (manifest.kind !== 'pixels') {
        const f = await readArray(featuresFile(dir, name));
        const want = [i.n, ...manifest.sampleShape];
        if (f.dtype !== 'float32' || f.shape.join(',') !== want.join(',')) {
          throw new UserError(`${featuresFile(dir, name)}: ${f.dtype} [${f.shape}] where float32 [${want}] was expected`);
        }
        features = f.data as Float32Array;
      }
      if (labels.dtype !== 'int32' || labels.data.length !== i.n || ids.length !== i.n) {
        throw new UserError(`${dir}: set '${name}' has ${labels.data.length} labels and ${ids.length} ids for n=${i.n}`);
      }
      return { info: i, features, labels: labels.data as Int32Array, ids };
    },
  };
}
