/**
 * Overlay PNG: the scan (grey or RGB) with the coloured class-activation map blended on top, written
 * by png.ts. The map is already at the scan's size (extent.ts `mapOverExtent`).
 *
 * The blend is blend.ts's `blendRgb(toRgb(scan), colorize(map), { alpha, weights: map })` computed
 * in one pass (same arithmetic, same bytes: the tests compare the two), without the three
 * intermediate images: the server draws one overlay per answer.
 */
import { colormapLut, type ColormapName } from './colormap.ts';
import { encodePng } from './png.ts';

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

/** Default zlib level of the PNGs written here; the server asks for a faster one. */
export const PNG_COMPRESSION = 6;

/** Lowest per-pixel weight of a weighted overlay (blend.ts `minWeight` default). */
const MIN_WEIGHT = 0.25;

/**
 * Math.round(x) for x ≥ 0, several times faster here: x + 0.5 truncated, except below 0.5 — the one
 * double where the two differ is 0.49999999999999994 (x + 0.5 rounds up to 1).
 */
const round = (x: number): number => (x < 0.5 ? 0 : (x + 0.5) | 0);

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
  const out = new Uint8Array(n * 3);
  // Grey (1–2 channels) repeats its first channel; RGB(A) takes the first three (as blend.ts toRgb).
  // One loop per case (no per-pixel branch on the layout); the arithmetic is blendRgb's, term by
  // term (`round` is Math.round for these non-negative values).
  if (ch < 3) {
    for (let i = 0, p = 0, o = 0; i < n; i++, p += ch, o += 3) {
      const v = map[i];
      const c = v > 0 ? (v < 1 ? v : 1) : 0; // clamp01; NaN → 0 (colorize, blendRgb)
      const k = round(c * 255) * 3;
      const a = weighted ? alpha * (MIN_WEIGHT + (1 - MIN_WEIGHT) * c) : alpha;
      const bs = (1 - a) * px[p];
      out[o] = round(bs + a * lut[k]);
      out[o + 1] = round(bs + a * lut[k + 1]);
      out[o + 2] = round(bs + a * lut[k + 2]);
    }
    return out;
  }
  for (let i = 0, p = 0, o = 0; i < n; i++, p += ch, o += 3) {
    const v = map[i];
    const c = v > 0 ? (v < 1 ? v : 1) : 0;
    const k = round(c * 255) * 3;
    const a = weighted ? alpha * (MIN_WEIGHT + (1 - MIN_WEIGHT) * c) : alpha;
    const b = 1 - a;
    out[o] = round(b * px[p] + a * lut[k]);
    out[o + 1] = round(b * px[p + 1] + a * lut[k + 1]);
    out[o + 2] = round(b * px[p + 2] + a * lut[k + 2]);
  }
  return out;
}

/** overlayMapPixels as PNG bytes (png.ts; `compression`: zlib level 0–9, the pixels are the same at any level). */
export async function overlayMapPng(scan: ScanPixels, map: Float32Array, opts: OverlayOptions = {}, compression = PNG_COMPRESSION): Promise<Buffer> {
  return encodePng(overlayMapPixels(scan, map, opts), scan.width, scan.height, 3, compression);
}

/** The scan alone as PNG bytes (`compression`: zlib level 0–9): grey or RGB as the scan is. */
export async function scanPng(scan: ScanPixels, compression = PNG_COMPRESSION): Promise<Buffer> {
  if (scan.channels !== 1 && scan.channels !== 3) throw new Error(`scanPng: ${scan.channels} channels (1 or 3 expected)`);
  return encodePng(scan.pixels, scan.width, scan.height, scan.channels, compression);
}

/** `data:image/png;base64,...` for a PNG buffer. */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}
