import { createHash } from 'node:crypto';

/** A seeded pseudo-random generator (sfc32). Every random choice in the project goes through one. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Uniform in [a, b). */
  uniform(a: number, b: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Shuffles in place (Fisher–Yates) and returns the array. */
  shuffle<T>(items: T[]): T[];
  pick<T>(items: readonly T[]): T;
  /** A fresh uint32 seed drawn from this generator. */
  seed(): number;
}

/** A uint32 seed derived from a base seed and labels, e.g. deriveSeed(42, 'noise', 'test', 3). */
export function deriveSeed(seed: number | string, ...labels: (string | number)[]): number {
  const h = createHash('sha256')
    .update([String(seed), ...labels.map(String)].join('\u0000'))
    .digest();
  return h.readUInt32LE(0);
}

export function createRng(seed: number | string): Rng {
  const h = createHash('sha256')
    .update(`rng:${String(seed)}`)
    .digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  const nextU32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) nextU32();
  let spare: number | null = null;
  const rng: Rng = {
    next: () => nextU32() / 4294967296,
    int: (n) => {
      if (!(n > 0)) throw new RangeError(`rng.int needs n > 0, got ${n}`);
      return Math.floor((nextU32() / 4294967296) * n);
    },
    uniform: (lo, hi) => lo + (hi - lo) * (nextU32() / 4294967296),
    normal: () => {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = nextU32() / 4294967296;
      const v = nextU32() / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor((nextU32() / 4294967296) * (i + 1));
        const tmp = items[i];
        items[i] = items[j];
        items[j] = tmp;
      }
      return items;
    },
    pick: (items) => {
      if (items.length === 0) throw new RangeError('rng.pick of an empty list');
      return items[Math.floor((nextU32() / 4294967296) * items.length)];
    },
    seed: () => nextU32(),
  };
  return rng;
}
