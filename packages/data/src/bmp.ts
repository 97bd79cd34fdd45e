/**
 * A small, pure decoder for uncompressed Windows BMP files, because sharp's prebuilt libvips has no
 * BMP loader. Supported: BITMAPCOREHEADER / BITMAPINFOHEADER and later (V4, V5) headers; 1-, 4- and
 * 8-bit palette images; 16-bit (5-5-5 or BI_BITFIELDS), 24-bit and 32-bit (BI_RGB or BI_BITFIELDS)
 * images; bottom-up and top-down rows. Not supported (reported as a bad file): RLE4/RLE8, embedded
 * JPEG/PNG, Huffman. Any alpha channel is ignored: the result is always RGB, 8 bits per channel.
 */

export class BmpError extends Error {}

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

export function decodeBmp(bytes: Uint8Array, maxPixels = Number.POSITIVE_INFINITY): RawImage {
  if (!isBmp(bytes)) throw new BmpError('not a BMP file (no "BM" signature)');
  if (bytes.length < 26) throw new BmpError('truncated BMP header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  let paletteSize = 0;
  let paletteEntryBytes = 4;
  if (headerSize === 12) {
    width = dv.getUint16(18, true);
    height = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
    paletteEntryBytes = 3;
  } else if (headerSize >= 40) {
    if (bytes.length < 14 + 40) throw new BmpError('truncated BMP header');
    width = dv.getInt32(18, true);
    height = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    paletteSize = dv.getUint32(46, true);
  } else {
    throw new BmpError(`unsupported BMP header size ${headerSize}`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) throw new BmpError(`invalid BMP dimensions ${width}×${height}`);
  if (width * height > maxPixels) {
    throw new BmpError(`image of ${width}×${height} px exceeds the pixel limit of ${maxPixels} (max_pixels)`);
  }
  const compressionNames: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'JPEG', 5: 'PNG' };
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new BmpError(`unsupported BMP compression ${compressionNames[compression] ?? compression}`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new BmpError(`unsupported BMP bit depth ${bpp}`);

  // channel masks for 16/32-bit
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (compression === 3 || compression === 6) {
    const at = headerSize >= 52 ? 14 + 40 : 14 + headerSize;
    if (bytes.length < at + 12) throw new BmpError('truncated BMP bit masks');
    masks = [dv.getUint32(at, true), dv.getUint32(at + 4, true), dv.getUint32(at + 8, true)];
  }
  const ms = masks.map(maskShift);

  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const n = paletteSize || 1 << bpp;
    const at = 14 + headerSize;
    if (bytes.length < at + n * paletteEntryBytes) throw new BmpError('truncated BMP palette');
    palette = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const o = at + i * paletteEntryBytes;
      palette[i * 3] = bytes[o + 2];
      palette[i * 3 + 1] = bytes[o + 1];
      palette[i * 3 + 2] = bytes[o];
    }
  }

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) {
    throw new BmpError(`truncated BMP pixel data (${bytes.length} bytes, need ${dataOffset + stride * height})`);
  }
  const out = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const y = topDown ? row : height - 1 - row;
    const base = dataOffset + row * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const bitPos = x * bpp;
        const byte = bytes[base + (bitPos >> 3)];
        const idx = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        if (idx * 3 + 2 >= palette.length) throw new BmpError(`BMP palette index ${idx} out of range`);
        out[o] = palette[idx * 3];
        out[o + 1] = palette[idx * 3 + 1];
        out[o + 2] = palette[idx * 3 + 2];
      } else if (bpp === 24 && compression === 0) {
        const p = base + x * 3;
        out[o] = bytes[p + 2];
        out[o + 1] = bytes[p + 1];
        out[o + 2] = bytes[p];
      } else {
        const p = base + x * (bpp / 8);
        const v = bpp === 16 ? dv.getUint16(p, true) : dv.getUint32(p, true);
        for (let c = 0; c < 3; c++) {
          const { shift, max } = ms[c];
          out[o + c] = max === 0 ? 0 : Math.round((((v & masks[c]) >>> shift) * 255) / max);
        }
      }
    }
  }
  return { data: out, width, height, channels: 3 };
}
