/**
 * Colormaps for heat maps: `jet` (the classic Grad-CAM look) and `turbo` (Google's perceptually
 * smoother rainbow, polynomial approximation by A. Mikhailov, Apache-2.0). Values are clamped to
 * [0, 1]; NaN maps to 0. Pure functions.
 */

export type ColormapName = 'jet' | 'turbo';

const clamp01 = (v: number): number => (v > 0 ? (v < 1 ? v : 1) : 0);
const to8 = (v: number): number => Math.round(clamp01(v) * 255);

/** Jet: blue (0) → cyan → green (0.5) → yellow → red (1). */
export function jet(value: number): [number, number, number] {
  const x = clamp01(Number.isNaN(value) ? 0 : value);
  return [to8(1.5 - Math.abs(4 * x - 3)), to8(1.5 - Math.abs(4 * x - 2)), to8(1.5 - Math.abs(4 * x - 1))];
}

/** Turbo: dark blue (0) → cyan → green → yellow → dark red (1). */
export function turbo(value: number): [number, number, number] {
  const x = clamp01(Number.isNaN(value) ? 0 : value);
  const x2 = x * x;
  const x3 = x2 * x;
  const x4 = x2 * x2;
  const x5 = x4 * x;
  const r = 0.13572138 + 4.6153926 * x - 42.66032258 * x2 + 132.13108234 * x3 - 152.94239396 * x4 + 59.28637943 * x5;
  const g = 0.09140261 + 2.19418839 * x + 4.84296658 * x2 - 14.18503333 * x3 + 4.27729857 * x4 + 2.82956604 * x5;
  const b = 0.1066733 + 12.64194608 * x - 60.58204836 * x2 + 110.36276771 * x3 - 89.90310912 * x4 + 27.34824973 * x5;
  return [to8(r), to8(g), to8(b)];
}

const luts = new Map<ColormapName, Uint8Array>();

/** 256-entry RGB lookup table of a colormap (entry i = the colour of i / 255): the map is shown with 8-bit colour anyway. */
export function colormapLut(name: ColormapName): Uint8Array {
  let lut = luts.get(name);
  if (!lut) {
    const fn = name === 'turbo' ? turbo : jet;
    lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) lut.set(fn(i / 255), i * 3);
    luts.set(name, lut);
  }
  return lut;
}

/** Maps every value of `map` (expected in [0, 1]) to RGB: a `map.length × 3` uint8 array. */
export function colorize(map: ArrayLike<number>, name: ColormapName = 'jet'): Uint8Array {
  const lut = colormapLut(name);
  const out = new Uint8Array(map.length * 3);
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    const k = Number.isNaN(v) ? 0 : Math.round(clamp01(v) * 255) * 3;
    out[i * 3] = lut[k];
    out[i * 3 + 1] = lut[k + 1];
    out[i * 3 + 2] = lut[k + 2];
  }
  return out;
}
