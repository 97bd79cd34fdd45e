import { noiseSigma } from '../src/nets/denoise.ts';

/** The filter as its formula reads: every window summed directly (denoisePixels uses sliding sums). */
export function directWiener(
  img: Uint8Array,
  count: number,
  { height: h, width: w, channels: c }: { height: number; width: number; channels: number },
  window: number,
): Uint8Array {
  const r = window >> 1;
  const out = new Uint8Array(img.length);
  for (let k = 0; k < count; k++) {
    const base = k * h * w * c;
    for (let ch = 0; ch < c; ch++) {
      const sigma = noiseSigma(img.subarray(base, base + h * w * c), h, w, c, ch);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let s = 0;
          let s2 = 0;
          let n = 0;
          for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
            for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
              const v = img[base + (yy * w + xx) * c + ch];
              s += v;
              s2 += v * v;
              n++;
            }
          }
          const mu = s / n;
          const v = Math.max(0, s2 / n - mu * mu);
          const gain = v > sigma * sigma ? (v - sigma * sigma) / v : 0;
          const i = base + (y * w + x) * c + ch;
          out[i] = Math.min(255, Math.max(0, Math.round(mu + gain * (img[i] - mu))));
        }
      }
    }
  }
  return out;
}
