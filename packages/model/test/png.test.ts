// gradcam/png.ts: the PNGs of the overlay and the scan, read back by sharp (libspng) and zlib.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import { decodeImage } from '@mri-robust/data';
import { encodePng } from '../src/gradcam/png.ts';

const scanFile = path.join(sharedDir(), 'datasets', 'sartaj', 'Testing', 'glioma_tumor', 'image(3).jpg');
const pixelsOf = async (png: Buffer, channels: 1 | 3) =>
  (channels === 1 ? sharp(png).extractChannel(0) : sharp(png)).raw().toBuffer({ resolveWithObject: true });

describe('encodePng', () => {
  it('real scans (grey and RGB, odd sizes) come back with the same pixels at every zlib level', async () => {
    for (const channels of [1, 3] as const) {
      for (const [w, h] of [
        [224, 224],
        [179, 224],
        [1, 7],
        [5, 1],
      ]) {
        const d = await decodeImage(readFileSync(scanFile), { size: 224, channels, fit: 'fill', maxPixels: 5e7 });
        // A w×h crop of the decoded scan (rows of w pixels).
        const px = new Uint8Array(w * h * channels);
        for (let y = 0; y < h; y++) px.set(d.pixels.subarray(y * 224 * channels, (y * 224 + w) * channels), y * w * channels);
        const sizes: number[] = [];
        for (const level of [0, 1, 6, 9]) {
          const png = encodePng(px, w, h, channels, level);
          const meta = await sharp(png).metadata();
          expect([meta.format, meta.width, meta.height, meta.channels, meta.depth]).toEqual(['png', w, h, channels, 'uchar']);
          const back = await pixelsOf(png, channels);
          expect(back.data.equals(Buffer.from(px)), `${w}×${h}×${channels} level ${level}`).toBe(true);
          sizes.push(png.length);
        }
        // Level 0 stores: the largest; the filtered rows compress at the others.
        if (w * h > 1000) expect(Math.min(...sizes.slice(1))).toBeLessThan(sizes[0] / 1.5);
      }
    }
  });

  it('writes the chunks a PNG reader checks: signature, IHDR, IDAT, IEND with valid CRCs', async () => {
    const png = encodePng(
      Uint8Array.from({ length: 12 }, (_, i) => i * 20),
      2,
      2,
      3,
      1,
    );
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const chunks: string[] = [];
    for (let at = 8; at < png.length; ) {
      const len = png.readUInt32BE(at);
      const type = png.toString('latin1', at + 4, at + 8);
      expect(png.readUInt32BE(at + 8 + len)).toBe(zlib.crc32(png.subarray(at + 4, at + 8 + len)));
      if (type === 'IDAT') {
        // Each row: filter type 2 (Up), then the differences to the row above.
        const rows = zlib.inflateSync(png.subarray(at + 8, at + 8 + len));
        expect(Array.from(rows)).toEqual([2, 0, 20, 40, 60, 80, 100, 2, 120, 120, 120, 120, 120, 120]);
      }
      chunks.push(type);
      at += 12 + len;
    }
    expect(chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
  });

  it('refuses a wrong byte count, size or level', () => {
    expect(() => encodePng(new Uint8Array(5), 2, 2, 1, 1)).toThrow('encodePng: 5 bytes for 2×2×1');
    expect(() => encodePng(new Uint8Array(0), 0, 2, 1, 1)).toThrow('encodePng: bad size 0×2');
    expect(() => encodePng(new Uint8Array(4), 2, 2, 1, 10)).toThrow('encodePng: zlib level must be an integer 0–9, got 10');
  });
});
