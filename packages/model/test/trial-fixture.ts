/**
 * A tiny embed output built from REAL images (../shared/datasets/sartaj/Testing), for the learning
 * tests: an image set (train/val/test + one noisy test set) and, per kind, the features the embed
 * stage would cache (real MobileNetV2-0.35 forward passes at a small input size).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRng, ImageSetWriter, parseExperiment, sharedDir, writeArray, type Experiment, type ImageRecord } from '@mri-robust/core';
import { dataSchemaPart, decodeImage } from '@mri-robust/data';
import type { Tensor } from '@tensorflow/tfjs-core';
import { modelSchemaParts } from '../src/schema.ts';
import { EMBED_FORMAT, EMBED_MANIFEST, type EmbedManifest, type EmbedSetInfo, type FeatureKind } from '../src/io/embed-output.ts';
import { loadMobileNetV2, splitAtLayer } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';

export const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
const FOLDERS = ['glioma_tumor', 'meningioma_tumor', 'no_tumor', 'pituitary_tumor'];
const WEIGHTS = () => path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');
const testImage = (cls: number, name = 'image(1).jpg') => path.join(sharedDir(), 'datasets', 'sartaj', 'Testing', FOLDERS[cls], name);

export interface TinyImages {
  dir: string;
  size: number;
  /** Name → records of the set (clean splits and the noisy test set share the image set folder layout). */
  sets: Record<string, { split: 'train' | 'val' | 'test'; noiseKind: string; severity: number; ids: string[]; labels: number[]; files: string[] }>;
  setDirs: Record<string, string>;
  pixels: Record<string, Uint8Array>;
}

/** `perClass` = [train, val, test] images per class, decoded like ingest (grey, pad) at `size`. */
export async function tinyImages(root: string, size: number, perClass: [number, number, number] = [8, 3, 3]): Promise<TinyImages> {
  const dir = path.join(root, 'images');
  const cleanDir = path.join(dir, 'clean');
  const noisyDir = path.join(dir, 'test-gaussian-s3');
  const clean = await ImageSetWriter.create(cleanDir, { height: size, width: size, channels: 1, classes: CLASSES });
  const noisy = await ImageSetWriter.create(noisyDir, { height: size, width: size, channels: 1, classes: CLASSES });
  const sets: TinyImages['sets'] = {
    train: { split: 'train', noiseKind: 'none', severity: 0, ids: [], labels: [], files: [] },
    val: { split: 'val', noiseKind: 'none', severity: 0, ids: [], labels: [], files: [] },
    test: { split: 'test', noiseKind: 'none', severity: 0, ids: [], labels: [], files: [] },
    'test-gaussian-s3': { split: 'test', noiseKind: 'gaussian', severity: 3, ids: [], labels: [], files: [] },
  };
  const pixels: Record<string, number[]> = { train: [], val: [], test: [], 'test-gaussian-s3': [] };
  const rng = createRng('tiny-noise');
  const total = perClass[0] + perClass[1] + perClass[2];
  for (let c = 0; c < 4; c++) {
    const folder = path.dirname(testImage(c));
    const files = (await readdir(folder)).sort().slice(0, total);
    for (let i = 0; i < files.length; i++) {
      const split = i < perClass[0] ? 'train' : i < perClass[0] + perClass[1] ? 'val' : 'test';
      const d = await decodeImage(new Uint8Array(await readFile(path.join(folder, files[i]))), { size, channels: 1, fit: 'pad', maxPixels: 5e7 });
      const id = `${CLASSES[c]}-${i}`;
      const rec: ImageRecord = { id, label: CLASSES[c], split, source: 'sartaj', path: files[i] };
      await clean.add(d.pixels, rec);
      sets[split].ids.push(id);
      sets[split].labels.push(c);
      sets[split].files.push(path.join(folder, files[i]));
      pixels[split].push(...d.pixels);
      if (split === 'test') {
        const n = Uint8Array.from(d.pixels, (v) => Math.max(0, Math.min(255, Math.round(v + 25 * rng.normal()))));
        await noisy.add(n, { ...rec, noise: { kind: 'gaussian', severity: 3, params: { sigma: 25 } } });
        sets['test-gaussian-s3'].ids.push(id);
        sets['test-gaussian-s3'].labels.push(c);
        sets['test-gaussian-s3'].files.push(path.join(folder, files[i]));
        pixels['test-gaussian-s3'].push(...n);
      }
    }
  }
  await clean.close();
  await noisy.close();
  return {
    dir,
    size,
    sets,
    setDirs: { train: cleanDir, val: cleanDir, test: cleanDir, 'test-gaussian-s3': noisyDir },
    pixels: Object.fromEntries(Object.entries(pixels).map(([k, v]) => [k, Uint8Array.from(v)])),
  };
}

/** Writes an embed output of `kind` for the tiny images (features computed with the real backbone). */
export async function tinyEmbed(
  root: string,
  imgs: TinyImages,
  opts: { kind: FeatureKind; backbone: 'mobilenet_v2' | 'cnn'; inputSize: number; cutLayer?: string },
): Promise<string> {
  const out = path.join(root, `embed-${opts.kind}-${opts.backbone}`);
  await mkdir(out, { recursive: true });
  for (const sub of ['features', 'labels', 'ids']) await mkdir(path.join(out, sub), { recursive: true });
  const inputChannels = opts.backbone === 'mobilenet_v2' ? 3 : 1;
  let extract: ((x: Tensor) => Tensor) | null = null;
  let weights: EmbedManifest['weights'] = null;
  let sampleShape = [opts.inputSize, opts.inputSize, inputChannels];
  if (opts.backbone === 'mobilenet_v2') {
    const b = await loadMobileNetV2(WEIGHTS(), { inputSize: opts.inputSize });
    weights = { location: WEIGHTS(), hash: b.hash };
    if (opts.kind === 'pixels') b.model.dispose();
  }
  if (opts.kind !== 'pixels') {
    const b = await loadMobileNetV2(WEIGHTS(), { inputSize: opts.inputSize });
    const net = opts.kind === 'activation' ? splitAtLayer(b.model, opts.cutLayer!).bottom : b.model;
    extract = (x) => net.predict(x) as Tensor;
    sampleShape = net.outputs[0].shape.slice(1) as number[];
  }
  const sets: EmbedSetInfo[] = [];
  for (const [name, s] of Object.entries(imgs.sets)) {
    const n = s.ids.length;
    sets.push({ name, split: s.split, noiseKind: s.noiseKind, severity: s.severity, n, imageSetDir: imgs.setDirs[name] });
    await writeArray(path.join(out, 'labels', `${name}.arr`), Int32Array.from(s.labels), [n]);
    await writeFile(path.join(out, 'ids', `${name}.json`), JSON.stringify(s.ids));
    if (extract) {
      const x = imagesToTensor(imgs.pixels[name], n, { height: imgs.size, width: imgs.size, channels: 1 }, { inputSize: opts.inputSize, inputChannels });
      const f = extract(x);
      await writeArray(path.join(out, 'features', `${name}.arr`), f.dataSync() as Float32Array, [n, ...sampleShape]);
      x.dispose();
      f.dispose();
    }
  }
  const manifest: EmbedManifest = {
    format: EMBED_FORMAT,
    kind: opts.kind,
    backbone: opts.backbone,
    mode: opts.kind === 'embedding' ? 'head' : opts.kind === 'activation' ? 'partial' : 'full',
    classes: CLASSES,
    sampleShape,
    inputSize: opts.inputSize,
    inputChannels,
    preprocessing: 'scale_-1_1',
    cutLayer: opts.cutLayer ?? null,
    weights,
    backend: 'test',
    imagesPerSecond: null,
    sets,
  };
  await writeFile(path.join(out, EMBED_MANIFEST), JSON.stringify(manifest, null, 2));
  return out;
}

/** An experiment (validated by the real loader) for the tiny data. */
export function tinyExperiment(root: string, imageSize: number, model: Record<string, unknown>, train: Record<string, unknown> = {}): Experiment {
  const text = [
    'name: tiny',
    'seed: 7',
    `data: {image: {size: ${imageSize}, channels: 1, fit: pad}}`,
    `model: ${JSON.stringify(model)}`,
    `train: ${JSON.stringify({ epochs: 3, early_stopping: { patience: 10 }, ...train })}`,
    'evaluate: {bootstrap_samples: 200}',
  ].join('\n');
  return parseExperiment(text, path.join(root, 'tiny.yaml'), [dataSchemaPart, ...modelSchemaParts]);
}
