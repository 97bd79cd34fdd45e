import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BadImageError, decodeImage, hamming, type DecodeOptions } from '@mri-robust/data';
import { DATASETS, encodeBmp, encodePng } from './ingest-helpers.ts';

const OPTS: DecodeOptions = { size: 32, channels: 1, fit: 'pad', maxPixels: 10_000_000 };

// a 40×24 RGB gradient with a bright square: different per channel, asymmetric
const W = 40;
const H = 24;
const rgb = new Uint8Array(W * H * 3);
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    const o = (y * W + x) * 3;
    const sq = x > 25 && x < 35 && y > 5 && y < 15 ? 120 : 0;
    rgb[o] = Math.min(255, x * 5 + sq);
    rgb[o + 1] = Math.min(255, y * 8 + sq);
    rgb[o + 2] = Math.min(255, 60 + sq);
  }
}
const rawRgb = () => sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } });

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BadImageError);
    return (e as BadImageError).reason;
  }
  throw new Error('expected a BadImageError');
}

describe('decodeImage', () => {
  it('decodes every supported format to the same pixels (lossless ones exactly)', async () => {
    const png = await rawRgb().png().toBuffer();
    const tiff = await rawRgb().tiff({ compression: 'lzw' }).toBuffer();
    const webp = await rawRgb().webp({ lossless: true }).toBuffer();
    const bmp24 = encodeBmp(W, H, 24, rgb);
    const bmp32 = encodeBmp(W, H, 32, rgb, true);
    const ref = await decodeImage(png, OPTS);
    expect(ref.pixels.length).toBe(32 * 32);
    expect([ref.origWidth, ref.origHeight]).toEqual([W, H]);
    for (const other of [tiff, webp, bmp24, bmp32]) {
      const d = await decodeImage(other, OPTS);
      expect(d.sha).toBe(ref.sha); // exact duplicate across formats: same decoded pixels
      expect(Buffer.from(d.pixels).equals(Buffer.from(ref.pixels))).toBe(true);
    }
    const jpeg = await decodeImage(await rawRgb().jpeg({ quality: 95 }).toBuffer(), OPTS);
    expect(jpeg.sha).not.toBe(ref.sha);
    expect(hamming(jpeg.phash, ref.phash)).toBeLessThanOrEqual(4);
  });

  it('handles grey, RGBA, CMYK, 8-bit palette BMP and 16-bit PNG', async () => {
    const grey = new Uint8Array(W * H).map((_, i) => (i * 7) % 256);
    const g8 = await decodeImage(encodePng({ width: W, height: H, channels: 1, bitDepth: 8, samples: grey }), OPTS);
    const g16 = await decodeImage(encodePng({ width: W, height: H, channels: 1, bitDepth: 16, samples: Array.from(grey, (v) => v * 257) }), OPTS);
    const bmp8 = await decodeImage(encodeBmp(W, H, 8, grey), OPTS);
    expect(g16.sha).toBe(g8.sha);
    expect(bmp8.sha).toBe(g8.sha);
    const rgb16 = await decodeImage(encodePng({ width: W, height: H, channels: 3, bitDepth: 16, samples: Array.from(rgb, (v) => v * 257) }), {
      ...OPTS,
      channels: 3,
    });
    expect(rgb16.pixels.length).toBe(32 * 32 * 3);
    const rgba = await rawRgb().ensureAlpha(1).png().toBuffer();
    expect((await sharp(rgba).metadata()).channels).toBe(4);
    expect((await decodeImage(rgba, OPTS)).sha).toBe((await decodeImage(await rawRgb().png().toBuffer(), OPTS)).sha);
    const cmyk = await rawRgb().toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const c = await decodeImage(cmyk, { ...OPTS, channels: 3 });
    const r = await decodeImage(await rawRgb().png().toBuffer(), { ...OPTS, channels: 3 });
    let diff = 0;
    for (let i = 0; i < c.pixels.length; i++) diff += Math.abs(c.pixels[i] - r.pixels[i]);
    expect(diff / c.pixels.length).toBeLessThan(12); // CMYK converted back to sRGB, not raw ink values
  });

  it('fits to the configured size: pad keeps black borders, crop and fill do not', async () => {
    const png = await rawRgb().png().toBuffer();
    const pad = await decodeImage(png, { ...OPTS, fit: 'pad' });
    const crop = await decodeImage(png, { ...OPTS, fit: 'crop' });
    const fill = await decodeImage(png, { ...OPTS, fit: 'fill' });
    expect(pad.pixels[0]).toBe(0); // top-left is padding (image is wider than tall)
    expect(crop.pixels[0]).toBeGreaterThan(0);
    expect(fill.pixels[0]).toBeGreaterThan(0);
    expect(Buffer.from(crop.pixels).equals(Buffer.from(fill.pixels))).toBe(false);
  });

  it('decodes real Kaggle files with spaces and parentheses in their names', async () => {
    const f = path.join(DATASETS, 'sartaj', 'Training', 'glioma_tumor', 'gg (1).jpg');
    const d = await decodeImage(await readFile(f), { ...OPTS, size: 64, channels: 3 });
    expect(d.pixels.length).toBe(64 * 64 * 3);
    expect(d.origWidth).toBeGreaterThan(100);
  });

  it('rejects bad files with a reason', async () => {
    const jpg = await rawRgb().jpeg().toBuffer();
    expect(await reason(decodeImage(jpg.subarray(0, Math.floor(jpg.length / 2)), OPTS))).toMatch(/truncated|corrupt/);
    expect(await reason(decodeImage(Buffer.alloc(0), OPTS))).toBe('empty file');
    expect(await reason(decodeImage(Buffer.from('definitely not an image, just text'), OPTS))).toMatch(/not an image/);
    const bomb = encodePng({ width: 60_000, height: 60_000, channels: 1, bitDepth: 8, rows: 1 });
    expect(bomb.length).toBeLessThan(200_000);
    expect(await reason(decodeImage(bomb, OPTS))).toMatch(/pixel limit/);
    const bmp = encodeBmp(W, H, 24, rgb);
    expect(await reason(decodeImage(bmp.subarray(0, 200), OPTS))).toMatch(/truncated BMP/);
    const bmpBomb = encodeBmp(4, 4, 24, new Uint8Array(48));
    bmpBomb.writeInt32LE(100_000, 18);
    bmpBomb.writeInt32LE(100_000, 22);
    expect(await reason(decodeImage(bmpBomb, OPTS))).toMatch(/pixel limit/);
  });
});
