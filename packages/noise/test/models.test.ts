import { describe, expect, it } from 'vitest';
import { applyNoise, fftPlan, foregroundMean, noiseModels, NOISE_KINDS, resolveNoiseParams, type FloatImage } from '../src/index.ts';
import { halves, loadRealFloat, mean, REAL_FILES, std } from './helpers.ts';

const KSPACE = ['kspace_motion', 'ghosting', 'spike', 'gibbs', 'bias_field'] as const;
/** Models with no random draw at all: another seed gives the same output (by design). */
const DETERMINISTIC = new Set(['gaussian_blur', 'gibbs']);

describe('fft', () => {
  it.each([7, 12, 150, 224, 227, 256])('matches a naive DFT and inverts, n = %i', (n) => {
    const x = Float64Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13);
    const buf = x.slice();
    const plan = fftPlan(n);
    plan.forward(buf);
    let err = 0;
    for (const k of [0, 1, Math.floor(n / 3), n - 1]) {
      let re = 0;
      let im = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * j * k) / n;
        re += x[2 * j] * Math.cos(a) - x[2 * j + 1] * Math.sin(a);
        im += x[2 * j] * Math.sin(a) + x[2 * j + 1] * Math.cos(a);
      }
      err = Math.max(err, Math.abs(re - buf[2 * k]), Math.abs(im - buf[2 * k + 1]));
    }
    expect(err).toBeLessThan(1e-9);
    plan.inverse(buf);
    for (let i = 0; i < 2 * n; i++) expect(Math.abs(buf[i] - x[i])).toBeLessThan(1e-12);
  });
});

describe('statistics', () => {
  it('rician background is Rayleigh: mean within 5% of σ·√(π/2)', () => {
    const img = halves(256, 256, 0, 0.5);
    const sigma = 0.05;
    const out = applyNoise(img, { kind: 'rician', params: { sigma } }, 11);
    const bg: number[] = [];
    for (let y = 0; y < 256; y++) for (let x = 0; x < 128; x++) bg.push(out.data[y * 256 + x]);
    expect(Math.min(...bg)).toBeGreaterThanOrEqual(0);
    const expected = sigma * Math.sqrt(Math.PI / 2);
    expect(Math.abs(mean(bg) - expected) / expected).toBeLessThan(0.05);
  });

  it.each([20, 10, 5, 3])('rician at target SNR %i: measured SNR within 10%', (snr) => {
    const img = halves(256, 256, 0, 0.5);
    expect(foregroundMean(img.data)).toBeCloseTo(0.5, 6);
    const out = applyNoise(img, { kind: 'rician', snr }, 5);
    const bg: number[] = [];
    for (let y = 0; y < 256; y++) for (let x = 0; x < 128; x++) bg.push(out.data[y * 256 + x]);
    const sigmaEst = mean(bg) / Math.sqrt(Math.PI / 2);
    const measured = 0.5 / sigmaEst;
    expect(Math.abs(measured - snr) / snr).toBeLessThan(0.1);
  });

  it('gaussian residual has mean ≈ 0 and std within 5% of σ', () => {
    const img = halves(256, 256, 0.5, 0.5);
    for (const sigma of [0.02, 0.05, 0.08]) {
      const out = applyNoise(img, { kind: 'gaussian', params: { sigma } }, 3);
      const r = out.data.map((v, i) => v - img.data[i]);
      expect(Math.abs(mean(r))).toBeLessThan(sigma * 0.02);
      expect(Math.abs(std(r) - sigma) / sigma).toBeLessThan(0.05);
    }
  });

  it('salt and pepper replaces the stated fraction (within 1%), half each way', () => {
    const img = halves(256, 256, 0.5, 0.5, 3);
    for (const amount of [0.01, 0.05, 0.2]) {
      const out = applyNoise(img, { kind: 'salt_pepper', params: { amount } }, 9);
      let salt = 0;
      let pepper = 0;
      let notGrey = 0;
      for (let i = 0; i < out.data.length; i += 3) {
        if (out.data[i] === 1) salt++;
        else if (out.data[i] === 0) pepper++;
        if (out.data[i + 1] !== out.data[i] || out.data[i + 2] !== out.data[i]) notGrey++;
      }
      expect(notGrey).toBe(0); // grey stays grey
      const n = out.data.length / 3;
      expect(Math.abs((salt + pepper) / n - amount)).toBeLessThan(0.01);
      expect(Math.abs(salt - pepper) / n).toBeLessThan(0.01);
    }
  });

  it('poisson keeps the mean and has variance x / photons', () => {
    const img = halves(256, 256, 0.5, 0.5);
    for (const photons of [8, 60]) {
      const out = applyNoise(img, { kind: 'poisson', params: { photons } }, 4);
      expect(Math.abs(mean(out.data) - 0.5)).toBeLessThan(0.01);
      const expected = Math.sqrt(0.5 / photons);
      expect(Math.abs(std(out.data) - expected) / expected).toBeLessThan(0.05);
    }
  });
});

describe('k-space models at severity 0', () => {
  const textured = (h: number, w: number, c: number): FloatImage => {
    const data = new Float32Array(h * w * c);
    for (let i = 0; i < data.length; i++) data[i] = 0.5 + 0.45 * Math.sin(i * 0.013) * Math.cos(i * 0.0071 + (i % c));
    return { height: h, width: w, channels: c, data };
  };
  it.each(KSPACE)('%s is the identity within 1e-5 (224², 150×173 RGB, 97×64)', (kind) => {
    for (const img of [textured(224, 224, 1), textured(150, 173, 3), textured(97, 64, 1)]) {
      const out = applyNoise(img, { kind, severity: 0 }, 1);
      let d = 0;
      for (let i = 0; i < img.data.length; i++) d = Math.max(d, Math.abs(out.data[i] - img.data[i]));
      expect(d).toBeLessThan(1e-5);
    }
  });
});

describe('every model on real images', async () => {
  const images = await Promise.all(REAL_FILES.map((f, i) => loadRealFloat(f, i % 2 === 0 ? 128 : 96, i < 2 ? 3 : 1)));
  it.each(NOISE_KINDS)('%s: shape kept, values in [0, 1], seeded, stronger with severity', (kind) => {
    for (const img of images) {
      const diffs: number[] = [];
      for (let s = 1; s <= 5; s++) {
        const out = applyNoise(img, { kind, severity: s }, 77);
        expect([out.height, out.width, out.channels, out.data.length]).toEqual([img.height, img.width, img.channels, img.data.length]);
        let lo = Infinity;
        let hi = -Infinity;
        let d = 0;
        for (let i = 0; i < out.data.length; i++) {
          const v = out.data[i];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
          d += Math.abs(v - img.data[i]);
        }
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
        diffs.push(d / out.data.length);
      }
      expect(diffs[0]).toBeGreaterThan(0);
      expect(diffs[4]).toBeGreaterThan(diffs[0]);
      const a = applyNoise(img, { kind, severity: 3 }, 123);
      const b = applyNoise(img, { kind, severity: 3 }, 123);
      const c = applyNoise(img, { kind, severity: 3 }, 124);
      expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
      expect(Buffer.from(a.data.buffer).equals(Buffer.from(c.data.buffer))).toBe(DETERMINISTIC.has(kind));
    }
  });
});

describe('registry', () => {
  it('has a severity table 0–5 for every kind, with valid parameters', () => {
    for (const kind of NOISE_KINDS) {
      const m = noiseModels[kind];
      expect(m.kind).toBe(kind);
      expect(m.levels).toHaveLength(6);
      for (let s = 0; s <= 5; s++) expect(resolveNoiseParams({ kind, severity: s })).toEqual(m.levels[s]);
    }
  });
  it('rejects bad specs with a message naming the problem', () => {
    expect(() => resolveNoiseParams({ kind: 'nope', severity: 1 })).toThrow(/unknown noise kind "nope"/);
    expect(() => resolveNoiseParams({ kind: 'gaussian', severity: 6 })).toThrow(/severity must be an integer 0–5/);
    expect(() => resolveNoiseParams({ kind: 'gaussian', snr: 5 })).toThrow(/snr applies to rician only/);
    expect(() => resolveNoiseParams({ kind: 'gaussian', params: { sigma: 2 } })).toThrow(/outside \[0, 1\]/);
    expect(() => resolveNoiseParams({ kind: 'ghosting', params: { ghosts: 2.5, intensity: 0.5 } })).toThrow(/integer/);
    expect(() => resolveNoiseParams({ kind: 'gaussian', severity: 1, snr: 3 })).toThrow(/exactly one/);
  });
});
