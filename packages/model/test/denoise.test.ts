import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRng, sharedDir } from '@mri-robust/core';
import { decodeImage } from '@mri-robust/data';
import { applyNoise, fromUint8, toUint8 } from '@mri-robust/noise';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { denoiseOf, denoisePixels, noiseSigma } from '../src/nets/denoise.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { pixelsToInput } from '../src/prepare-image.ts';
import { directWiener } from './wiener-direct.ts';

const WIENER = denoiseOf('wiener')!;
beforeAll(async () => {
  await selectBackend('cpu');
});
const scan = async (cls: string, name: string) => {
  const file = path.join(sharedDir(), 'datasets', 'sartaj', 'Testing', cls, name);
  return (await decodeImage(new Uint8Array(await readFile(file)), { size: 224, channels: 1, fit: 'pad', maxPixels: 5e7 })).pixels;
};
const shape = { height: 224, width: 224, channels: 1 };
const rmse = (a: Uint8Array, b: Uint8Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

describe('noise-adaptive Wiener denoiser', () => {
  it("is the identity where the estimated noise is 0, and 'none' is no denoiser", () => {
    const flat = new Uint8Array(16 * 16).fill(90);
    // a sharp square on a flat background: the diagonal Haar detail is 0 almost everywhere
    for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) flat[y * 16 + x] = 200;
    expect(noiseSigma(flat, 16, 16)).toBe(0);
    expect(Array.from(denoisePixels(flat, 1, { height: 16, width: 16, channels: 1 }, WIENER))).toEqual(Array.from(flat));
    expect(denoiseOf('none')).toBeNull();
    expect(() => denoisePixels(flat, 1, { height: 16, width: 16, channels: 1 }, { kind: 'wiener', window: 4 })).toThrow(/odd/);
  });

  it('estimates the σ of Gaussian noise added to a real scan within 15 %', async () => {
    const clean = await scan('glioma_tumor', 'image(1).jpg');
    const rng = createRng(7);
    // lifted to [64, 191] so that clipping at 0 does not shrink the noise in the dark background
    const lifted = Uint8Array.from(clean, (v) => Math.round(v / 2 + 64));
    for (const sigma of [5, 10, 20]) {
      const withNoise = Uint8Array.from(lifted, (v) => Math.max(0, Math.min(255, Math.round(v + sigma * rng.normal()))));
      expect(Math.abs(noiseSigma(withNoise, 224, 224) / sigma - 1)).toBeLessThan(0.15);
    }
    expect(noiseSigma(clean, 224, 224)).toBeLessThan(2);
  });

  it('brings a Rician SNR 5 scan closer to the clean one and leaves clean scans nearly unchanged', async () => {
    for (const [cls, name] of [
      ['glioma_tumor', 'image(1).jpg'],
      ['meningioma_tumor', 'image(2).jpg'],
      ['no_tumor', 'image(3).jpg'],
    ]) {
      const clean = await scan(cls, name);
      const noisy = toUint8(applyNoise(fromUint8(clean, 224, 224, 1), { kind: 'rician', snr: 5 }, `${cls}${name}`));
      const denoised = denoisePixels(noisy, 1, shape, WIENER);
      // (Rician noise also lifts the background by ~σ√(π/2), a bias no local filter removes)
      expect(rmse(denoised, clean)).toBeLessThan(0.9 * rmse(noisy, clean));
      // on the clean scan itself: mean absolute change under 1 grey level
      const again = denoisePixels(clean, 1, shape, WIENER);
      expect(again.reduce((s, v, i) => s + Math.abs(v - clean[i]), 0) / clean.length).toBeLessThan(1);
    }
  });

  it('gives, bit for bit, what summing every window directly gives (any window, edges, batches, channels)', async () => {
    const noisy = toUint8(applyNoise(fromUint8(await scan('glioma_tumor', 'image(1).jpg'), 224, 224, 1), { kind: 'rician', snr: 5 }, 'w'));
    for (const window of [1, 3, 5]) {
      expect(Array.from(denoisePixels(noisy, 1, shape, { kind: 'wiener', window }))).toEqual(Array.from(directWiener(noisy, 1, shape, window)));
    }
    const rng = createRng(3);
    const small = { height: 5, width: 7, channels: 3 };
    const batch = Uint8Array.from({ length: 2 * 5 * 7 * 3 }, () => Math.floor(rng.next() * 256));
    for (const window of [1, 3, 5, 9, 15]) {
      expect(Array.from(denoisePixels(batch, 2, small, { kind: 'wiener', window }))).toEqual(Array.from(directWiener(batch, 2, small, window)));
    }
  });

  it('filters each image and channel of a batch on its own, and imagesToTensor applies it when asked', async () => {
    const a = await scan('pituitary_tumor', 'image(1).jpg');
    const noisy = toUint8(applyNoise(fromUint8(a, 224, 224, 1), { kind: 'rician', snr: 5 }, 'b'));
    const batch = new Uint8Array(2 * a.length);
    batch.set(a, 0);
    batch.set(noisy, a.length);
    const both = denoisePixels(batch, 2, shape, WIENER);
    expect(Array.from(both.subarray(a.length))).toEqual(Array.from(denoisePixels(noisy, 1, shape, WIENER)));
    // three identical channels give three identical filtered channels
    const rgb = new Uint8Array(3 * noisy.length);
    for (let i = 0; i < noisy.length; i++) rgb.fill(noisy[i], 3 * i, 3 * i + 3);
    const rgbOut = denoisePixels(rgb, 1, { height: 224, width: 224, channels: 3 }, WIENER);
    const grey = denoisePixels(noisy, 1, shape, WIENER);
    expect(Array.from(rgbOut.filter((_, i) => i % 3 === 2))).toEqual(Array.from(grey));
    const target = { inputSize: 224, inputChannels: 3, scaling: 'scale_-1_1' as const };
    const plain = imagesToTensor(noisy, 1, shape, target);
    const filtered = imagesToTensor(noisy, 1, shape, { ...target, denoise: WIENER });
    const expected = imagesToTensor(grey, 1, shape, target);
    expect(Array.from(filtered.dataSync())).toEqual(Array.from(expected.dataSync()));
    expect(Array.from(filtered.dataSync())).not.toEqual(Array.from(plain.dataSync()));
    // the serve/predict path (decoded scan → input floats) denoises the same way
    const served = pixelsToInput({ pixels: noisy, width: 224, height: 224, channels: 1 }, { ...target, denoise: WIENER });
    const want = expected.dataSync();
    expect(served.every((v, i) => Math.abs(v - want[i]) < 1e-6)).toBe(true);
    plain.dispose();
    filtered.dispose();
    expected.dispose();
  });
});
