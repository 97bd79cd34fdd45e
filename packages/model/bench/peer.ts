/**
 * Peer benchmark: the partial training step (MobileNetV2-0.35 above block_9_add and above
 * block_12_add, batch 32, Adam, batch-norm statistics frozen, one thread) in PyTorch (peer.py,
 * run by /usr/bin/python3, where Debian's python3-torch lives) and in this project (tfjs wasm,
 * through train.ts's worker: the production training loop), in the same run, and the ratios.
 * Writes runs/bench/peer.json. Skipped, with one line, where `/usr/bin/python3 -c "import torch"`
 * fails. Never part of npm test.
 *   node --import tsx packages/model/bench/peer.ts [--python=/usr/bin/python3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, stringFlag, workspaceRoot } from '@mri-robust/core';

interface PeerRow {
  cut: string;
  features: string;
  imagesPerSecond: number;
  runs: number[];
  imagesPerCpuSecond: number;
  cpuRuns: number[];
}
interface OurRow {
  backend: string;
  mode: string;
  imagesPerSecond: number | null;
  runs: number[];
  imagesPerCpuSecond?: number | null;
  cpuRuns?: number[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
const CUTS = ['block_9_add', 'block_12_add'];

function write(out: object): void {
  const file = path.join(workspaceRoot(), 'runs', 'bench', 'peer.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stderr.write(`[bench peer] wrote ${file}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const python = stringFlag(args, 'python') ?? '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const why = (probe.error?.message ?? probe.stderr.trim().split('\n').at(-1) ?? 'failed').trim();
    process.stderr.write(
      `[bench peer] skipped: ${python} cannot import torch/torchvision (${why}); on Debian: apt-get install python3-torch python3-torchvision\n`,
    );
    write({ name: 'peer', skipped: `${python} cannot import torch/torchvision: ${why}`, measuredAt: new Date().toISOString() });
    return;
  }
  process.stderr.write('[bench peer] PyTorch, 1 thread …\n');
  const peer = JSON.parse(
    execFileSync(python, [path.join(here, 'peer.py')], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
      maxBuffer: 1 << 20,
    }),
  ) as { torch: string; torchvision: string; threads: number; batch: number; rows: PeerRow[] };
  for (const r of peer.rows) {
    process.stderr.write(`[bench peer] torch above ${r.cut}: ${r.imagesPerSecond.toFixed(1)} img/s, ${r.imagesPerCpuSecond.toFixed(1)} img per CPU-s\n`);
  }
  process.stderr.write('[bench peer] this project, tfjs wasm …\n');
  const ours = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', path.join(here, 'train.ts'), '--worker=wasm', `--modes=${CUTS.map((c) => `partial-${c}`).join(',')}`], {
      cwd: workspaceRoot(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, MRI_BACKEND: '', MRI_WASM_KERNELS: '' },
      maxBuffer: 1 << 24,
    }),
  ) as OurRow[];
  const rows = CUTS.map((cut) => {
    const p = peer.rows.find((r) => r.cut === cut);
    const o = ours.find((r) => r.mode === `partial-${cut}`);
    const ratio = p && o?.imagesPerSecond ? Number((o.imagesPerSecond / p.imagesPerSecond).toFixed(3)) : null;
    const cpuRatio = p && o?.imagesPerCpuSecond ? Number((o.imagesPerCpuSecond / p.imagesPerCpuSecond).toFixed(3)) : null;
    return {
      step: `partial above ${cut} (${p?.features ?? '?'}), batch ${peer.batch}, Adam, BN frozen, 1 thread`,
      torchImagesPerSecond: p ? Number(p.imagesPerSecond.toFixed(2)) : null,
      oursImagesPerSecond: o?.imagesPerSecond != null ? Number(o.imagesPerSecond.toFixed(2)) : null,
      oursOverTorch: ratio,
      torchImagesPerCpuSecond: p ? Number(p.imagesPerCpuSecond.toFixed(2)) : null,
      oursImagesPerCpuSecond: o?.imagesPerCpuSecond != null ? Number(o.imagesPerCpuSecond.toFixed(2)) : null,
      oursOverTorchCpuTime: cpuRatio,
      torchRuns: p?.runs.map((v) => Number(v.toFixed(2))) ?? [],
      oursRuns: o?.runs.map((v) => Number(v.toFixed(2))) ?? [],
    };
  });
  for (const r of rows) {
    process.stderr.write(
      `[bench peer] ${r.step}: ours ${r.oursImagesPerSecond} / torch ${r.torchImagesPerSecond} img/s = ${r.oursOverTorch}; per CPU-s ${r.oursImagesPerCpuSecond} / ${r.torchImagesPerCpuSecond} = ${r.oursOverTorchCpuTime}\n`,
    );
  }
  write({
    name: 'peer',
    unit: 'training images/s, wall clock and per CPU-second of each process (medians); oursOverTorch = ours / torch',
    torch: peer.torch,
    torchvision: peer.torchvision,
    torchThreads: peer.threads,
    ours: 'tfjs wasm (SIMD kernels), packages/model/bench/train.ts worker',
    machine: { cpus: os.cpus().length, node: process.version, load: os.loadavg() },
    measuredAt: new Date().toISOString(),
    rows,
  });
}

await main();
