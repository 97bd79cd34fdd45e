import FFT from 'fft.js';

/**
 * 1-D and 2-D complex FFTs of any length, built on fft.js (radix-4, power-of-two sizes only).
 *
 * Sizes n = 2^a · q with a small odd q (≤ 15, e.g. 224 = 32 · 7) use one Cooley–Tukey split:
 * q power-of-two FFTs of length 2^a, twiddles, then 2^a naive DFTs of length q. Other sizes use
 * Bluestein's chirp-z algorithm on a power-of-two convolution. Images therefore keep their exact
 * size in k-space: nothing is padded and no shape ever changes.
 *
 * Convention: forward X[k] = Σ x[n] e^{-2πikn/N}; inverse divides by N.
 */

/** A length-n complex transform working in place on an interleaved buffer [re0, im0, re1, im1, …]. */
export interface FftPlan {
  readonly n: number;
  forward(buf: Float64Array): void;
  inverse(buf: Float64Array): void;
}

const MAX_SMALL_ODD = 15;

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/** In-place conjugation of an interleaved buffer (inverse = conj ∘ forward ∘ conj / n). */
function conjugate(buf: Float64Array, n: number): void {
  for (let i = 1; i < 2 * n; i += 2) buf[i] = -buf[i];
}

abstract class BasePlan implements FftPlan {
  constructor(readonly n: number) {}
  abstract forward(buf: Float64Array): void;
  inverse(buf: Float64Array): void {
    const n = this.n;
    conjugate(buf, n);
    this.forward(buf);
    const s = 1 / n;
    for (let i = 0; i < 2 * n; i += 2) {
      buf[i] *= s;
      buf[i + 1] = -buf[i + 1] * s;
    }
  }
}

class TrivialPlan extends BasePlan {
  forward(): void {}
}

class Pow2Plan extends BasePlan {
  private readonly fft: FFT;
  private readonly out: Float64Array;
  constructor(n: number) {
    super(n);
    this.fft = new FFT(n);
    this.out = new Float64Array(2 * n);
  }
  forward(buf: Float64Array): void {
    this.fft.transform(this.out, buf);
    buf.set(this.out);
  }
}

/** Naive O(n²) DFT for small odd lengths. */
class DftPlan extends BasePlan {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly tmp: Float64Array;
  constructor(n: number) {
    super(n);
    this.cos = new Float64Array(n);
    this.sin = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    this.tmp = new Float64Array(2 * n);
  }
  forward(buf: Float64Array): void {
    const { n, cos, sin, tmp } = this;
    for (let k = 0; k < n; k++) {
      let re = 0;
      let im = 0;
      let idx = 0;
      for (let j = 0; j < n; j++) {
        const xr = buf[2 * j];
        const xi = buf[2 * j + 1];
        const c = cos[idx];
        const s = sin[idx];
        re += xr * c - xi * s;
        im += xr * s + xi * c;
        idx += k;
        if (idx >= n) idx -= n;
      }
      tmp[2 * k] = re;
      tmp[2 * k + 1] = im;
    }
    buf.set(tmp);
  }
}

/** n = p · q with p a power of two and q a small odd number. */
class MixedPlan extends BasePlan {
  private readonly p: number;
  private readonly q: number;
  private readonly fft: FFT | null;
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly cosT: Float64Array; // (h+1) × (h+1): cos(2π·k·m/q), sin(2π·k·m/q)
  private readonly sinT: Float64Array;
  private readonly sRe: Float64Array;
  private readonly sIm: Float64Array;
  private readonly dRe: Float64Array;
  private readonly dIm: Float64Array;
  private readonly work: Float64Array; // q rows of length p (interleaved)
  private readonly a: Float64Array;
  private readonly out: Float64Array;
  private readonly colRe: Float64Array;
  private readonly colIm: Float64Array;
  constructor(n: number, p: number, q: number) {
    super(n);
    this.p = p;
    this.q = q;
    this.fft = p > 1 ? new FFT(p) : null;
    this.twRe = new Float64Array(p * q);
    this.twIm = new Float64Array(p * q);
    for (let qi = 0; qi < q; qi++) {
      for (let k1 = 0; k1 < p; k1++) {
        const ang = (-2 * Math.PI * qi * k1) / n;
        this.twRe[qi * p + k1] = Math.cos(ang);
        this.twIm[qi * p + k1] = Math.sin(ang);
      }
    }
    const h = (q - 1) >> 1;
    this.cosT = new Float64Array((h + 1) * (h + 1));
    this.sinT = new Float64Array((h + 1) * (h + 1));
    for (let k = 0; k <= h; k++) {
      for (let m = 0; m <= h; m++) {
        const ang = (2 * Math.PI * ((k * m) % q)) / q;
        this.cosT[k * (h + 1) + m] = Math.cos(ang);
        this.sinT[k * (h + 1) + m] = Math.sin(ang);
      }
    }
    this.sRe = new Float64Array(h + 1);
    this.sIm = new Float64Array(h + 1);
    this.dRe = new Float64Array(h + 1);
    this.dIm = new Float64Array(h + 1);
    this.work = new Float64Array(2 * n);
    this.a = new Float64Array(2 * p);
    this.out = new Float64Array(2 * p);
    this.colRe = new Float64Array(q);
    this.colIm = new Float64Array(q);
  }
  forward(buf: Float64Array): void {
    const { p, q, work, a, out, twRe, twIm, colRe, colIm } = this;
    // Inner power-of-two transforms over pi for each residue qi (x[q·pi + qi]), then twiddles.
    for (let qi = 0; qi < q; qi++) {
      for (let pi = 0; pi < p; pi++) {
        const src = 2 * (q * pi + qi);
        a[2 * pi] = buf[src];
        a[2 * pi + 1] = buf[src + 1];
      }
      let res = a;
      if (this.fft) {
        this.fft.transform(out, a);
        res = out;
      }
      const base = qi * p;
      for (let k1 = 0; k1 < p; k1++) {
        const re = res[2 * k1];
        const im = res[2 * k1 + 1];
        const c = twRe[base + k1];
        const s = twIm[base + k1];
        work[2 * (base + k1)] = re * c - im * s;
        work[2 * (base + k1) + 1] = re * s + im * c;
      }
    }
    // Outer length-q DFTs across residues for each k1: X[k1 + p·k2]. q is odd, so the DFT uses the
    // symmetric form: with s_m = x_m + x_{q−m}, d_m = x_m − x_{q−m} (m = 1…h, h = (q−1)/2),
    // X[k] = x_0 + Σ s_m cos(2πmk/q) − i Σ d_m sin(2πmk/q) and X[q−k] its mirror.
    const h = (q - 1) >> 1;
    const { cosT, sinT, sRe, sIm, dRe, dIm } = this;
    for (let k1 = 0; k1 < p; k1++) {
      for (let qi = 0; qi < q; qi++) {
        colRe[qi] = work[2 * (qi * p + k1)];
        colIm[qi] = work[2 * (qi * p + k1) + 1];
      }
      const x0r = colRe[0];
      const x0i = colIm[0];
      let sumR = x0r;
      let sumI = x0i;
      for (let m = 1; m <= h; m++) {
        sRe[m] = colRe[m] + colRe[q - m];
        sIm[m] = colIm[m] + colIm[q - m];
        dRe[m] = colRe[m] - colRe[q - m];
        dIm[m] = colIm[m] - colIm[q - m];
        sumR += sRe[m];
        sumI += sIm[m];
      }
      buf[2 * k1] = sumR;
      buf[2 * k1 + 1] = sumI;
      for (let k = 1; k <= h; k++) {
        let ar = x0r;
        let ai = x0i;
        let br = 0;
        let bi = 0;
        const row = k * (h + 1);
        for (let m = 1; m <= h; m++) {
          const c = cosT[row + m];
          const sn = sinT[row + m];
          ar += sRe[m] * c;
          ai += sIm[m] * c;
          br += dRe[m] * sn;
          bi += dIm[m] * sn;
        }
        const lo = 2 * (k1 + p * k);
        const hi = 2 * (k1 + p * (q - k));
        buf[lo] = ar + bi;
        buf[lo + 1] = ai - br;
        buf[hi] = ar - bi;
        buf[hi + 1] = ai + br;
      }
    }
  }
}

/** Bluestein's algorithm: any n through a power-of-two circular convolution. */
class BluesteinPlan extends BasePlan {
  private readonly m: number;
  private readonly fft: FFT;
  private readonly chirpRe: Float64Array;
  private readonly chirpIm: Float64Array;
  private readonly bHat: Float64Array;
  private readonly work: Float64Array;
  private readonly out: Float64Array;
  constructor(n: number) {
    super(n);
    this.m = nextPow2(2 * n - 1);
    this.fft = new FFT(this.m);
    this.chirpRe = new Float64Array(n);
    this.chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k² mod 2n keeps the angle exact for large k.
      const ang = (-Math.PI * ((k * k) % (2 * n))) / n;
      this.chirpRe[k] = Math.cos(ang);
      this.chirpIm[k] = Math.sin(ang);
    }
    const b = new Float64Array(2 * this.m);
    b[0] = this.chirpRe[0];
    b[1] = -this.chirpIm[0];
    for (let k = 1; k < n; k++) {
      b[2 * k] = b[2 * (this.m - k)] = this.chirpRe[k];
      b[2 * k + 1] = b[2 * (this.m - k) + 1] = -this.chirpIm[k];
    }
    this.bHat = new Float64Array(2 * this.m);
    this.fft.transform(this.bHat, b);
    this.work = new Float64Array(2 * this.m);
    this.out = new Float64Array(2 * this.m);
  }
  forward(buf: Float64Array): void {
    const { n, m, chirpRe, chirpIm, bHat, work, out } = this;
    work.fill(0);
    for (let k = 0; k < n; k++) {
      const xr = buf[2 * k];
      const xi = buf[2 * k + 1];
      work[2 * k] = xr * chirpRe[k] - xi * chirpIm[k];
      work[2 * k + 1] = xr * chirpIm[k] + xi * chirpRe[k];
    }
    this.fft.transform(out, work);
    for (let k = 0; k < m; k++) {
      const ar = out[2 * k];
      const ai = out[2 * k + 1];
      const br = bHat[2 * k];
      const bi = bHat[2 * k + 1];
      out[2 * k] = ar * br - ai * bi;
      out[2 * k + 1] = ar * bi + ai * br;
    }
    this.fft.inverseTransform(work, out);
    for (let k = 0; k < n; k++) {
      const cr = work[2 * k];
      const ci = work[2 * k + 1];
      buf[2 * k] = cr * chirpRe[k] - ci * chirpIm[k];
      buf[2 * k + 1] = cr * chirpIm[k] + ci * chirpRe[k];
    }
  }
}

const plans = new Map<number, FftPlan>();

/** A cached plan for length n (plans hold scratch buffers: one thread uses one plan at a time). */
export function fftPlan(n: number): FftPlan {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT length must be a positive integer, got ${n}`);
  let plan = plans.get(n);
  if (!plan) {
    if (n === 1) plan = new TrivialPlan(1);
    else if (isPow2(n)) plan = new Pow2Plan(n);
    else {
      let p = 1;
      while (n % (p * 2) === 0) p *= 2;
      const q = n / p;
      plan = q <= MAX_SMALL_ODD ? (p === 1 ? new DftPlan(n) : new MixedPlan(n, p, q)) : new BluesteinPlan(n);
    }
    plans.set(n, plan);
  }
  return plan;
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** A complex 2-D array (row-major, height × width) as two planes. */
export interface Complex2D {
  height: number;
  width: number;
  re: Float64Array;
  im: Float64Array;
}

/** 1-D transforms of the rows of x (all, or only the listed rows). */
export function transformRows(x: Complex2D, inverse: boolean, rows?: Iterable<number>): void {
  const { height, width, re, im } = x;
  const plan = fftPlan(width);
  const buf = new Float64Array(2 * width);
  for (const y of rows ?? range(height)) {
    const o = y * width;
    for (let i = 0; i < width; i++) {
      buf[2 * i] = re[o + i];
      buf[2 * i + 1] = im[o + i];
    }
    if (inverse) plan.inverse(buf);
    else plan.forward(buf);
    for (let i = 0; i < width; i++) {
      re[o + i] = buf[2 * i];
      im[o + i] = buf[2 * i + 1];
    }
  }
}

/** 1-D transforms of the columns of x (all, or only the listed columns). */
export function transformCols(x: Complex2D, inverse: boolean, cols?: Iterable<number>): void {
  const { height, width, re, im } = x;
  const plan = fftPlan(height);
  const buf = new Float64Array(2 * height);
  for (const c of cols ?? range(width)) {
    for (let y = 0; y < height; y++) {
      buf[2 * y] = re[y * width + c];
      buf[2 * y + 1] = im[y * width + c];
    }
    if (inverse) plan.inverse(buf);
    else plan.forward(buf);
    for (let y = 0; y < height; y++) {
      re[y * width + c] = buf[2 * y];
      im[y * width + c] = buf[2 * y + 1];
    }
  }
}

/** 2-D forward FFT in place (unshifted: DC at [0, 0]). */
export function fft2d(x: Complex2D): void {
  transformRows(x, false);
  transformCols(x, false);
}

/** 2-D inverse FFT in place (divides by height · width). */
export function ifft2d(x: Complex2D): void {
  transformCols(x, true);
  transformRows(x, true);
}

/** The complex form of a real plane (imaginary part zero). */
export function complexOf(plane: Float32Array | Float64Array, height: number, width: number): Complex2D {
  const re = new Float64Array(height * width);
  re.set(plane);
  return { height, width, re, im: new Float64Array(height * width) };
}

/** Unshifted FFT index of position s of the centred (fftshifted) spectrum: DC sits at floor(n/2). */
export function unshiftIndex(s: number, n: number): number {
  return (s - (n >> 1) + n) % n;
}

/** Signed frequency index of bin i of an n-point FFT (…, -1, 0, 1, …), like numpy's fftfreq · n. */
export function signedFreq(i: number, n: number): number {
  return i < (n + 1) >> 1 ? i : i - n;
}
