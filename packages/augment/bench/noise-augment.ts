/**
 * Noise + augment benchmark (`npm run bench -- noise`), writes runs/bench/noise.json:
 * 1. images/s of every noise model at 224×224 (grey, severity 3), one thread, median of rounds;
 * 2. the pipeline figure: 10,000 training images at 224×224 through the noise stage (every image,
 *    one of the twelve kinds each, severity 1–5) and then the augment stage (K = 1, default ops),
 *    with worker threads on all cores — wall-clock seconds, median of BENCH_REPEATS runs.
 * Env: BENCH_REPEATS (default 3), BENCH_IMAGES (default 10000), MRI_WORKERS (default: cores).
 */
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImageSetWriter, parseExperiment, workspaceRoot } from '@mri-robust/core';
import { defaultWorkerCount } from '@mri-robust/core';
import { augmentSchemaPart, runAugment } from '../src/index.ts';
import { NOISE_KINDS, noisePixels, noiseSchemaPart, resolveNoiseParams, runNoise } from '@mri-robust/noise';
import { median } from '@mri-robust/core';
import { cpuSeconds, realImages, throughput } from '../../noise/bench/common.ts';

const SIZE = 224;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const COUNT = Number(process.env.BENCH_IMAGES ?? 10000);
const shape = { height: SIZE, width: SIZE, channels: 1 };

process.stderr.write(`noise bench: decoding real images…\n`);
const imgs = await realImages(200, SIZE, 1);

// 1. Per model, one thread.
const perModel: Record<string, { imagesPerSecond: number; imagesPerCpuSecond: number; rounds: number[] }> = {};
for (const kind of NOISE_KINDS) {
  const params = resolveNoiseParams({ kind, severity: 3 });
  const r = throughput((i) => noisePixels({ pixels: imgs[i % imgs.length].pixels, kind, params, seed: i }, shape), 30, 5);
  perModel[kind] = { imagesPerSecond: round(r.median), imagesPerCpuSecond: round(r.perCpuSecond), rounds: r.runs.map(round) };
  process.stderr.write(`  ${kind.padEnd(14)} ${r.median.toFixed(1)} img/s wall, ${r.perCpuSecond.toFixed(1)} img per CPU-s\n`);
}

// 2. Pipeline: noise + augment of COUNT images with worker threads.
const root = await mkdtemp(path.join(tmpdir(), 'noise-bench-'));
const ingestDir = path.join(root, 'ingest');
const w = await ImageSetWriter.create(ingestDir, { ...shape, classes: ['glioma', 'meningioma', 'notumor', 'pituitary'] });
for (let i = 0; i < COUNT; i++) {
  const src = imgs[i % imgs.length];
  await w.add(src.pixels, { id: `img${i}`, label: src.label, split: 'train', source: 'nickparvar', path: `bench/${i}` });
}
await w.close();
const kinds = NOISE_KINDS.map((k) => `      - { kind: ${k}, probability: 1, severity: [1, 5] }`).join('\n');
const runs: { noiseSeconds: number; augmentSeconds: number; totalSeconds: number; cpuSeconds: number; loadAverage1m: number }[] = [];
for (let r = 0; r < REPEATS; r++) {
  const file = path.join(root, `exp${r}.yaml`);
  const text = `name: bench\nseed: ${100 + r}\nruns: ./runs\nnoise:\n  train:\n    fraction: 1\n    mode: replace\n    kinds:\n${kinds}\naugment:\n  copies: 1\n`;
  await writeFile(file, text);
  const exp = parseExperiment(text, file, [noiseSchemaPart, augmentSchemaPart]);
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const noise = await runNoise(exp, { key: 'bench-ingest', dir: ingestDir });
  const t1 = performance.now();
  const aug = await runAugment(exp, noise);
  const t2 = performance.now();
  const cpu = cpuSeconds() - c0;
  runs.push({
    noiseSeconds: round((t1 - t0) / 1000),
    augmentSeconds: round((t2 - t1) / 1000),
    totalSeconds: round((t2 - t0) / 1000),
    cpuSeconds: round(cpu),
    loadAverage1m: round(loadavg()[0]),
  });
  process.stderr.write(
    `  run ${r + 1}: noise ${((t1 - t0) / 1000).toFixed(1)} s + augment ${((t2 - t1) / 1000).toFixed(1)} s wall, ${cpu.toFixed(1)} CPU-s, load ${loadavg()[0].toFixed(1)}\n`,
  );
  await rm(path.join(root, 'runs'), { recursive: true, force: true });
  void aug;
}
await rm(root, { recursive: true, force: true });

const result = {
  bench: 'noise',
  runAt: new Date().toISOString(),
  machine: { cpus: cpus().length, availableParallelism: availableParallelism(), model: cpus()[0]?.model ?? '?', workers: defaultWorkerCount() },
  image: `${SIZE}x${SIZE}x1`,
  perModel: { severity: 3, threads: 1, ...perModel },
  pipeline: {
    images: COUNT,
    description:
      'noise stage (every image, one of 12 kinds, severity 1–5, replace) + augment stage (K = 1, default ops), worker threads, including image-set I/O',
    runs,
    medianNoiseSeconds: round(median(runs.map((r) => r.noiseSeconds))),
    medianAugmentSeconds: round(median(runs.map((r) => r.augmentSeconds))),
    medianTotalSeconds: round(median(runs.map((r) => r.totalSeconds))),
    medianCpuSeconds: round(median(runs.map((r) => r.cpuSeconds))),
    /** CPU seconds / 2: the wall time on two otherwise idle cores, if the work splits evenly. */
    projectedSecondsOnTwoIdleCores: round(median(runs.map((r) => r.cpuSeconds)) / 2),
    under2Minutes: median(runs.map((r) => r.totalSeconds)) < 120,
  },
};
const out = path.join(workspaceRoot(), 'runs', 'bench');
await mkdir(out, { recursive: true });
await writeFile(path.join(out, 'noise.json'), JSON.stringify(result, null, 2));
process.stderr.write(
  `noise bench: ${COUNT} images noise + augment, median ${result.pipeline.medianTotalSeconds} s wall (${result.pipeline.medianCpuSeconds} CPU-s) → runs/bench/noise.json\n`,
);

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
