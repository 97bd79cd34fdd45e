// The Wiener denoiser's cost (model.denoise: wiener): ms per 224² grey scan on one core for
// denoisePixels (sliding box sums) against the direct window loop it replaced (test/wiener-direct.ts),
// same run, 20 real scans from ../shared with Rician SNR 5 noise, medians of 7 rounds, windows 3 and 5.
// Also checks the two agree bit for bit. Writes runs/bench/denoise.json.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { decodeImage } from '@mri-robust/data';
import { applyNoise, fromUint8, toUint8 } from '@mri-robust/noise';
import { denoisePixels } from '../src/nets/denoise.ts';
import { directWiener } from '../test/wiener-direct.ts';

const dir = path.join(sharedDir(), 'datasets', 'sartaj', 'Testing', 'glioma_tumor');
const names = (await readdir(dir)).sort().slice(0, 20);
const shape = { height: 224, width: 224, channels: 1 };
const scans: Uint8Array[] = [];
for (const n of names) {
  const { pixels } = await decodeImage(new Uint8Array(await readFile(path.join(dir, n))), { size: 224, channels: 1, fit: 'pad', maxPixels: 5e7 });
  scans.push(toUint8(applyNoise(fromUint8(pixels, 224, 224, 1), { kind: 'rician', snr: 5 }, n)));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const msPerScan = (f: (img: Uint8Array) => Uint8Array) => {
  const t = performance.now();
  for (const img of scans) f(img);
  return (performance.now() - t) / scans.length;
};
const rows = [];
for (const window of [3, 5]) {
  const sliding = (img: Uint8Array) => denoisePixels(img, 1, shape, { kind: 'wiener', window });
  const direct = (img: Uint8Array) => directWiener(img, 1, shape, window);
  const identical = scans.every((img) => {
    const want = direct(img);
    return sliding(img).every((v, i) => v === want[i]);
  });
  msPerScan(sliding); // warm-up
  msPerScan(direct);
  const s: number[] = [];
  const d: number[] = [];
  for (let r = 0; r < 7; r++) {
    s.push(msPerScan(sliding));
    d.push(msPerScan(direct));
  }
  const row = { window, slidingMs: median(s), directMs: median(d), speedup: median(d) / median(s), identical };
  process.stderr.write(
    `[bench denoise] ${window}×${window}: ${row.slidingMs.toFixed(2)} vs direct ${row.directMs.toFixed(2)} ms per scan (${row.speedup.toFixed(2)}×), identical ${identical}\n`,
  );
  rows.push(row);
}
const out = path.join(workspaceRoot(), 'runs', 'bench');
await mkdir(out, { recursive: true });
await writeFile(
  path.join(out, 'denoise.json'),
  `${JSON.stringify({ scans: scans.length, rows, loadAverage: os.loadavg(), node: process.version }, null, 2)}\n`,
);
