/**
 * A noise-adaptive denoiser in front of the network (`model.denoise: wiener`): every image the network
 * sees (training, evaluation, serving) passes through it, so the model is trained on what it answers.
 *
 * Per image and channel: the noise standard deviation is estimated from the finest diagonal Haar
 * detail with the median absolute deviation (Donoho & Johnstone 1994: σ̂ = median |HH| / 0.6745),
 * then the pixel-wise adaptive Wiener filter of Lee (1980) / MATLAB's `wiener2` with its default 3 × 3
 * window: out = μ + max(v − σ̂², 0) / max(v, σ̂²) · (x − μ), μ and v the local mean and variance. On a
 * clean scan σ̂ is near 0 (dark background, smooth anatomy: the median detail is ~0) and the filter
 * is close to the identity; on a noisy one it smooths flat regions and keeps edges.
 * Written by hand: sharp and the image libraries here have no adaptive (noise-level-aware) filter.
 */

/** The denoiser a model was trained with (metadata.json `preprocessing.denoise`; absent or null = none). */
export interface Denoise {
  kind: 'wiener';
  /** Side of the square window (odd). */
  window: number;
}

/** The denoiser of `model.denoise` (null for 'none'). */
export function denoiseOf(setting: 'none' | 'wiener'): Denoise | null {
  return setting === 'wiener' ? { kind: 'wiener', window: 3 } : null;
}

/** σ̂ of one channel of an image (row-major, `stride` values per pixel, starting at `offset`). */
export function noiseSigma(pixels: Uint8Array, height: number, width: number, stride = 1, offset = 0): number {
  // |a − b − c + d| / 2 takes the values 0, 0.5, ..., 510 / 2: a histogram of 1021 bins gives the median.
  const hist = new Uint32Array(1021);
  let n = 0;
  for (let y = 0; y + 1 < height; y += 2) {
    for (let x = 0; x + 1 < width; x += 2) {
      const i = (y * width + x) * stride + offset;
      const j = i + width * stride;
      hist[Math.abs(pixels[i] - pixels[i + stride] - pixels[j] + pixels[j + stride])]++;
      n++;
    }
  }
  if (n === 0) return 0;
  const half = (n + 1) / 2;
  let seen = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b];
    if (seen >= half) return b / 2 / 0.6745;
  }
  return 0;
}

/** Adaptive Wiener filter of `count` images `[count, height, width, channels]` (uint8), a new array. */
export function denoisePixels(pixels: Uint8Array, count: number, shape: { height: number; width: number; channels: number }, d: Denoise): Uint8Array {
  const { height: h, width: w, channels: c } = shape;
  if (!(d.window >= 1 && d.window % 2 === 1)) throw new Error(`denoise window must be odd and ≥ 1, got ${d.window}`);
  const r = d.window >> 1;
  const out = new Uint8Array(pixels.length);
  const per = h * w * c;
  for (let k = 0; k < count; k++) {
    const img = pixels.subarray(k * per, (k + 1) * per);
    const dst = out.subarray(k * per, (k + 1) * per);
    for (let ch = 0; ch < c; ch++) {
      const sigma = noiseSigma(img, h, w, c, ch);
      const noise = sigma * sigma;
      for (let y = 0; y < h; y++) {
        const y0 = Math.max(0, y - r);
        const y1 = Math.min(h - 1, y + r);
        for (let x = 0; x < w; x++) {
          const x0 = Math.max(0, x - r);
          const x1 = Math.min(w - 1, x + r);
          let s = 0;
          let s2 = 0;
          for (let yy = y0; yy <= y1; yy++) {
            for (let xx = x0; xx <= x1; xx++) {
              const v = img[(yy * w + xx) * c + ch];
              s += v;
              s2 += v * v;
            }
          }
          const n = (y1 - y0 + 1) * (x1 - x0 + 1);
          const mu = s / n;
          const v = Math.max(0, s2 / n - mu * mu);
          const gain = v > noise ? (v - noise) / v : 0;
          const i = (y * w + x) * c + ch;
          const value = mu + gain * (img[i] - mu);
          dst[i] = value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
        }
      }
    }
  }
  return out;
}
