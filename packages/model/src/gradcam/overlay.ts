/**
 * Overlay PNG: the scan (grey or RGB) with the coloured Grad-CAM map blended on top, written with
 * sharp. The map (feature-grid size) is resized bilinearly to the scan.
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { blendRgb, toRgb } from './blend.ts';
import { resizeBilinear } from './cam.ts';
import { colorize, type ColormapName } from './colormap.ts';

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

/** Blended RGB pixels (`width × height × 3`) of `scan` with the `camH × camW` map in [0, 1]. */
export function overlayPixels(scan: ScanPixels, cam: Float32Array, camH: number, camW: number, opts: OverlayOptions = {}): Uint8Array {
  const up = resizeBilinear(cam, camH, camW, scan.height, scan.width);
  const heat = colorize(up, opts.colormap ?? 'jet');
  const base = toRgb(scan.pixels, scan.width, scan.height, scan.channels);
  return blendRgb(base, heat, { alpha: opts.alpha ?? 0.5, weights: opts.weighted === false ? undefined : up });
}

/** Blended RGB pixels of `scan` with a map already at the scan's size (values in [0, 1]). */
export function overlayMapPixels(scan: ScanPixels, map: Float32Array, opts: OverlayOptions = {}): Uint8Array {
  if (map.length !== scan.width * scan.height) throw new Error(`overlay: map of ${map.length} values for a ${scan.width}×${scan.height} scan`);
  const heat = colorize(map, opts.colormap ?? 'jet');
  const base = toRgb(scan.pixels, scan.width, scan.height, scan.channels);
  return blendRgb(base, heat, { alpha: opts.alpha ?? 0.5, weights: opts.weighted === false ? undefined : map });
}

/** overlayMapPixels as PNG bytes. */
export async function overlayMapPng(scan: ScanPixels, map: Float32Array, opts: OverlayOptions = {}): Promise<Buffer> {
  return sharp(overlayMapPixels(scan, map, opts), { raw: { width: scan.width, height: scan.height, channels: 3 } })
    .png()
    .toBuffer();
}

/** The overlay as PNG bytes. */
export async function overlayPng(scan: ScanPixels, cam: Float32Array, camH: number, camW: number, opts: OverlayOptions = {}): Promise<Buffer> {
  const rgb = overlayPixels(scan, cam, camH, camW, opts);
  return sharp(rgb, { raw: { width: scan.width, height: scan.height, channels: 3 } })
    .png()
    .toBuffer();
}

/** The scan alone as PNG bytes (grey or RGB). */
export async function scanPng(scan: ScanPixels): Promise<Buffer> {
  return sharp(scan.pixels, { raw: { width: scan.width, height: scan.height, channels: scan.channels as 1 | 3 } })
    .png()
    .toBuffer();
}

/** Writes the overlay PNG to `file`. */
export async function writeOverlayPng(file: string, scan: ScanPixels, cam: Float32Array, camH: number, camW: number, opts: OverlayOptions = {}): Promise<void> {
  await writeFile(file, await overlayPng(scan, cam, camH, camW, opts));
}

/** `data:image/png;base64,...` for a PNG buffer. */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}
