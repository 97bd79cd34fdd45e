/**
 * Overlay PNG: the scan (grey or RGB) with the coloured class-activation map blended on top, written
 * with sharp. The map is already at the scan's size (extent.ts `mapOverExtent`).
 *
 * The blend is blend.ts's `blendRgb(toRgb(scan), colorize(map), { alpha, weights: map })` computed
 * in one pass (same arithmetic, same bytes: the tests compare the two), without the three
 * intermediate images: the server draws one overlay per answer.
 */
import sharp from 'sharp';
import { colormapLut, type ColormapName } from './colormap.ts';

export interface ScanPixels {
  /** uint8 HWC. */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface OverlayOptions {
  /** Heat-map opacity in [0, 1] (default 0.5). */
  alpha?: number;
  colormap?: ColormapName;
  /** Scale the opacity with the map value, leaving cold regions mostly scan (default true). */
  weighted?: boolean;
}

/** Default zlib level of the PNGs written here (sharp's default); the server asks for a faster one. */
export const PNG_COMPRESSION = 6;

/** Lowest per-pixel weight of a weighted overlay (blend.ts `minWeight` default). */
const MIN_WEIGHT = 0.25;

/** Blended RGB pixels of `scan` with a map already at the scan's size (values in [0, 1]). */
export function overlayMapPixels(scan: ScanPixels, map: Float32Array, opts: OverlayOptions = {}): Uint8Array {
  const n = scan.width * scan.height;
  if (map.length !== n) throw new Error(`overlay: map of ${map.length} values for a ${scan.width}×${scan.height} scan`);
  const ch = scan.channels;
  const px = scan.pixels;
  if (px.length !== n * ch) throw new Error(`image has ${px.length} bytes, expected ${scan.width}×${scan.height}×${ch}`);
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`blend: alpha must be in [0, 1], got ${alpha}`);
  const weighted = opts.weighted !== false;
  const lut = colormapLut(opts.colormap ?? 'jet');
  // Grey (1–2 channels) repeats its first channel; RGB(A) takes the first three (as blend.ts toRgb).
  const grey = ch < 3;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = map[i];
    const c = v > 0 ? (v < 1 ? v : 1) : 0; // clamp01; NaN → 0 (colorize, blendRgb)
    const k = Math.round(c * 255) * 3;
    const a = weighted ? alpha * (MIN_WEIGHT + (1 - MIN_WEIGHT) * c) : alpha;
    const b = 1 - a;
    const p = i * ch;
    const s0 = px[p];
    const s1 = grey ? s0 : px[p + 1];
    const s2 = grey ? s0 : px[p + 2];
    const o = i * 3;
    out[o] = Math.round(b * s0 + a * lut[k]);
    out[o + 1] = Math.round(b * s1 + a * lut[k + 1]);
    out[o + 2] = Math.round(b * s2 + a * lut[k + 2]);
  }
  return out;
}

/** overlayMapPixels as PNG bytes (`compression`: zlib level 0–9; the pixels are the same at any level). */
export async function overlayMapPng(scan: ScanPixels, map: Float32Array, opts: OverlayOptions = {}, compression = PNG_COMPRESSION): Promise<Buffer> {
  return sharp(overlayMapPixels(scan, map, opts), { raw: { width: scan.width, height: scan.height, channels: 3 } })
    .png({ compressionLevel: compression })
    .toBuffer();
}

/**
 * The scan alone as PNG bytes (`compression`: zlib level 0–9). A grey scan is written as a grey PNG
 * (sharp would otherwise convert it to sRGB: the same grey values in three times the bytes).
 */
export async function scanPng(scan: ScanPixels, compression = PNG_COMPRESSION): Promise<Buffer> {
  const img = sharp(scan.pixels, { raw: { width: scan.width, height: scan.height, channels: scan.channels as 1 | 3 } });
  return (scan.channels === 1 ? img.toColourspace('b-w') : img).png({ compressionLevel: compression }).toBuffer();
}

/** `data:image/png;base64,...` for a PNG buffer. */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}
