/**
 * SYNTHETIC brain-like MRI slices ("phantoms") for the quick start and tests. They are not real
 * patients and say nothing about real tumours: each is drawn procedurally from a seed.
 *
 * Every slice: a head ellipse with random pose (rotation, scale, offset, aspect), a bright scalp
 * ring, a dark skull/CSF band, brain tissue with grey/white contrast, gyri along the cortex and
 * smooth random texture, two lateral ventricles and the midline, a random bias field, random gain,
 * and noise. Distractors common to all classes (small bright vessel dots) keep the task from being
 * "find any bright spot". Class-specific lesions:
 *  - glioma: an irregular, infiltrative intra-axial mass in a hemisphere: fuzzy lobulated border,
 *    bright heterogeneous rim, darker necrotic core, surrounding darker oedema;
 *  - meningioma: a bright, homogeneous, well-defined extra-axial mass against the inner skull;
 *  - pituitary: a small bright round lesion on the midline near the skull base;
 *  - notumor: none.
 */
import { createRng, type Rng } from '@mri-robust/core';

export interface PhantomOptions {
  /** Seed of this one slice (derive it per source, class and index). */
  seed: number;
  /** One of glioma, meningioma, notumor, pituitary (anything else draws no lesion). */
  label: string;
  /** Side in pixels. */
  size: number;
}

/** Smooth value noise on [-1, 1]: a random grid, bilinearly interpolated, several octaves. */
function valueNoise(rng: Rng, grids: number[]): (x: number, y: number) => number {
  const layers = grids.map((g) => {
    const v = new Float64Array((g + 1) * (g + 1)).map(() => rng.uniform(-1, 1));
    return { g, v };
  });
  const total = grids.reduce((s, _, i) => s + 1 / (i + 1), 0);
  return (x, y) => {
    // x, y in [-1.2, 1.2] → [0, 1]
    const ux = Math.min(1, Math.max(0, (x + 1.2) / 2.4));
    const uy = Math.min(1, Math.max(0, (y + 1.2) / 2.4));
    let s = 0;
    layers.forEach(({ g, v }, i) => {
      const fx = ux * g;
      const fy = uy * g;
      const x0 = Math.min(g - 1, Math.floor(fx));
      const y0 = Math.min(g - 1, Math.floor(fy));
      const tx = fx - x0;
      const ty = fy - y0;
      const sx = tx * tx * (3 - 2 * tx);
      const sy = ty * ty * (3 - 2 * ty);
      const a = v[y0 * (g + 1) + x0];
      const b = v[y0 * (g + 1) + x0 + 1];
      const c = v[(y0 + 1) * (g + 1) + x0];
      const d = v[(y0 + 1) * (g + 1) + x0 + 1];
      s += ((a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy) / (i + 1);
    });
    return s / total;
  };
}

/** Random smooth radial profile r(φ) = 1 + Σ a_k sin(kφ + p_k), for lobulated borders. */
function lobes(rng: Rng, amount: number): (phi: number) => number {
  const terms = [2, 3, 4, 5, 7].map((k) => ({ k, a: rng.uniform(0, amount) / Math.sqrt(k), p: rng.uniform(0, 2 * Math.PI) }));
  return (phi) => 1 + terms.reduce((s, t) => s + t.a * Math.sin(t.k * phi + t.p), 0);
}

const smoothstep = (e0: number, e1: number, x: number) => {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};

/** Renders one synthetic slice: size×size grey pixels (uint8, row-major). Deterministic per options. */
export function renderPhantom(options: PhantomOptions): Uint8Array {
  const { size, label } = options;
  const rng = createRng(`phantom:${options.seed}`);
  // pose and anatomy
  const theta = rng.uniform(-0.6, 0.6);
  const scale = rng.uniform(0.62, 0.95);
  const ox = rng.uniform(-0.14, 0.14);
  const oy = rng.uniform(-0.14, 0.14);
  const ax = rng.uniform(0.64, 0.84);
  const by = rng.uniform(0.84, 0.98);
  const skullIn = rng.uniform(0.86, 0.9);
  const csf = skullIn - rng.uniform(0.025, 0.045);
  const wmRadius = rng.uniform(0.5, 0.68);
  const grey = rng.uniform(95, 120);
  const white = grey + rng.uniform(-10, 50);
  const scalp = rng.uniform(170, 220);
  const ventW = rng.uniform(0.05, 0.13);
  const ventH = rng.uniform(0.12, 0.32);
  const ventDx = rng.uniform(0.09, 0.14);
  const ventY = rng.uniform(-0.12, 0.02);
  const ventTilt = rng.uniform(0.15, 0.45);
  const gyri = Math.round(rng.uniform(14, 22));
  const gyriPhase = rng.uniform(0, 2 * Math.PI);
  const texture = valueNoise(rng, [5, 11, 23]);
  const fine = valueNoise(rng, [37, 53]);
  const bias = valueNoise(rng, [2, 3, 4]);
  const biasAmp = rng.uniform(0.15, 0.45);
  const gain = rng.uniform(0.8, 1.2);
  const texAmp = rng.uniform(8, 30);
  const noiseSigma = rng.uniform(2, 7);
  const vessels = Array.from({ length: rng.int(4) }, () => {
    const a = rng.uniform(0, 2 * Math.PI);
    const r = rng.uniform(0.1, 0.7);
    return { x: r * Math.cos(a), y: r * Math.sin(a), s: rng.uniform(0.012, 0.025), b: rng.uniform(40, 90) };
  });

  // lesion (in head coordinates: x right, y down, head ellipse radii ax, by)
  type Lesion = (x: number, y: number, base: number) => number;
  let lesion: Lesion | null = null;
  if (label === 'glioma') {
    const side = rng.next() < 0.5 ? -1 : 1;
    const cx = side * rng.uniform(0.15, 0.45) * ax;
    const cy = rng.uniform(-0.5, 0.35) * by;
    const R = rng.uniform(0.13, 0.24);
    const border = lobes(rng, 0.3);
    const inner = valueNoise(rng, [7, 13]);
    const rim = rng.uniform(45, 85);
    const core = rng.uniform(25, 50);
    const edema = rng.uniform(12, 25);
    lesion = (x, y, base) => {
      const dx = x - cx;
      const dy = y - cy;
      const d = Math.hypot(dx, dy) / (R * border(Math.atan2(dy, dx)));
      if (d > 1.9) return base;
      let v = base - edema * (1 - smoothstep(1.0, 1.9, d));
      const inside = 1 - smoothstep(0.85, 1.1, d + 0.12 * inner(x * 3, y * 3));
      const rimProfile = Math.exp(-((d - 0.72) ** 2) / 0.06);
      v += inside * (rim * rimProfile * (0.8 + 0.4 * inner(x * 5, y * 5)) - core * (1 - smoothstep(0.2, 0.6, d)));
      return v;
    };
  } else if (label === 'meningioma') {
    const phi = rng.uniform(0, 2 * Math.PI);
    const R = rng.uniform(0.09, 0.17);
    // centre just inside the inner skull table along direction phi
    const cx = Math.cos(phi) * ax * (skullIn - R * 0.35);
    const cy = Math.sin(phi) * by * (skullIn - R * 0.35);
    const bright = rng.uniform(70, 110);
    const border = lobes(rng, 0.08);
    lesion = (x, y, base) => {
      const dx = x - cx;
      const dy = y - cy;
      const d = Math.hypot(dx, dy) / (R * border(Math.atan2(dy, dx)));
      const rr = Math.hypot(x / ax, y / by);
      if (d > 1.1 || rr > skullIn) return base;
      return base + bright * (1 - smoothstep(0.9, 1.02, d));
    };
  } else if (label === 'pituitary') {
    const cx = rng.uniform(-0.03, 0.03);
    const cy = rng.uniform(0.42, 0.6) * by;
    const R = rng.uniform(0.045, 0.085);
    const bright = rng.uniform(60, 100);
    lesion = (x, y, base) => {
      const d = Math.hypot((x - cx) / 1.15, y - cy) / R;
      return d > 1.1 ? base : base + bright * (1 - smoothstep(0.75, 1.05, d));
    };
  }

  const out = new Uint8Array(size * size);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // image coords in [-1, 1] → head coords
      const u = ((px + 0.5) / size) * 2 - 1 - ox;
      const w = ((py + 0.5) / size) * 2 - 1 - oy;
      const x = (cos * u + sin * w) / scale;
      const y = (-sin * u + cos * w) / scale;
      const r = Math.hypot(x / ax, y / by);
      let v = 4;
      if (r <= 1) {
        if (r > skullIn + 0.035) v = scalp * (0.85 + 0.15 * texture(x * 2, y * 2));
        else if (r > skullIn) v = 25;
        else if (r > csf) v = 40;
        else {
          const ang = Math.atan2(y, x);
          const depth = (csf - r) / csf; // 0 at cortex, 1 at centre
          const gyr = 0.5 + 0.5 * Math.sin(gyri * ang + gyriPhase + 3 * texture(x, y));
          v = grey + (white - grey) * smoothstep(wmRadius - 0.12, wmRadius + 0.05, 1 - r / csf + 0.25);
          v -= (1 - smoothstep(0, 0.12, depth)) * 30 * gyr; // sulci near the cortex
          v += texAmp * texture(x * 1.5, y * 1.5) + 6 * fine(x, y);
          // ventricles: two tilted ellipses either side of the midline
          for (const s of [-1, 1]) {
            const vx = x - s * ventDx;
            const vy = y - ventY;
            const c = Math.cos(s * ventTilt);
            const sn = Math.sin(s * ventTilt);
            const ex = (c * vx + sn * vy) / ventW;
            const ey = (-sn * vx + c * vy) / ventH;
            const e = Math.hypot(ex, ey);
            if (e < 1.15) v = v + (35 - v) * (1 - smoothstep(0.85, 1.15, e));
          }
          // midline (falx) in front of and behind the ventricles
          if (Math.abs(y - ventY) > ventH * 1.1) v -= 30 * Math.exp(-((x / 0.012) ** 2));
          for (const vs of vessels) v += vs.b * Math.exp(-(((x - vs.x) ** 2 + (y - vs.y) ** 2) / (vs.s * vs.s)));
        }
        if (lesion) v = lesion(x, y, v);
      }
      v *= gain * (1 + biasAmp * bias(u, w));
      v += noiseSigma * rng.normal();
      out[py * size + px] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}
