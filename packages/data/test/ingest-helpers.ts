/** Test helpers: tiny PNG/BMP encoders (for 16-bit images, bombs and BMP variants) and shared data paths. */
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { sharedDir } from '@mri-robust/core';

export const DATASETS = path.join(sharedDir(), 'datasets');

/** 26 sartaj images (names with spaces and parentheses) that are not near duplicates of each other. */
export const DISTINCT_SARTAJ = [
  'Testing/glioma_tumor/image(10).jpg',
  'Testing/glioma_tumor/image(100).jpg',
  'Testing/meningioma_tumor/image(1).jpg',
  'Testing/meningioma_tumor/image(123).jpg',
  'Testing/pituitary_tumor/image(18).jpg',
  'Testing/pituitary_tumor/image(34).jpg',
  'Training/glioma_tumor/gg (1).jpg',
  'Training/glioma_tumor/gg (100).jpg',
  'Training/glioma_tumor/gg (101).jpg',
  'Training/glioma_tumor/gg (102).jpg',
  'Training/glioma_tumor/gg (103).jpg',
  'Training/meningioma_tumor/m (10).jpg',
  'Training/meningioma_tumor/m (102).jpg',
  'Training/meningioma_tumor/m (103).jpg',
  'Training/meningioma_tumor/m (104).jpg',
  'Training/meningioma_tumor/m (105).jpg',
  'Training/no_tumor/image (10).jpg',
  'Training/no_tumor/image (11).jpg',
  'Training/no_tumor/image (12).jpg',
  'Training/no_tumor/image (17).jpg',
  'Training/no_tumor/image (18).jpg',
  'Training/pituitary_tumor/p (1).jpg',
  'Training/pituitary_tumor/p (10).jpg',
  'Training/pituitary_tumor/p (102).jpg',
  'Training/pituitary_tumor/p (103).jpg',
  'Training/pituitary_tumor/p (107).jpg',
];

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/**
 * A PNG with the given header. `samples` (row-major, channels interleaved) are written at `bitDepth`
 * (8 or 16). For a bomb, pass huge width/height and `rows` = how many rows to actually store.
 */
export function encodePng(opts: { width: number; height: number; channels: 1 | 3; bitDepth: 8 | 16; samples?: ArrayLike<number>; rows?: number }): Buffer {
  const { width, height, channels, bitDepth } = opts;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = channels === 1 ? 0 : 2;
  const bpp = channels * (bitDepth / 8);
  const rows = opts.rows ?? height;
  const raw = Buffer.alloc(rows * (1 + width * bpp));
  if (opts.samples) {
    for (let y = 0; y < rows; y++) {
      const o = y * (1 + width * bpp);
      for (let i = 0; i < width * channels; i++) {
        const v = opts.samples[y * width * channels + i];
        if (bitDepth === 8) raw[o + 1 + i] = v;
        else raw.writeUInt16BE(v, o + 1 + i * 2);
      }
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** An uncompressed BMP: 24-bit or 32-bit from RGB samples, or 8-bit palette from grey samples. */
export function encodeBmp(width: number, height: number, bpp: 8 | 24 | 32, samples: ArrayLike<number>, topDown = false): Buffer {
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const paletteBytes = bpp === 8 ? 256 * 4 : 0;
  const offset = 14 + 40 + paletteBytes;
  const buf = Buffer.alloc(offset + stride * height);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(topDown ? -height : height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bpp, 28);
  buf.writeUInt32LE(0, 30);
  if (bpp === 8) for (let i = 0; i < 256; i++) buf.writeUInt32LE((i << 16) | (i << 8) | i, 54 + i * 4);
  for (let y = 0; y < height; y++) {
    const row = topDown ? y : height - 1 - y;
    const o = offset + row * stride;
    for (let x = 0; x < width; x++) {
      if (bpp === 8) buf[o + x] = samples[y * width + x];
      else {
        const s = (y * width + x) * 3;
        const p = o + x * (bpp / 8);
        buf[p] = samples[s + 2];
        buf[p + 1] = samples[s + 1];
        buf[p + 2] = samples[s];
      }
    }
  }
  return buf;
}
