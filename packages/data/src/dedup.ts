/**
 * Duplicate groups. Two images are linked when
 *  - exact: their decoded pixels are identical (same `sha`), or
 *  - near: their mirror-invariant perceptual hashes differ in at most `hamming` bits AND their 32×32
 *    luminance thumbnails, mirror-aligned, correlate at least `minCorrelation` (Pearson). The second
 *    test stops chains of merely similar-looking slices (same head outline, different slice) that a
 *    64-bit hash alone links at a few bits.
 * Groups are the connected components of these links (union–find), so they span sources and splits.
 */
import { phashWords, popcount32, PHASH_SIZE } from './phash.ts';

export interface DedupItem {
  sha: string;
  phash: string;
  /** 32×32 luminance thumbnail (needed for near links when minCorrelation > -1). */
  thumb?: Uint8Array;
}

export interface DedupOptions {
  exact: boolean;
  near: boolean;
  hamming: number;
  minCorrelation: number;
}

/** Why two items are linked, kept for the report's examples. */
interface Link {
  a: number;
  b: number;
  kind: 'exact' | 'near';
  hamming: number;
  correlation: number;
}

export interface DedupResult {
  /** Components with more than one member, members ascending, groups ordered by first member. */
  groups: number[][];
  /** groupOf[i] = index into `groups`, or -1 for a singleton. */
  groupOf: Int32Array;
  links: Link[];
  /** Pairs that were near by hash but rejected by the thumbnail correlation. */
  rejectedNear: number;
}

class UnionFind {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n).map((_, i) => i);
  }
  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]];
      x = p[x];
    }
    return x;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/** Zero-mean, unit-norm copy of a thumbnail. */
export function normalizeThumb(thumb: ArrayLike<number>): Float64Array {
  const n = thumb.length;
  const out = new Float64Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += thumb[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    out[i] = thumb[i] - mean;
    ss += out[i] * out[i];
  }
  const norm = Math.sqrt(ss);
  if (norm > 0) for (let i = 0; i < n; i++) out[i] /= norm;
  return out;
}

/** Pearson correlation of two normalized thumbnails, the larger of as-is and left-right mirrored. */
export function mirrorCorrelation(a: Float64Array, b: Float64Array, side = PHASH_SIZE): number {
  let direct = 0;
  let mirrored = 0;
  for (let y = 0; y < side; y++) {
    const row = y * side;
    for (let x = 0; x < side; x++) {
      const v = a[row + x];
      direct += v * b[row + x];
      mirrored += v * b[row + side - 1 - x];
    }
  }
  return Math.max(direct, mirrored);
}

export function findDuplicateGroups(items: readonly DedupItem[], options: DedupOptions): DedupResult {
  const n = items.length;
  const uf = new UnionFind(n);
  const links: Link[] = [];
  let rejectedNear = 0;
  if (options.exact) {
    const first = new Map<string, number>();
    items.forEach((it, i) => {
      const f = first.get(it.sha);
      if (f === undefined) first.set(it.sha, i);
      else {
        uf.union(f, i);
        links.push({ a: f, b: i, kind: 'exact', hamming: 0, correlation: 1 });
      }
    });
  }
  if (options.near) {
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    items.forEach((it, i) => {
      [hi[i], lo[i]] = phashWords(it.phash);
    });
    const norm: (Float64Array | null)[] = new Array(n).fill(null);
    const normOf = (i: number) => {
      if (!norm[i]) {
        const t = items[i].thumb;
        if (!t) throw new Error('near de-duplication needs thumbnails');
        norm[i] = normalizeThumb(t);
      }
      return norm[i]!;
    };
    const t = options.hamming;
    for (let i = 0; i < n; i++) {
      const a = hi[i];
      const b = lo[i];
      for (let j = i + 1; j < n; j++) {
        const d = popcount32(a ^ hi[j]) + popcount32(b ^ lo[j]);
        if (d > t) continue;
        if (options.exact && items[i].sha === items[j].sha) continue; // already linked
        const c = options.minCorrelation > -1 ? mirrorCorrelation(normOf(i), normOf(j)) : 1;
        if (c < options.minCorrelation) {
          rejectedNear++;
          continue;
        }
        uf.union(i, j);
        links.push({ a: i, b: j, kind: 'near', hamming: d, correlation: c });
      }
    }
  }
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = uf.find(i);
    const g = byRoot.get(r);
    if (g) g.push(i);
    else byRoot.set(r, [i]);
  }
  const groups = [...byRoot.values()].filter((g) => g.length > 1).sort((x, y) => x[0] - y[0]);
  const groupOf = new Int32Array(n).fill(-1);
  groups.forEach((g, gi) => {
    for (const i of g) groupOf[i] = gi;
  });
  return { groups, groupOf, links, rejectedNear };
}

export interface Candidate {
  label: string;
  /** True when the item comes from a source's own Testing folder (and that split is honoured). */
  fromTest: boolean;
  pixels: number;
  /** Order of preference among otherwise equal members (source order, then path). */
  order: number;
}

export interface Resolution {
  /** Member kept (index into items), or null when the group is dropped. */
  keep: number | null;
  label: string | null;
  /** Labels present in the group (more than one means a conflict). */
  labels: string[];
  conflict: boolean;
  /** True when any member came from a Testing folder: the kept copy must go to test. */
  touchesTest: boolean;
}

/**
 * Resolves one group (or a singleton) to at most one kept copy.
 * Label rule: one label → keep it. Several labels (a conflict): "drop" drops the group; "majority"
 * keeps the most frequent label and drops the group on a tie.
 * Copy rule: among members with the kept label prefer one from a Testing folder, then the largest
 * original, then source order and path.
 */
export function resolveGroup(members: readonly number[], cands: readonly Candidate[], rule: 'drop' | 'majority'): Resolution {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(cands[m].label, (counts.get(cands[m].label) ?? 0) + 1);
  const labels = [...counts.keys()].sort();
  const touchesTest = members.some((m) => cands[m].fromTest);
  const conflict = labels.length > 1;
  let label: string | null = labels[0];
  if (conflict) {
    if (rule === 'drop') label = null;
    else {
      const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
      label = sorted[0][1] > sorted[1][1] ? sorted[0][0] : null;
    }
  }
  if (label === null) return { keep: null, label: null, labels, conflict, touchesTest };
  const eligible = members.filter((m) => cands[m].label === label);
  eligible.sort((a, b) => {
    const ca = cands[a];
    const cb = cands[b];
    if (ca.fromTest !== cb.fromTest) return ca.fromTest ? -1 : 1;
    if (ca.pixels !== cb.pixels) return cb.pixels - ca.pixels;
    return ca.order - cb.order;
  });
  return { keep: eligible[0], label, labels, conflict, touchesTest };
}
