/**
 * Training throughput (images/s) per backend and mode, through the production training loop
 * (trainLoop: seeded shuffling, Adam, dropout, validation), on inputs shaped as the brain-mri
 * experiment's: head [1280] embeddings, partial activations at block_9_add (14×14×24 at 224 px,
 * the shipped cut) and block_12_add (14×14×32), full mode with the `cnn` at 128 px and with
 * MobileNetV2 at 224 px. Each backend runs in its own child process (one backend per process);
 * `wasm-composite` is wasm with MRI_WASM_KERNELS=composite (the composite backprop kernels, no
 * SIMD kernels), so one bench run measures both on the same (shared, noisy) machine, and the
 * summary gives each mode's ratio. `wasm-unfused` (MRI_WASM_KERNELS=unfused: the SIMD kernels
 * without the fused convolution + ReLU6 kernels and the fused Adam) is there to measure those
 * against the rest (`--backends=wasm,wasm-unfused`, ratio `fusedOverUnfused`). Median of 3 timed
 * epochs after a warm-up epoch.
 * Writes runs/bench/model-train.json.
 *   node --import tsx packages/model/bench/train.ts [--backends=wasm,wasm-composite,cpu] [--modes=head,partial-block_9_add,...] [--rounds=3]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { createRng, median, parseArgs, sharedDir, stringFlag, workspaceRoot } from '@mri-robust/core';
import { selectBackend, type BackendPreference } from '../src/backend/select.ts';
import { loadMobileNetV2, splitAtLayer, trainableBackbone } from '../src/nets/mobilenet.ts';
import { buildCnn } from '../src/nets/cnn.ts';
import { arraySource, buildClassifier, trainLoop } from '../src/train/index.ts';
import type { LayersModel } from '@tensorflow/tfjs-layers';

interface ModeSpec {
  mode: string;
  batch: number;
  steps: number;
  /** Skipped on these backends (too slow to measure in a bench run). */
  skip?: string[];
  build(): Promise<{ trunk: LayersModel | null; sampleShape: number[]; trunkTraining: boolean }>;
}

const weights = () => path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

const MODES: ModeSpec[] = [
  { mode: 'head', batch: 32, steps: 60, build: async () => ({ trunk: null, sampleShape: [1280], trunkTraining: false }) },
  ...['block_9_add', 'block_12_add'].map(
    (cut): ModeSpec => ({
      mode: `partial-${cut}`,
      batch: 32,
      steps: 4,
      skip: ['cpu'],
      build: async () => {
        const b = await loadMobileNetV2(weights(), { inputSize: 224 });
        const s = splitAtLayer(b.model, cut);
        return { trunk: s.buildTop(), sampleShape: s.cutShape, trunkTraining: false };
      },
    }),
  ),
  {
    mode: 'full-cnn-128',
    batch: 32,
    steps: 2,
    skip: ['cpu'],
    build: async () => ({ trunk: buildCnn({ inputShape: [128, 128, 1], widths: [16, 32, 64], seed: 1 }), sampleShape: [128, 128, 1], trunkTraining: true }),
  },
  {
    mode: 'full-mobilenet-224',
    batch: 8,
    steps: 1,
    skip: ['cpu'],
    build: async () => {
      const b = await loadMobileNetV2(weights(), { inputSize: 224 });
      return { trunk: trainableBackbone(b.model), sampleShape: [224, 224, 3], trunkTraining: false };
    },
  },
];

interface Row {
  backend: string;
  mode: string;
  batch: number;
  imagesPerEpoch: number;
  imagesPerSecond: number | null;
  runs: number[];
  /**
   * Images per second of this process's CPU time (user + system), per epoch: what one core does
   * when the machine is shared (wall time then also counts the waits for a core).
   */
  imagesPerCpuSecond?: number | null;
  cpuRuns?: number[];
  note?: string;
}

async function measure(backend: string, spec: ModeSpec): Promise<Row> {
  const { trunk, sampleShape, trunkTraining } = await spec.build();
  const rng = createRng(`bench-${spec.mode}`);
  const n = spec.batch * spec.steps;
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * size }, () => rng.normal());
  const y = Int32Array.from({ length: n }, (_, i) => i % 4);
  const train = arraySource(x, [n, ...sampleShape], y);
  const val = arraySource(x.subarray(0, size), [1, ...sampleShape], y.subarray(0, 1));
  const clf = buildClassifier({ inputShape: sampleShape, numClasses: 4, dropout: 0.2, seed: 1, trunk });
  const cpuSeconds: number[] = [];
  let cpu = process.cpuUsage();
  const r = await trainLoop(clf, train, val, {
    onEpoch: () => {
      const d = process.cpuUsage(cpu);
      cpuSeconds.push((d.user + d.system) / 1e6);
      cpu = process.cpuUsage();
      return 'continue';
    },
    epochs: 4,
    learningRate: 1e-4,
    batchSize: spec.batch,
    earlyStopping: { monitor: 'val_loss', patience: 100, restoreBest: false },
    reduceLr: { factor: 0.5, patience: 100, minLr: 0 },
    seed: 1,
    trunkTraining,
  });
  const runs = r.epochs.slice(1).map((e) => n / e.seconds);
  const cpuRuns = cpuSeconds.slice(1).map((sec) => n / sec);
  clf.model.dispose();
  return {
    backend,
    mode: spec.mode,
    batch: spec.batch,
    imagesPerEpoch: n,
    imagesPerSecond: median(runs),
    runs,
    imagesPerCpuSecond: median(cpuRuns),
    cpuRuns,
  };
}

/** Bench variants: a backend, or wasm with the composite or the unfused kernels (MRI_WASM_KERNELS). */
const VARIANTS: Record<string, { backend: BackendPreference; env: Record<string, string> }> = {
  wasm: { backend: 'wasm', env: { MRI_WASM_KERNELS: '' } },
  'wasm-composite': { backend: 'wasm', env: { MRI_WASM_KERNELS: 'composite' } },
  'wasm-unfused': { backend: 'wasm', env: { MRI_WASM_KERNELS: 'unfused' } },
  cpu: { backend: 'cpu', env: {} },
};

async function worker(variant: string, modes: string[]): Promise<void> {
  const sel = await selectBackend(VARIANTS[variant]?.backend ?? (variant as BackendPreference));
  const label = variant === 'wasm-composite' || variant === 'wasm-unfused' ? variant : sel.name;
  const rows: Row[] = [];
  for (const spec of MODES.filter((m) => modes.includes(m.mode))) {
    if (spec.skip?.includes(sel.name)) {
      rows.push({
        backend: label,
        mode: spec.mode,
        batch: spec.batch,
        imagesPerEpoch: 0,
        imagesPerSecond: null,
        runs: [],
        note: 'skipped: too slow on this backend',
      });
      continue;
    }
    const row = await measure(label, spec);
    process.stderr.write(
      `[bench train] ${label} ${spec.mode}: ${row.imagesPerSecond?.toFixed(1)} img/s (${row.runs.map((v) => v.toFixed(1)).join(', ')}); ${row.imagesPerCpuSecond?.toFixed(1)} img per CPU-s\n`,
    );
    rows.push(row);
  }
  process.stdout.write(JSON.stringify(rows));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const modes = (stringFlag(args, 'modes') ?? MODES.map((m) => m.mode).join(',')).split(',');
  const w = stringFlag(args, 'worker');
  if (w) return worker(w, modes);
  const backends = (stringFlag(args, 'backends') ?? 'wasm,wasm-composite,cpu').split(',');
  // Rounds (--rounds=N, default 1): each mode runs in every variant in turn, N times, so that
  // fast and composite kernels see the same load on a shared machine; ratios are per round.
  const rounds = Number(stringFlag(args, 'rounds') ?? 1);
  const perRound: Row[][] = [];
  const rows: Row[] = [];
  for (let r = 0; r < rounds; r++) {
    const got: Row[] = [];
    for (const mode of modes) {
      for (const b of backends) {
        try {
          const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), `--worker=${b}`, `--modes=${mode}`], {
            cwd: workspaceRoot(),
            stdio: ['ignore', 'pipe', 'inherit'],
            env: { ...process.env, MRI_BACKEND: '', ...(VARIANTS[b]?.env ?? {}) },
            maxBuffer: 1 << 24,
          });
          got.push(...(JSON.parse(out.toString()) as Row[]));
        } catch (e) {
          got.push({
            backend: b,
            mode,
            batch: 0,
            imagesPerEpoch: 0,
            imagesPerSecond: null,
            runs: [],
            note: `unavailable: ${(e as Error).message.split('\n')[0]}`,
          });
        }
      }
    }
    perRound.push(got);
  }
  for (const r0 of perRound[0]) {
    const same = perRound.map((g) => g.find((x) => x.backend === r0.backend && x.mode === r0.mode)).filter((x): x is Row => !!x);
    const ips = same.map((x) => x.imagesPerSecond).filter((v): v is number => v != null);
    const cps = same.map((x) => x.imagesPerCpuSecond).filter((v): v is number => v != null);
    rows.push({
      ...r0,
      imagesPerSecond: ips.length ? median(ips) : null,
      runs: same.flatMap((x) => x.runs),
      imagesPerCpuSecond: cps.length ? median(cps) : null,
      cpuRuns: same.flatMap((x) => x.cpuRuns ?? []),
    });
  }
  const file = path.join(workspaceRoot(), 'runs', 'bench', 'model-train.json');
  mkdirSync(path.dirname(file), { recursive: true });
  // Fast (SIMD) kernels against the composites, per mode: median over rounds of the round's ratio.
  const speedup: Record<string, number> = {};
  const speedupCpu: Record<string, number> = {};
  const ratio = (mode: string, key: 'imagesPerSecond' | 'imagesPerCpuSecond', against = 'wasm-composite') => {
    const ratios = perRound
      .map((g) => {
        const f = g.find((x) => x.backend === 'wasm' && x.mode === mode)?.[key];
        const c = g.find((x) => x.backend === against && x.mode === mode)?.[key];
        return f && c ? f / c : null;
      })
      .filter((v): v is number => v != null);
    return ratios.length ? Number(median(ratios).toFixed(2)) : null;
  };
  // Fused kernels (the default) against wasm-unfused, per mode, likewise.
  const fused: Record<string, number> = {};
  const fusedCpu: Record<string, number> = {};
  for (const mode of modes) {
    const w = ratio(mode, 'imagesPerSecond');
    const c = ratio(mode, 'imagesPerCpuSecond');
    if (w != null) speedup[mode] = w;
    if (c != null) speedupCpu[mode] = c;
    const fw = ratio(mode, 'imagesPerSecond', 'wasm-unfused');
    const fc = ratio(mode, 'imagesPerCpuSecond', 'wasm-unfused');
    if (fw != null) fused[mode] = fw;
    if (fc != null) fusedCpu[mode] = fc;
  }
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        name: 'model-train',
        unit: 'training images/s (median of 3 epochs; with rounds, median of the rounds)',
        rounds,
        machine: { cpus: os.cpus().length, node: process.version, load: os.loadavg() },
        measuredAt: new Date().toISOString(),
        simdOverComposite: speedup,
        simdOverCompositeCpuTime: speedupCpu,
        fusedOverUnfused: fused,
        fusedOverUnfusedCpuTime: fusedCpu,
        rows,
      },
      null,
      2,
    )}\n`,
  );
  if (Object.keys(speedup).length)
    process.stderr.write(`[bench train] wasm SIMD kernels / composites: wall ${JSON.stringify(speedup)}, CPU time ${JSON.stringify(speedupCpu)}\n`);
  if (Object.keys(fused).length)
    process.stderr.write(`[bench train] wasm fused / unfused kernels: wall ${JSON.stringify(fused)}, CPU time ${JSON.stringify(fusedCpu)}\n`);
  process.stderr.write(`[bench train] wrote ${file}\n`);
}

await main();
