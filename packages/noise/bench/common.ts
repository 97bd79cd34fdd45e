import { readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { median, sharedDir } from '@mri-robust/core';

/** Real slices from ../shared/datasets (nickparvar Training, round-robin over classes), decoded to size² × channels. */
export async function realImages(count: number, size: number, channels: 1 | 3): Promise<{ label: string; pixels: Uint8Array }[]> {
  const classes = ['glioma', 'meningioma', 'notumor', 'pituitary'];
  const lists = classes.map((c) => readdirSync(path.join(sharedDir(), 'datasets/nickparvar/Training', c)).sort());
  const out: { label: string; pixels: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const c = i % 4;
    const file = path.join(sharedDir(), 'datasets/nickparvar/Training', classes[c], lists[c][Math.floor(i / 4) % lists[c].length]);
    let img = sharp(file).resize(size, size, { fit: 'contain', background: '#000' }).removeAlpha();
    img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
    const { data } = await img.raw().toBuffer({ resolveWithObject: true });
    out.push({ label: classes[c], pixels: new Uint8Array(data) });
  }
  return out;
}

/** CPU seconds (user + system) of this process so far, all threads included. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Images per second of `f` over `n` calls, median of `repeats` timed rounds after a warm-up:
 * per wall-clock second, and per CPU second of this process (which does not depend on what else
 * runs on a shared machine).
 */
export function throughput(f: (i: number) => void, n: number, repeats: number): { median: number; runs: number[]; perCpuSecond: number } {
  for (let i = 0; i < Math.min(n, 8); i++) f(i);
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    const c = cpuSeconds();
    for (let i = 0; i < n; i++) f(i);
    runs.push(n / ((performance.now() - t) / 1000));
    cpu.push(n / Math.max(1e-6, cpuSeconds() - c));
  }
  return { median: median(runs), runs, perCpuSecond: median(cpu) };
}
