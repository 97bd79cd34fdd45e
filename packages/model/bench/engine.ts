/**
 * Inference engine bench → runs/bench/engine.json. `npm run bench -- engine`.
 *
 * The same 256 real scans (nickparvar Training, 64 per class, grey → 224 px, x/127.5 − 1),
 * MobileNetV2-0.35 pooled embeddings, batch 32, medians of RUNS runs after one warm-up:
 *   tfjs wasm (one thread: tfjs wasm has no threads in Node), ONNX Runtime with 1 thread and with
 *   all threads (the cores available to the process), each through this project's own ONNX export;
 *   max |Δ| between the tfjs and ONNX Runtime embeddings of the 256 images.
 * With `--embed-stage[=FILE]` (default experiments/default.yaml) also the embed stage of that
 * experiment from a cold cache, once per engine (child processes, upstream stages cached, the embed
 * stage written to a temp runs folder): `embed_stage_seconds: { tfjs, onnxruntime }`.
 *
 *   node --import tsx packages/model/bench/engine.ts [--runs=3] [--embed-stage[=experiments/brain-mri.yaml]]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadExperiment, median, parseArgs, sharedDir, workspaceRoot } from '@mri-robust/core';
import { selectBackend } from '../src/backend/select.ts';
import { resolveThreads, selectInference } from '../src/backend/inference.ts';
import { loadMobileNetV2 } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { createForward, type Forward } from '../src/onnx/forward.ts';
import { EMBED_SCHEMA_PARTS, runEmbed } from '../src/stage-embed.ts';

const N = 256;
const BATCH = 32;
const SIZE = 224;
const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
const SHARED = process.env.MRI_SHARED ?? sharedDir();

async function realInputs(): Promise<Float32Array> {
  const root = path.join(SHARED, 'datasets', 'nickparvar', 'Training');
  const files = CLASSES.flatMap((c) =>
    readdirSync(path.join(root, c))
      .sort()
      .slice(0, N / 4)
      .map((f) => path.join(root, c, f)),
  );
  const px = new Uint8Array(N * SIZE * SIZE);
  for (let i = 0; i < N; i++) px.set(await sharp(files[i]).greyscale().resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer(), i * SIZE * SIZE);
  const x = imagesToTensor(px, N, { height: SIZE, width: SIZE, channels: 1 }, { inputSize: SIZE, inputChannels: 3 });
  const data = Float32Array.from(x.dataSync() as Float32Array);
  x.dispose();
  return data;
}

interface Measure {
  engine: string;
  threads: number;
  imagesPerSecond: number;
  seconds: number[];
}

async function measure(label: string, fwd: Forward, input: Float32Array, runs: number): Promise<{ m: Measure; out: Float32Array }> {
  const row = SIZE * SIZE * 3;
  let out = new Float32Array(0);
  const once = async () => {
    const parts: Float32Array[] = [];
    for (let s = 0; s < N; s += BATCH) parts.push((await fwd.run(input.subarray(s * row, (s + BATCH) * row), BATCH))[0].data);
    out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
  };
  await once(); // warm-up
  const seconds: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await once();
    seconds.push((performance.now() - t) / 1000);
  }
  const m = { engine: fwd.engine, threads: fwd.threads, imagesPerSecond: N / median(seconds), seconds };
  process.stderr.write(`  ${label}: ${m.imagesPerSecond.toFixed(1)} img/s (median of ${runs}: ${seconds.map((s) => s.toFixed(2)).join(', ')} s)\n`);
  return { m, out };
}

/** Child: the embed stage of `file` from a cold cache on the engine of MRI_INFERENCE; prints seconds. */
async function embedStageWorker(file: string): Promise<void> {
  const experiment = loadExperiment(file, EMBED_SCHEMA_PARTS);
  // Upstream stages from the experiment's own (cached) runs; the embed stage into a fresh folder.
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-engine-embed-'));
  try {
    const { runIngest } = await import('@mri-robust/data');
    const { runNoise } = await import('@mri-robust/noise');
    const { runAugment } = await import('@mri-robust/augment');
    const ingest = await runIngest(experiment, { log: () => {} });
    const noise = await runNoise(experiment, { key: ingest.key, dir: ingest.dir }, { log: () => {} });
    const augment = await runAugment(experiment, { key: noise.key, dir: noise.dir }, { log: () => {} });
    const t = performance.now();
    const res = await runEmbed({ ...experiment, runsDir: tmp }, { augmentDir: augment.dir, noiseDir: noise.dir, augmentKey: augment.key, noiseKey: noise.key });
    const seconds = (performance.now() - t) / 1000;
    if (res.hit) throw new Error('embed stage was a cache hit');
    const images = res.sets.reduce((a, s) => a + s.n, 0);
    process.stdout.write(`\n@@RESULT ${JSON.stringify({ seconds, images })}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args.embedWorker === 'string') return embedStageWorker(args.embedWorker);
  const runs = Number(args.runs ?? 3);
  await selectBackend('wasm');
  const input = await realInputs();
  const backbone = await loadMobileNetV2(path.join(SHARED, 'weights', 'mobilenet_v2_0.35_224'), { inputSize: SIZE });
  process.stderr.write(
    `engine bench: MobileNetV2-0.35 @${SIZE}, ${N} real images, batch ${BATCH}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );

  const tfjs = await measure('tfjs wasm', await createForward(backbone.model, { engine: 'tfjs', threads: 1, ort: null }), input, runs);
  const all = resolveThreads();
  const ort1 = await measure('onnxruntime 1 thread', await createForward(backbone.model, await selectInference('onnxruntime', 1)), input, runs);
  const ortAll =
    all > 1 ? await measure(`onnxruntime ${all} threads`, await createForward(backbone.model, await selectInference('onnxruntime', all)), input, runs) : ort1;
  let maxAbsDiff = 0;
  for (let i = 0; i < tfjs.out.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(tfjs.out[i] - ort1.out[i]));
  const best = ortAll.m.imagesPerSecond > ort1.m.imagesPerSecond ? ortAll.m : ort1.m;

  let embedStage: Record<string, unknown> | null = null;
  if (args.embedStage) {
    const file = typeof args.embedStage === 'string' ? args.embedStage : 'experiments/default.yaml';
    const self = fileURLToPath(import.meta.url);
    const one = (engine: string) => {
      process.stderr.write(`  embed stage of ${file}, cold, ${engine}...\n`);
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, `--embed-worker=${file}`], {
        cwd: workspaceRoot(),
        env: { ...process.env, MRI_INFERENCE: engine, MRI_BACKEND: 'wasm' },
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 << 20,
      }).toString();
      const line = out.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (!line) throw new Error('embed worker printed no result');
      return JSON.parse(line.slice(9)) as { seconds: number; images: number };
    };
    const o = one('onnxruntime');
    const t = one('tfjs');
    embedStage = { experiment: file, images: o.images, tfjs: t.seconds, onnxruntime: o.seconds, ratio: t.seconds / o.seconds };
  }

  const result = {
    bench: 'engine',
    runAt: new Date().toISOString(),
    host: { cpus: os.cpus().length, availableParallelism: os.availableParallelism(), load: os.loadavg() },
    net: 'mobilenet_v2_0.35_224',
    images: N,
    batch: BATCH,
    runs,
    tfjs_wasm_img_s: tfjs.m.imagesPerSecond,
    onnxruntime_img_s: best.imagesPerSecond,
    onnxruntime_threads: best.threads,
    onnxruntime_1_thread_img_s: ort1.m.imagesPerSecond,
    onnxruntime_all_threads_img_s: ortAll.m.imagesPerSecond,
    all_threads: all,
    speedup_1_thread: ort1.m.imagesPerSecond / tfjs.m.imagesPerSecond,
    speedup: best.imagesPerSecond / tfjs.m.imagesPerSecond,
    reference_pytorch_export_ort_1_thread_img_s: 272,
    max_abs_diff: maxAbsDiff,
    embed_stage_seconds: embedStage ? { tfjs: embedStage.tfjs, onnxruntime: embedStage.onnxruntime } : null,
    embed_stage: embedStage,
    measures: [tfjs.m, ort1.m, ...(all > 1 ? [ortAll.m] : [])],
  };
  const dir = path.join(workspaceRoot(), 'runs', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'engine.json'), JSON.stringify(result, null, 2) + '\n');
  process.stderr.write(
    `tfjs ${result.tfjs_wasm_img_s.toFixed(1)} img/s, onnxruntime ${result.onnxruntime_img_s.toFixed(1)} img/s (${best.threads} threads; 1 thread ${ort1.m.imagesPerSecond.toFixed(1)}), ×${result.speedup.toFixed(1)}, max |Δ| ${maxAbsDiff.toExponential(2)}\nwrote runs/bench/engine.json\n`,
  );
  backbone.model.dispose();
}

await main();
