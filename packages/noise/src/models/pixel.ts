import type { NoiseModel } from './types.ts';
import { foregroundMean, samplePoisson } from './sampling.ts';

/** Per-pixel models. One random field is drawn per image and applied to every plane. */

const mapPlanes = (planes: Float32Array[], f: (v: number, i: number) => number): Float32Array[] =>
  planes.map((p) => {
    const out = new Float32Array(p.length);
    for (let i = 0; i < p.length; i++) out[i] = f(p[i], i);
    return out;
  });

function normalField(n: number, rng: { normal(): number }): Float32Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = rng.normal();
  return f;
}

const gaussian: NoiseModel = {
  kind: 'gaussian',
  domain: 'pixel',
  summary: 'additive white Gaussian noise x + σ·n, n ~ N(0, 1)',
  params: { sigma: { min: 0, max: 1, doc: 'standard deviation (image scale [0, 1])' } },
  levels: [{ sigma: 0 }, { sigma: 0.02 }, { sigma: 0.04 }, { sigma: 0.07 }, { sigma: 0.1 }, { sigma: 0.15 }],
  apply(planes, { sigma }, { height, width, rng }) {
    const n = normalField(height * width, rng);
    return mapPlanes(planes, (v, i) => v + sigma * n[i]);
  },
};

/**
 * Rician noise: the magnitude of the image plus complex Gaussian noise, |x + σ(n₁ + i·n₂)|.
 * Given `snr`, σ = (mean foreground intensity) / snr, the foreground being the pixels above the
 * Otsu threshold of the clean image. In the background (x = 0) the result is Rayleigh with mean
 * σ·√(π/2).
 */
const rician: NoiseModel = {
  kind: 'rician',
  domain: 'pixel',
  summary: 'magnitude of image + complex Gaussian noise; σ or target SNR = mean foreground / σ',
  params: {
    sigma: { min: 0, max: 1, optional: true, doc: 'σ of each of the real and imaginary noise parts' },
    snr: { min: 0.1, max: 1000, optional: true, doc: 'target SNR = mean foreground intensity / σ (used when σ is absent)' },
  },
  levels: [{ sigma: 0 }, { snr: 30 }, { snr: 20 }, { snr: 10 }, { snr: 5 }, { snr: 3 }],
  apply(planes, params, { height, width, rng }) {
    const sigma = params.sigma ?? foregroundMean(planes[0]) / (params.snr as number);
    const n = height * width;
    const n1 = normalField(n, rng);
    const n2 = normalField(n, rng);
    return mapPlanes(planes, (v, i) => {
      const re = v + sigma * n1[i];
      const im = sigma * n2[i];
      return Math.sqrt(re * re + im * im);
    });
  },
};

const saltPepper: NoiseModel = {
  kind: 'salt_pepper',
  domain: 'pixel',
  summary: 'impulse noise: a fraction `amount` of the pixels set to 0 or 1 (half each)',
  params: { amount: { min: 0, max: 1, doc: 'fraction of pixels replaced' } },
  levels: [{ amount: 0 }, { amount: 0.01 }, { amount: 0.02 }, { amount: 0.05 }, { amount: 0.1 }, { amount: 0.2 }],
  apply(planes, { amount }, { height, width, rng }) {
    const n = height * width;
    // -1: untouched, 0: pepper, 1: salt
    const mask = new Int8Array(n);
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      mask[i] = u < amount ? (u < amount / 2 ? 0 : 1) : -1;
    }
    return mapPlanes(planes, (v, i) => (mask[i] < 0 ? v : mask[i]));
  },
};

const speckle: NoiseModel = {
  kind: 'speckle',
  domain: 'pixel',
  summary: 'multiplicative noise x·(1 + σ·n), n ~ N(0, 1)',
  params: { sigma: { min: 0, max: 2, doc: 'standard deviation of the multiplicative factor' } },
  levels: [{ sigma: 0 }, { sigma: 0.05 }, { sigma: 0.1 }, { sigma: 0.2 }, { sigma: 0.3 }, { sigma: 0.45 }],
  apply(planes, { sigma }, { height, width, rng }) {
    const n = normalField(height * width, rng);
    return mapPlanes(planes, (v, i) => v * (1 + sigma * n[i]));
  },
};

/**
 * Shot noise: Poisson(x·photons)/photons. Fewer photons = more noise. For multi-channel colour
 * images each channel gets its own draw (the counting process is per channel); grey images get one.
 */
const poisson: NoiseModel = {
  kind: 'poisson',
  domain: 'pixel',
  summary: 'shot noise Poisson(x·photons)/photons',
  params: { photons: { min: 0.1, max: 1e6, doc: 'photon count at intensity 1 (lower = noisier)' } },
  levels: [{ photons: 1e6 }, { photons: 120 }, { photons: 60 }, { photons: 30 }, { photons: 15 }, { photons: 8 }],
  apply(planes, { photons }, { rng }) {
    return mapPlanes(planes, (v) => samplePoisson(rng, v * photons) / photons);
  },
};

export const pixelModels = [gaussian, rician, saltPepper, speckle, poisson];
