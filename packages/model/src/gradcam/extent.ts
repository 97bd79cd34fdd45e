/**
 * Where the upload really is inside the square the network saw, and the map resampled over it.
 * Pure.
 *
 * - `fit: pad` (sharp `contain`, centred): the longer side fills the square, the shorter one is
 *   round(short · size / long) pixels, offset ⌊(size − extent) / 2⌋ — checked against sharp in the
 *   tests. The rest is black padding the model was shown but that is not part of the scan.
 * - `fit: fill` (stretched) and `fit: crop` (centre square): the whole square is image.
 *
 * The map is computed on the network's grid over the whole square, then read only inside the
 * extent (bilinear, half-pixel centres), normalised there (the padding can neither hold the peak
 * nor set the scale) and drawn at the upload's aspect ratio (`displaySize`).
 */

export type FitMode = 'pad' | 'crop' | 'fill';

/** A rectangle in pixels of the decode square (side `size`). */
export interface Extent {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Side of the square. */
  size: number;
}

/** The part of the `size`-pixel square that holds the upload (`origWidth × origHeight`) after `fit`. */
export function contentExtent(origWidth: number, origHeight: number, size: number, fit: FitMode): Extent {
  if (!(size >= 1)) throw new Error(`contentExtent: size must be ≥ 1, got ${size}`);
  if (fit !== 'pad' || !(origWidth > 0 && origHeight > 0) || origWidth === origHeight) return { x: 0, y: 0, width: size, height: size, size };
  const long = Math.max(origWidth, origHeight);
  const short = Math.max(1, Math.min(size, Math.round((Math.min(origWidth, origHeight) * size) / long)));
  const off = Math.floor((size - short) / 2);
  return origWidth > origHeight ? { x: 0, y: off, width: size, height: short, size } : { x: off, y: 0, width: short, height: size, size };
}

/**
 * Display size of the explained region at the upload's aspect ratio: `fill` shows the stretched
 * square back at the upload's aspect, `pad` the extent (already at that aspect), `crop` the
 * square the model saw. The longer side is `max(minLong, the extent's longer side)`.
 */
export function displaySize(extent: Extent, origWidth: number, origHeight: number, fit: FitMode, minLong: number): { width: number; height: number } {
  let aspect = extent.width / extent.height;
  if (fit === 'fill' && origWidth > 0 && origHeight > 0) aspect = origWidth / origHeight;
  const long = Math.max(minLong, extent.width, extent.height);
  return aspect >= 1 ? { width: long, height: Math.max(1, Math.round(long / aspect)) } : { width: Math.max(1, Math.round(long * aspect)), height: long };
}

/**
 * The `h × w` map (over the whole square) sampled bilinearly at the centres of an `outW × outH`
 * grid laid over `extent`, then ReLU'd and divided by its maximum inside the extent.
 */
export function mapOverExtent(map: ArrayLike<number>, h: number, w: number, extent: Extent, outW: number, outH: number): { map: Float32Array; max: number } {
  if (map.length !== h * w) throw new Error(`mapOverExtent: map has ${map.length} values, expected ${h}×${w}`);
  if (outW < 1 || outH < 1) throw new Error('mapOverExtent: output sizes must be ≥ 1');
  const out = new Float32Array(outW * outH);
  const cell = extent.size; // square side in pixels; grid cell = size / w pixels
  // The column positions are the same on every row: computed once (same expressions as per pixel).
  const xs0 = new Int32Array(outW);
  const xs1 = new Int32Array(outW);
  const dxs = new Float64Array(outW);
  for (let i = 0; i < outW; i++) {
    const px = extent.x + ((i + 0.5) * extent.width) / outW;
    const fx = Math.min(w - 1, Math.max(0, (px * w) / cell - 0.5));
    xs0[i] = Math.floor(fx);
    xs1[i] = Math.min(w - 1, xs0[i] + 1);
    dxs[i] = fx - xs0[i];
  }
  let max = 0;
  for (let j = 0; j < outH; j++) {
    // Square pixel coordinate of this output row's centre, then the map's (half-pixel) coordinate.
    const py = extent.y + ((j + 0.5) * extent.height) / outH;
    const fy = Math.min(h - 1, Math.max(0, (py * h) / cell - 0.5));
    const y0 = Math.floor(fy);
    const r0 = y0 * w;
    const r1 = Math.min(h - 1, y0 + 1) * w;
    const dy = fy - y0;
    const o = j * outW;
    for (let i = 0; i < outW; i++) {
      const x0 = xs0[i];
      const x1 = xs1[i];
      const dx = dxs[i];
      const v = (map[r0 + x0] * (1 - dx) + map[r0 + x1] * dx) * (1 - dy) + (map[r1 + x0] * (1 - dx) + map[r1 + x1] * dx) * dy;
      const r = v > 0 && v < Infinity ? v : 0; // NaN, ±∞ and ≤ 0 → 0
      out[o + i] = r;
      if (r > max) max = r;
    }
  }
  if (max > 0) for (let k = 0; k < out.length; k++) out[k] /= max;
  return { map: out, max };
}

/** Index (row-major) and coordinates of the largest value; the first one on ties. */
export function peakOf(map: ArrayLike<number>, width: number): { index: number; x: number; y: number; value: number } {
  let best = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
  return { index: best, x: best % width, y: Math.floor(best / width), value: map[best] };
}
