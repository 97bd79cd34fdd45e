/**
 * Backbone forward-pass bench → runs/bench/backbones.json. `npm run bench -- backbones`.
 *
 * What the embed stage runs per image, for MobileNetV2-0.35 and MobileNetV1-0.75 (real ImageNet
 * weights from ../shared, 224 px, the same 64 real scans, batch 32, ONNX Runtime with one thread,
 * each through this project's own ONNX export): the pooled output (head), the multi-layer feature
 * model (head with model.features) and the bottom up to the partial cut. Rounds interleave the
 * networks; each round's images/s is divided by MobileNetV2-0.35 pooled of the same round, and the
 * figures are medians over rounds (ratios stay meaningful on a loaded machine; absolute rates do not).
 *
 *   node --import tsx packages/model/bench/backbones.ts [--rounds=3]
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { median, parseArgs, sharedDir, workspaceRoot } from '@mri-robust/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { selectInference } from '../src/backend/inference.ts';
import { BACKBONE_SPECS, loadBackbone, type PretrainedBackbone } from '../src/nets/backbones.ts';
import { multiLayerFeatures } from '../src/nets/features.ts';
import { splitAtLayer } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { createForward, type Forward } from '../src/onnx/forward.ts';

const N = 64;
const BATCH = 32;
const SIZE = 224;
const SHARED = process.env.MRI_SHARED ?? sharedDir();
const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];

/** The nets measured: backbone, weights folder, what is run. */
const NETS: { id: string; backbone: PretrainedBackbone; weights: string; build: (m: LayersModel) => LayersModel }[] = [
  { id: 'v2_pooled', backbone: 'mobilenet_v2', weights: 'mobilenet_v2_0.35_224', build: (m) => m },
  {
    id: 'v2_multi',
    backbone: 'mobilenet_v2',
    weights: 'mobilenet_v2_0.35_224',
    build: (m) => multiLayerFeatures(m, ['block_2_add', 'block_5_add', 'block_12_add', 'block_15_add', 'out_relu']).model,
  },
  { id: 'v2_bottom_block_9_add', backbone: 'mobilenet_v2', weights: 'mobilenet_v2_0.35_224', build: (m) => splitAtLayer(m, 'block_9_add').bottom },
  { id: 'v1_pooled', backbone: 'mobilenet_v1', weights: 'mobilenet_v1_0.75_224', build: (m) => m },
  {
    id: 'v1_multi',
    backbone: 'mobilenet_v1',
    weights: 'mobilenet_v1_0.75_224',
    build: (m) => multiLayerFeatures(m, ['conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu', 'conv_pw_13_relu']).model,
  },
  {
    id: 'v1_bottom_conv_pw_12_relu',
    backbone: 'mobilenet_v1',
    weights: 'mobilenet_v1_0.75_224',
    build: (m) => splitAtLayer(m, BACKBONE_SPECS.mobilenet_v1.defaultCutLayer).bottom,
  },
];

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
  // Both backbones scale to [-1, 1] (BACKBONE_SPECS[...].scaling).
  const x = imagesToTensor(px, N, { height: SIZE, width: SIZE, channels: 1 }, { inputSize: SIZE, inputChannels: 3, scaling: 'scale_-1_1' });
  const data = Float32Array.from(x.dataSync() as Float32Array);
  x.dispose();
  return data;
}

async function timeOnce(fwd: Forward, input: Float32Array): Promise<number> {
  const row = SIZE * SIZE * 3;
  const t = performance.now();
  for (let s = 0; s < N; s += BATCH) await fwd.run(input.subarray(s * row, (s + BATCH) * row), BATCH);
  return (performance.now() - t) / 1000;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rounds = Number(args.rounds ?? 3);
  await selectBackend('wasm');
  const engine = await selectInference('onnxruntime', 1);
  const input = await realInputs();
  const load0 = os.loadavg();
  process.stderr.write(
    `backbones bench: ${N} real scans @${SIZE}, batch ${BATCH}, onnxruntime 1 thread, ${rounds} rounds, load ${load0.map((l) => l.toFixed(1)).join(' ')}\n`,
  );
  const forwards: { id: string; fwd: Forward; outputSize: number }[] = [];
  for (const n of NETS) {
    const b = await loadBackbone(n.backbone, path.join(SHARED, 'weights', n.weights), { inputSize: SIZE });
    const net = n.build(b.model);
    const outputSize = (net.outputs[0].shape.slice(1) as number[]).reduce((a, d) => a * d, 1);
    const fwd = await createForward(net, engine);
    await timeOnce(fwd, input); // warm-up
    forwards.push({ id: n.id, fwd, outputSize });
    b.model.dispose();
  }
  const seconds: Record<string, number[]> = Object.fromEntries(NETS.map((n) => [n.id, []]));
  const ratios: Record<string, number[]> = Object.fromEntries(NETS.map((n) => [n.id, []]));
  for (let r = 0; r < rounds; r++) {
    const round: Record<string, number> = {};
    for (const f of forwards) round[f.id] = await timeOnce(f.fwd, input);
    for (const f of forwards) {
      seconds[f.id].push(round[f.id]);
      ratios[f.id].push(round.v2_pooled / round[f.id]); // images/s relative to v2_pooled
    }
    process.stderr.write(`  round ${r + 1}: ${forwards.map((f) => `${f.id} ${(N / round[f.id]).toFixed(1)} img/s`).join(', ')}\n`);
  }
  const nets = Object.fromEntries(
    forwards.map((f) => [
      f.id,
      { images_per_second: N / median(seconds[f.id]), relative_to_v2_pooled: median(ratios[f.id]), floats_per_image: f.outputSize, seconds: seconds[f.id] },
    ]),
  );
  for (const f of forwards) await f.fwd.dispose();
  const result = {
    bench: 'backbones',
    runAt: new Date().toISOString(),
    host: { cpus: os.cpus().length, load_start: load0, load_end: os.loadavg() },
    images: N,
    batch: BATCH,
    input_size: SIZE,
    engine: 'onnxruntime',
    threads: 1,
    rounds,
    nets,
  };
  const dir = path.join(workspaceRoot(), 'runs', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'backbones.json'), JSON.stringify(result, null, 2) + '\n');
  for (const [id, v] of Object.entries(nets)) {
    process.stderr.write(
      `${id.padEnd(28)} ${v.images_per_second.toFixed(1).padStart(7)} img/s  ×${v.relative_to_v2_pooled.toFixed(2)} of v2_pooled  (${v.floats_per_image} floats/image)\n`,
    );
  }
  process.stderr.write(`→ ${path.join(dir, 'backbones.json')}\n`);
}

await main();
