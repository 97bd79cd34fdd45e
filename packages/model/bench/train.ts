/**
 * Training throughput (images/s) per backend and mode, through the production training loop
 * (trainLoop: seeded shuffling, Adam, dropout, validation), on inputs shaped as the brain-mri
 * experiment's: head [1280] embeddings, partial activations at block_12_add (14×14×32 at 224 px),
 * full mode with the `cnn` at 128 px and with MobileNetV2 at 224 px. Each backend runs in its own
 * child process (one backend per process). Median of 3 timed epochs after a warm-up epoch.
 * Writes runs/bench/model-train.json.
 *   node --import tsx packages/model/bench/train.ts [--backends=wasm,cpu] [--modes=head,partial,...]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { createRng, parseArgs, sharedDir, stringFlag, workspaceRoot } from '@mri-robust/core';
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
  {
    mode: 'partial',
    batch: 32,
    steps: 3,
    skip: ['cpu'],
    build: async () => {
      const b = await loadMobileNetV2(weights(), { inputSize: 224 });
      const s = splitAtLayer(b.model, 'block_12_add');
      return { trunk: s.buildTop(), sampleShape: s.cutShape, trunkTraining: false };
    },
  },
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
  const r = await trainLoop(clf, train, val, {
    epochs: 4,
    learningRate: 1e-4,
    batchSize: spec.batch,
    earlyStopping: { monitor: 'val_loss', patience: 100, restoreBest: false },
    reduceLr: { factor: 0.5, patience: 100, minLr: 0 },
    seed: 1,
    trunkTraining,
  });
  const runs = r.epochs.slice(1).map((e) => n / e.seconds);
  const sorted = [...runs].sort((a, b) => a - b);
  clf.model.dispose();
  return { backend, mode: spec.mode, batch: spec.batch, imagesPerEpoch: n, imagesPerSecond: sorted[1], runs };
}

async function worker(backend: string, modes: string[]): Promise<void> {
  const sel = await selectBackend(backend as BackendPreference);
  const rows: Row[] = [];
  for (const spec of MODES.filter((m) => modes.includes(m.mode))) {
    if (spec.skip?.includes(sel.name)) {
      rows.push({ backend: sel.name, mode: spec.mode, batch: spec.batch, imagesPerEpoch: 0, imagesPerSecond: null, runs: [], note: 'skipped: too slow on this backend' });
      continue;
    }
    const row = await measure(sel.name, spec);
    process.stderr.write(`[bench train] ${sel.name} ${spec.mode}: ${row.imagesPerSecond?.toFixed(1)} img/s (${row.runs.map((v) => v.toFixed(1)).join(', ')})\n`);
    rows.push(row);
  }
  process.stdout.write(JSON.stringify(rows));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const modes = (stringFlag(args, 'modes') ?? MODES.map((m) => m.mode).join(',')).split(',');
  const w = stringFlag(args, 'worker');
  if (w) return worker(w, modes);
  const backends = (stringFlag(args, 'backends') ?? 'wasm,cpu').split(',');
  const rows: Row[] = [];
  for (const b of backends) {
    try {
      const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), `--worker=${b}`, `--modes=${modes.join(',')}`], {
        cwd: workspaceRoot(),
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, MRI_BACKEND: '' },
        maxBuffer: 1 << 24,
      });
      rows.push(...(JSON.parse(out.toString()) as Row[]));
    } catch (e) {
      rows.push({ backend: b, mode: '*', batch: 0, imagesPerEpoch: 0, imagesPerSecond: null, runs: [], note: `unavailable: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  const file = path.join(workspaceRoot(), 'runs', 'bench', 'model-train.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({ name: 'model-train', unit: 'training images/s (median of 3 epochs)', machine: { cpus: os.cpus().length, node: process.version }, measuredAt: new Date().toISOString(), rows }, null, 2) + '\n',
  );
  process.stderr.write(`[bench train] wrote ${file}\n`);
}

await main();
