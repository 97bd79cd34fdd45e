/**
 * Per-kernel time of one partial training step on wasm → runs/bench/train-profile.json.
 *
 * The step is the production one (forwardTrain → crossEntropy → Adam over the trainable weights),
 * split as forward / backward / optimizer, on MobileNetV2-0.35's top above a cut layer (default
 * block_9_add: 14×14×24 in, blocks 10–16 + Conv_1, batch norm folded), batch 32, inputs from a
 * seeded normal draw. Every kernel registered for wasm is wrapped in a timer; a kernel's *self*
 * time excludes the kernels it calls (the project's composite kernels call others), so the shares
 * add up to the step. Medians over the timed steps (after warm-up steps). The clock is the
 * process's CPU time by default (`--clock=cpu`: on a shared machine wall time charges every wait
 * for a core to whichever kernel was running); `--clock=wall` for a quiet machine.
 *
 *   node --import tsx packages/model/bench/train-profile.ts [--cut=block_9_add] [--steps=5] [--batch=32] [--clock=cpu|wall]
 *   … --full=cnn (the `cnn` at 128 px, batch norm in training mode) | --full=mobilenet (224 px, batch 8)
 *   (the full-mode profiles write runs/bench/train-profile-<full>.json)
 *   MRI_WASM_KERNELS=composite …   profile with the composite backprop kernels instead of the fast ones
 *   MRI_WASM_KERNELS=unfused …     the SIMD kernels without the fused convolutions and Adam
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRng, median, parseArgs, sharedDir, stringFlag, workspaceRoot } from '@mri-robust/core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { buildCnn } from '../src/nets/cnn.ts';
import { loadMobileNetV2, splitAtLayer, trainableBackbone } from '../src/nets/mobilenet.ts';
import { buildClassifier, crossEntropy, forwardTrain } from '../src/train/index.ts';
import { adam } from '../src/train/adam.ts';
import { clockMs, kernelTimer, type TimerClock } from '../src/kernels/timer.ts';

type Phase = 'forward' | 'backward' | 'optimizer';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const full = stringFlag(args, 'full');
  if (full && full !== 'cnn' && full !== 'mobilenet') throw new Error(`--full=${full}: use cnn or mobilenet`);
  const cut = stringFlag(args, 'cut') ?? 'block_9_add';
  const steps = Number(stringFlag(args, 'steps') ?? 5);
  const warmup = 2;
  const batch = Number(stringFlag(args, 'batch') ?? (full === 'mobilenet' ? 8 : 32));
  const clock = stringFlag(args, 'clock') ?? 'cpu';
  if (clock !== 'cpu' && clock !== 'wall') throw new Error(`--clock=${clock}: use cpu or wall`);
  const sel = await selectBackend('wasm');
  const weights = path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');
  let trunk: LayersModel;
  let sampleShape: number[];
  let trunkTraining = false;
  if (full === 'cnn') {
    sampleShape = [128, 128, 1];
    trunk = buildCnn({ inputShape: [128, 128, 1], widths: [16, 32, 64], seed: 1 });
    trunkTraining = true;
  } else if (full === 'mobilenet') {
    sampleShape = [224, 224, 3];
    trunk = trainableBackbone((await loadMobileNetV2(weights, { inputSize: 224 })).model);
  } else {
    const split = splitAtLayer((await loadMobileNetV2(weights, { inputSize: 224 })).model, cut);
    sampleShape = split.cutShape;
    trunk = split.buildTop();
  }
  const clf = buildClassifier({ inputShape: sampleShape, numClasses: 4, dropout: 0.2, seed: 1, trunk });
  const rng = createRng('train-profile');
  const size = sampleShape.reduce((a, c) => a * c, 1);
  const xData = Float32Array.from({ length: batch * size }, () => rng.normal());
  const yData = Int32Array.from({ length: batch }, (_, i) => i % 4);
  const optimizer = adam(1e-4);
  const vars = clf.model.trainableWeights.map((w) => w.read() as Variable);
  const timer = kernelTimer('wasm', clock satisfies TimerClock);
  const perStep: Map<string, number>[] = [];
  const stepMs: number[] = [];
  const stepCpuMs: number[] = [];
  // Per step, each phase's time in the profile's clock, kernels and everything else (tape, JS, GC).
  const phaseRuns: Record<Phase, number>[] = [];
  try {
    for (let s = 0; s < warmup + steps; s++) {
      const x = tf.tensor(xData, [batch, ...sampleShape]);
      const y = tf.tensor1d(yData, 'int32');
      timer.reset();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const mark = [clockMs(clock)];
      timer.phase = 'forward' satisfies Phase;
      const { value, grads } = optimizer.computeGradients(() => {
        const probs = forwardTrain(clf, x, 1000 + s, trunkTraining);
        const loss = crossEntropy(probs, y, 4);
        timer.phase = 'backward' satisfies Phase;
        mark.push(clockMs(clock));
        return loss;
      }, vars);
      mark.push(clockMs(clock));
      timer.phase = 'optimizer' satisfies Phase;
      optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]);
      value.dataSync();
      mark.push(clockMs(clock));
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      tf.dispose([x, y, value, ...Object.values(grads)] as Tensor[]);
      if (s >= warmup) {
        perStep.push(new Map(timer.selfMs()));
        stepMs.push(ms);
        stepCpuMs.push((cpu.user + cpu.system) / 1000);
        phaseRuns.push({ forward: mark[1] - mark[0], backward: mark[2] - mark[1], optimizer: mark[3] - mark[2] });
      }
      process.stderr.write(
        `[train-profile] step ${s + 1}/${warmup + steps}: ${ms.toFixed(0)} ms, CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms${s < warmup ? ' (warm-up)' : ''}\n`,
      );
    }
  } finally {
    timer.restore();
  }
  const keys = new Set(perStep.flatMap((m) => [...m.keys()]));
  const rows = [...keys]
    .map((key) => {
      const [phase, kernel] = key.split('|');
      const ms = median(perStep.map((m) => m.get(key) ?? 0));
      const calls = timer.calls().get(key) ?? 0;
      return { phase, kernel, ms, calls: Math.round(calls / (warmup + steps)) };
    })
    .sort((a, b2) => b2.ms - a.ms);
  const kernelTotal = rows.reduce((a, r) => a + r.ms, 0);
  // Shares are of the step in the profile's clock.
  const step = median(clock === 'cpu' ? stepCpuMs : stepMs);
  const table = rows.map((r) => ({ ...r, ms: Number(r.ms.toFixed(3)), share: Number((r.ms / step).toFixed(4)) }));
  const phases = Object.fromEntries(
    (['forward', 'backward', 'optimizer'] as Phase[]).map((p) => [
      p,
      Number(
        rows
          .filter((r) => r.phase === p)
          .reduce((a, r) => a + r.ms, 0)
          .toFixed(2),
      ),
    ]),
  );
  const out = {
    name: 'train-profile',
    what: full
      ? `one full training step of ${full === 'cnn' ? 'the cnn at 128 px' : 'MobileNetV2-0.35 at 224 px'} (batch ${batch}, Adam), wasm, self time per kernel`
      : `one partial training step above ${cut} (MobileNetV2-0.35, batch norm folded, batch ${batch}, Adam), wasm, self time per kernel`,
    backend: sel.name,
    details: sel.details,
    kernels: process.env.MRI_WASM_KERNELS || 'fast',
    cut: full ? null : cut,
    full: full ?? null,
    batch,
    steps,
    clock,
    stepMs: Number(median(stepMs).toFixed(2)),
    imagesPerSecond: Number(((batch * 1000) / median(stepMs)).toFixed(2)),
    kernelMs: Number(kernelTotal.toFixed(2)),
    outsideKernelsMs: Number((step - kernelTotal).toFixed(2)),
    phases,
    /** Each phase's median time with what runs outside kernels (tape, JS, GC), in the profile's clock. */
    phaseTotals: Object.fromEntries((['forward', 'backward', 'optimizer'] as Phase[]).map((p) => [p, Number(median(phaseRuns.map((r) => r[p])).toFixed(2))])),
    stepRunsMs: stepMs.map((v) => Number(v.toFixed(2))),
    stepCpuMs: Number(median(stepCpuMs).toFixed(2)),
    imagesPerCpuSecond: Number(((batch * 1000) / median(stepCpuMs)).toFixed(2)),
    machine: { cpus: os.cpus().length, node: process.version, load: os.loadavg() },
    measuredAt: new Date().toISOString(),
    rows: table,
  };
  const file = path.join(workspaceRoot(), 'runs', 'bench', full ? `train-profile-${full}.json` : 'train-profile.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stderr.write(
    `[train-profile] step ${out.stepMs} ms = ${out.imagesPerSecond} img/s (CPU time ${out.stepCpuMs} ms = ${out.imagesPerCpuSecond} img per CPU-s); kernels ${kernelTotal.toFixed(1)} ms (${clock} clock)\n`,
  );
  process.stderr.write(`  phases with the time outside kernels: ${JSON.stringify(out.phaseTotals)}; kernels only: ${JSON.stringify(phases)}\n`);
  for (const r of table.slice(0, 25)) {
    process.stderr.write(
      `  ${r.phase.padEnd(9)} ${r.kernel.padEnd(36)} ${r.ms.toFixed(2).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)} % ×${r.calls}\n`,
    );
  }
  process.stderr.write(`[train-profile] wrote ${file}\n`);
}

await main();
