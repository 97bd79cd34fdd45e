/**
 * Alpha blending of a coloured heat map over a scan: out = (1 − a) · scan + a · heat, per pixel,
 * where a = alpha, or alpha · weight when per-pixel weights (the normalised map) are given, so that
 * cold regions leave the scan visible. Pure; uint8 RGB HWC in and out.
 */

/** A grey (1 channel) or RGB(A) uint8 image as RGB (alpha dropped, grey repeated). */
export function toRgb(pixels: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const n = width * height;
  if (pixels.length !== n * channels) throw new Error(`image has ${pixels.length} bytes, expected ${width}×${height}×${channels}`);
  if (channels === 3) return pixels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (channels === 1 || channels === 2) {
      const v = pixels[i * channels];
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    } else {
      out[i * 3] = pixels[i * channels];
      out[i * 3 + 1] = pixels[i * channels + 1];
      out[i * 3 + 2] = pixels[i * channels + 2];
    }
  }
  return out;
}

export interface BlendOptions {
  /** Opacity of the heat map in [0, 1]. */
  alpha: number;
  /** Optional per-pixel weights in [0, 1] (length = pixels): opacity becomes alpha · weight. */
  weights?: ArrayLike<number>;
  /** Lower bound of the per-pixel weight when `weights` are given (default 0.25). */
  minWeight?: number;
}

export function blendRgb(scan: Uint8Array, heat: Uint8Array, opts: BlendOptions): Uint8Array {
  if (scan.length !== heat.length || scan.length % 3 !== 0) {
    throw new Error(`blend: scan (${scan.length}) and heat map (${heat.length}) must be RGB images of the same size`);
  }
  if (!(opts.alpha >= 0 && opts.alpha <= 1)) throw new Error(`blend: alpha must be in [0, 1], got ${opts.alpha}`);
  const n = scan.length / 3;
  if (opts.weights && opts.weights.length !== n) throw new Error(`blend: ${opts.weights.length} weights for ${n} pixels`);
  const minW = opts.minWeight ?? 0.25;
  const out = new Uint8Array(scan.length);
  for (let i = 0; i < n; i++) {
    const w = opts.weights ? minW + (1 - minW) * Math.min(1, Math.max(0, opts.weights[i])) : 1;
    const a = opts.alpha * w;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((1 - a) * scan[i * 3 + c] + a * heat[i * 3 + c]);
  }
  return out;
}
