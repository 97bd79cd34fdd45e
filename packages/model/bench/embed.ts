/**
 * Model compute bench → runs/bench/model-embed.json.
 *
 * Per available backend (one child process each: one backend per process), medians of ≥ 3 runs:
 * - embedding images/s: MobileNetV2-0.35 @224 on real images, head (pooled 1280-d embedding) and
 *   partial (activations at the default cut layer);
 * - training images/s per mode: head (Dropout + Dense on cached embeddings), partial (top above the
 *   cut, from cached activations; default cut and block_15_add), full (cnn from scratch at 128 px,
 *   and the whole MobileNetV2 at 128 px) — on wasm these use the project's backprop kernels.
 * cpu runs on a handful of images only (≈20× slower to embed, 100–300× slower to train: its conv
 * backprop kernels are plain JavaScript), without warm-up, and one cut only.
 *
 *   node --import tsx packages/model/bench/embed.ts            all backends
 *   node --import tsx packages/model/bench/embed.ts --only=wasm
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { median, parseArgs, sharedDir, workspaceRoot } from '@mri-robust/core';
import { selectBackend, type BackendName } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { buildCnn } from '../src/nets/cnn.ts';
import { DEFAULT_CUT_LAYER, loadMobileNetV2, splitAtLayer, trainableBackbone } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';

const RUNS = 3;
const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
const WEIGHTS = path.join(process.env.MRI_SHARED ?? sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

interface Measure {
  what: string;
  backend: string;
  images: number;
  batch: number;
  runs: number;
  /** Median images per second over the runs. */
  imagesPerSecond: number;
  seconds: number[];
}

async function realPixels(n: number, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(n * size * size);
  const root = path.join(process.env.MRI_SHARED ?? sharedDir(), 'datasets', 'nickparvar', 'Training');
  const files = CLASSES.flatMap((c) =>
    readdirSync(path.join(root, c))
      .sort()
      .slice(0, Math.ceil(n / 4))
      .map((f) => path.join(root, c, f)),
  );
  for (let i = 0; i < n; i++) {
    const px = await sharp(files[i]).greyscale().resize(size, size, { fit: 'fill' }).raw().toBuffer();
    out.set(px, i * size * size);
  }
  return out;
}

async function measure(what: string, backend: string, images: number, batch: number, run: () => Promise<void>): Promise<Measure> {
  // Warm-up (model build, XNNPACK operator creation); skipped on cpu, where a step takes minutes.
  if (backend !== 'cpu') await run();
  const seconds: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    await run();
    seconds.push((performance.now() - t) / 1000);
  }
  const m = { what, backend, images, batch, runs: RUNS, imagesPerSecond: images / median(seconds), seconds };
  process.stderr.write(`  ${backend} ${what}: ${m.imagesPerSecond.toFixed(2)} img/s (median of ${RUNS}, ${images} images, batch ${batch})\n`);
  return m;
}

function classifier(trunk: LayersModel, dropout = 0.2): LayersModel {
  let x = trunk.outputs[0];
  x = tf.layers.dropout({ rate: dropout, seed: 13 }).apply(x) as SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax' }).apply(x) as SymbolicTensor;
  const m = tf.model({ inputs: trunk.inputs, outputs: out });
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return m;
}

function labels(n: number): Tensor {
  return tf.oneHot(
    tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % 4),
      'int32',
    ),
    4,
  );
}

async function trainRun(m: LayersModel, x: Tensor, y: Tensor, batch: number): Promise<void> {
  await m.fit(x, y, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 });
}

async function worker(name: BackendName): Promise<Measure[]> {
  const sel = await selectBackend(name);
  const slow = sel.name === 'cpu';
  const out: Measure[] = [];
  const backbone = await loadMobileNetV2(WEIGHTS, { inputSize: 224 });
  const split = splitAtLayer(backbone.model, DEFAULT_CUT_LAYER);

  // Embedding throughput (inference with predict()).
  const nEmbed = slow ? 4 : 64;
  const bEmbed = slow ? 4 : 32;
  const pixels = await realPixels(nEmbed, 224);
  const shape = { height: 224, width: 224, channels: 1 };
  const embedWith = (net: LayersModel) => async () => {
    for (let s = 0; s < nEmbed; s += bEmbed) {
      const k = Math.min(bEmbed, nEmbed - s);
      const x = imagesToTensor(pixels.subarray(s * 224 * 224, (s + k) * 224 * 224), k, shape, { inputSize: 224, inputChannels: 3 });
      const y = net.predict(x) as Tensor;
      await y.data();
      x.dispose();
      y.dispose();
    }
  };
  out.push(await measure('embed head mobilenet_v2@224', sel.name, nEmbed, bEmbed, embedWith(backbone.model)));
  out.push(await measure(`embed partial ${DEFAULT_CUT_LAYER} mobilenet_v2@224`, sel.name, nEmbed, bEmbed, embedWith(split.bottom)));

  // Training throughput per mode (one epoch over `n` samples = n / batch steps).
  const bTrain = slow ? 4 : 32;
  const headX = tf.randomNormal([256, 1280], 0, 1, 'float32', 11);
  {
    const inp = tf.input({ shape: [1280] });
    const d = tf.layers.dropout({ rate: 0.2, seed: 13 }).apply(inp) as SymbolicTensor;
    const o = tf.layers.dense({ units: 4, activation: 'softmax' }).apply(d) as SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: o });
    m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    out.push(await measure('train head (dropout+dense on 1280-d embeddings)', sel.name, 256, 32, () => trainRun(m, headX, labels(256), 32)));
  }
  for (const cut of slow ? [DEFAULT_CUT_LAYER] : [DEFAULT_CUT_LAYER, 'block_15_add']) {
    const s = splitAtLayer(backbone.model, cut);
    const m = classifier(s.buildTop());
    const x = tf.randomUniform([bTrain, ...s.cutShape], 0, 2, 'float32', 12);
    out.push(await measure(`train partial top above ${cut} (from cached activations)`, sel.name, bTrain, bTrain, () => trainRun(m, x, labels(bTrain), bTrain)));
  }
  {
    const m = classifier(buildCnn({ inputShape: [128, 128, 1], widths: [16, 32, 64], seed: 1 }));
    const x = imagesToTensor(await realPixels(bTrain, 128), bTrain, { height: 128, width: 128, channels: 1 }, { inputSize: 128, inputChannels: 1 });
    out.push(await measure('train full cnn [16,32,64] @128 grey', sel.name, bTrain, bTrain, () => trainRun(m, x, labels(bTrain), bTrain)));
  }
  {
    const bFull = slow ? 2 : 16;
    const full = trainableBackbone((await loadMobileNetV2(WEIGHTS, { inputSize: 128 })).model);
    const m = classifier(full);
    const x = imagesToTensor(await realPixels(bFull, 128), bFull, { height: 128, width: 128, channels: 1 }, { inputSize: 128, inputChannels: 3 });
    out.push(await measure('train full mobilenet_v2 @128', sel.name, bFull, bFull, () => trainRun(m, x, labels(bFull), bFull)));
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args.worker === 'string') {
    let res: Measure[];
    try {
      res = await worker(args.worker as BackendName);
    } catch (e) {
      process.stdout.write('\n@@SKIP ' + (e as Error).message.split('\n')[0] + '\n');
      return;
    }
    process.stdout.write('\n@@RESULT ' + JSON.stringify(res) + '\n');
    return;
  }
  const only = typeof args.only === 'string' ? args.only.split(',') : null;
  const candidates: BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
  const measures: Measure[] = [];
  const skipped: Record<string, string> = {};
  const self = fileURLToPath(import.meta.url);
  for (const b of candidates) {
    if (only && !only.includes(b)) continue;
    process.stderr.write(`model-embed bench: ${b}\n`);
    try {
      const stdout = execFileSync(process.execPath, ['--import', 'tsx', self, `--worker=${b}`], {
        cwd: workspaceRoot(),
        env: { ...process.env, MRI_BACKEND: '' },
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 * 1024 * 1024,
      }).toString();
      const skip = stdout.split('\n').find((l) => l.startsWith('@@SKIP '));
      if (skip) throw new Error(skip.slice(7));
      const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (!line) throw new Error('no result line');
      measures.push(...(JSON.parse(line.slice(9)) as Measure[]));
    } catch (e) {
      skipped[b] = (e as Error).message.split('\n')[0];
      process.stderr.write(`  ${b}: skipped (${skipped[b]})\n`);
    }
  }
  const dir = path.join(workspaceRoot(), 'runs', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model-embed.json');
  if (only && existsSync(file)) {
    // A partial rerun keeps the other backends' figures from the previous run.
    const prev = JSON.parse(readFileSync(file, 'utf8')) as { measures?: Measure[]; skipped?: Record<string, string> };
    const kept = (prev.measures ?? []).filter((m) => !only.includes(m.backend));
    measures.unshift(...kept);
    for (const [b, why] of Object.entries(prev.skipped ?? {})) if (!only.includes(b)) skipped[b] = why;
  }
  writeFileSync(
    file,
    JSON.stringify(
      { bench: 'model-embed', runAt: new Date().toISOString(), host: { cpus: os.cpus().length, load: os.loadavg() }, runs: RUNS, measures, skipped },
      null,
      2,
    ),
  );
  process.stderr.write(`wrote ${file}\n`);
}

await main();
