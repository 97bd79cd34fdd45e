import type { Rng } from '@mri-robust/core';
import { clahePlane } from './clahe.ts';
import type { FloatImage } from './image.ts';
import type { AugmentSettings } from './schema.ts';

/** The concrete transformation of one copy (stored in the copy's record). */
export interface AugmentPlan {
  /** degrees, counter-clockwise */
  rotation: number;
  hflip: boolean;
  /** > 1 enlarges */
  zoom: number;
  /** shift in pixels */
  shiftX: number;
  shiftY: number;
  /** added to every value */
  brightness: number;
  /** contrast factor around the image mean */
  contrast: number;
  /** x ↦ x^gamma */
  gamma: number;
  clahe: { tiles: number; clipLimit: number } | null;
}

export const IDENTITY_PLAN: AugmentPlan = {
  rotation: 0,
  hflip: false,
  zoom: 1,
  shiftX: 0,
  shiftY: 0,
  brightness: 0,
  contrast: 1,
  gamma: 1,
  clahe: null,
};

/**
 * Draws one copy's plan. Every op draws its coin and its value in a fixed order whether or not it is
 * applied, so changing one op's probability does not reshuffle the others' values.
 */
export function planAugment(s: AugmentSettings, rng: Rng, height: number, width: number): AugmentPlan {
  const coin = (p: number) => rng.next() < p;
  const rotOn = coin(s.rotation.p);
  const rot = rng.uniform(-s.rotation.degrees, s.rotation.degrees);
  const flipOn = coin(s.hflip.p);
  const zoomOn = coin(s.zoom.p);
  const zoom = rng.uniform(s.zoom.range[0], s.zoom.range[1]);
  const shiftOn = coin(s.translation.p);
  const sx = rng.uniform(-s.translation.fraction, s.translation.fraction) * width;
  const sy = rng.uniform(-s.translation.fraction, s.translation.fraction) * height;
  const brOn = coin(s.brightness.p);
  const br = rng.uniform(-s.brightness.delta, s.brightness.delta);
  const ctOn = coin(s.contrast.p);
  const ct = rng.uniform(s.contrast.range[0], s.contrast.range[1]);
  const gmOn = coin(s.gamma.p);
  // log-uniform, so that γ and 1/γ are equally likely for a symmetric range like [0.8, 1.25]
  const gm = Math.exp(rng.uniform(Math.log(s.gamma.range[0]), Math.log(s.gamma.range[1])));
  const claheOn = coin(s.clahe.p);
  return {
    rotation: rotOn ? rot : 0,
    hflip: flipOn,
    zoom: zoomOn ? zoom : 1,
    shiftX: shiftOn ? sx : 0,
    shiftY: shiftOn ? sy : 0,
    brightness: brOn ? br : 0,
    contrast: ctOn ? ct : 1,
    gamma: gmOn ? gm : 1,
    clahe: claheOn ? { tiles: s.clahe.tiles, clipLimit: s.clahe.clip_limit } : null,
  };
}

/**
 * One affine resampling (bilinear, 0 outside) for flip + zoom + rotation + shift about the centre:
 * dst = c + t + R(θ)·Z·F·(src − c), so src = F⁻¹·Z⁻¹·R(−θ)·(dst − c − t) + c.
 */
function affinePlane(
  p: Float32Array,
  height: number,
  width: number,
  plan: Pick<AugmentPlan, 'rotation' | 'hflip' | 'zoom' | 'shiftX' | 'shiftY'>,
): Float32Array {
  const th = (plan.rotation * Math.PI) / 180;
  const c = Math.cos(th) / plan.zoom;
  const s = Math.sin(th) / plan.zoom;
  const f = plan.hflip ? -1 : 1;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const out = new Float32Array(p.length);
  for (let y = 0; y < height; y++) {
    const v = y - cy - plan.shiftY;
    for (let x = 0; x < width; x++) {
      const u = x - cx - plan.shiftX;
      const sx = f * (c * u + s * v) + cx;
      const sy = -s * u + c * v + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= width || y0 >= height) continue;
      const a = sx - x0;
      const b = sy - y0;
      const inX0 = x0 >= 0;
      const inX1 = x0 + 1 < width;
      const inY0 = y0 >= 0;
      const inY1 = y0 + 1 < height;
      const r0 = y0 * width;
      const r1 = r0 + width;
      const p00 = inY0 && inX0 ? p[r0 + x0] : 0;
      const p01 = inY0 && inX1 ? p[r0 + x0 + 1] : 0;
      const p10 = inY1 && inX0 ? p[r1 + x0] : 0;
      const p11 = inY1 && inX1 ? p[r1 + x0 + 1] : 0;
      out[y * width + x] = (1 - b) * ((1 - a) * p00 + a * p01) + b * ((1 - a) * p10 + a * p11);
    }
  }
  return out;
}

function isGreyImage(img: FloatImage): boolean {
  const { channels, data } = img;
  if (channels === 1) return true;
  for (let i = 0; i < data.length; i += channels) for (let c = 1; c < channels; c++) if (data[i + c] !== data[i]) return false;
  return true;
}

/** Applies a plan: geometry, then CLAHE, brightness, contrast, gamma; values clipped to [0, 1]. */
export function applyAugment(img: FloatImage, plan: AugmentPlan): FloatImage {
  const { height, width, channels, data } = img;
  const n = height * width;
  const grey = isGreyImage(img);
  const planeCount = grey ? 1 : channels;
  const geometric = plan.rotation !== 0 || plan.hflip || plan.zoom !== 1 || plan.shiftX !== 0 || plan.shiftY !== 0;
  const out = new Float32Array(data.length);
  const gammaLut = plan.gamma !== 1 ? gammaTable(plan.gamma) : null;
  for (let c = 0; c < planeCount; c++) {
    let p: Float32Array = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = data[i * channels + c];
    if (geometric) p = affinePlane(p, height, width, plan);
    if (plan.clahe) p = clahePlane(p, height, width, plan.clahe.tiles, plan.clahe.clipLimit);
    // v = (x − mean)·contrast + mean + brightness = x·contrast + offset
    let mean = 0;
    if (plan.contrast !== 1) {
      for (let i = 0; i < n; i++) mean += p[i];
      mean /= n;
    }
    const scale = plan.contrast;
    const offset = plan.contrast !== 1 ? mean * (1 - plan.contrast) + plan.brightness : plan.brightness;
    for (let i = 0; i < n; i++) {
      let v = p[i] * scale + offset;
      v = v <= 0 ? 0 : Math.min(v, 1);
      p[i] = gammaLut ? lookupGamma(gammaLut, v) : v;
    }
    if (channels === 1) out.set(p);
    else if (grey) for (let i = 0; i < n; i++) for (let k = 0; k < channels; k++) out[i * channels + k] = p[i];
    else for (let i = 0; i < n; i++) out[i * channels + c] = p[i];
  }
  return { height, width, channels, data: out };
}

const GAMMA_STEPS = 4096;

/** x^γ at GAMMA_STEPS + 1 points of [0, 1]; linear interpolation between them (error < 1e-4 for γ ≥ 0.5). */
function gammaTable(gamma: number): Float64Array {
  return Float64Array.from({ length: GAMMA_STEPS + 2 }, (_, i) => Math.min(1, i / GAMMA_STEPS) ** gamma);
}

function lookupGamma(t: Float64Array, v: number): number {
  const f = v * GAMMA_STEPS;
  const i = Math.floor(f);
  const a = f - i;
  return t[i] + a * (t[i + 1] - t[i]);
}
