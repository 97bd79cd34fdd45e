/**
 * PNG encoding of 8-bit grey or RGB pixels (no alpha, no interlacing): every row "Up"-filtered
 * (the difference to the row above), then deflated by node:zlib. Smooth images —
 * a scan, a blended heat map — shrink by a third more than unfiltered rows (what sharp writes by
 * default), so an answer of the server is smaller and cheaper to send and to read; the decoded
 * pixels are the same. The fast levels (1–3) match runs only (Z_RLE): measured on the server's
 * overlays, half the deflate time of level 1 for ~7 % more bytes (and smaller grey scans).
 * Deflated in the calling thread: zlib's asynchronous API, in 16 KiB chunks through the thread pool,
 * took twice the CPU time of deflateSync for these ~100 KB images (measured side by side).
 */
import zlib from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const FILTER_UP = 2;

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Rows prefixed with their filter byte, each the byte-wise difference to the row above (the first row as is). */
function filterUp(pixels: Uint8Array, stride: number, height: number): Uint8Array {
  const out = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    out[o] = FILTER_UP;
    const row = y * stride;
    if (y === 0) out.set(pixels.subarray(0, stride), o + 1);
    else for (let x = 0; x < stride; x++) out[o + 1 + x] = pixels[row + x] - pixels[row - stride + x];
  }
  return out;
}

/** PNG bytes of `pixels` (uint8 HWC, 1 = grey or 3 = RGB channels); `level`: zlib level 0–9. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3, level: number): Buffer {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new Error(`encodePng: bad size ${width}×${height}`);
  if (pixels.length !== width * height * channels) throw new Error(`encodePng: ${pixels.length} bytes for ${width}×${height}×${channels}`);
  if (!(Number.isInteger(level) && level >= 0 && level <= 9)) throw new Error(`encodePng: zlib level must be an integer 0–9, got ${level}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : 2; // colour type: grey / truecolour
  // compression 0 (deflate), filter method 0 (adaptive, per-row types), interlace 0: already zero.
  const strategy = level >= 1 && level <= 3 ? zlib.constants.Z_RLE : zlib.constants.Z_DEFAULT_STRATEGY;
  const data = zlib.deflateSync(filterUp(pixels, width * channels, height), { level, strategy });
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', data), chunk('IEND', new Uint8Array(0))]);
}
