import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, formatProgress, parseArgs } from '../src/index.ts';

describe('rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xa);
  });

  it('draws normals with mean 0 and sd 1', () => {
    const r = createRng('normal');
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = r.normal();
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(s2 / n - (s / n) ** 2) - 1)).toBeLessThan(0.02);
  });

  it('shuffles reproducibly and derives independent seeds', () => {
    const xs = createRng(1).shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(createRng(1).shuffle([1, 2, 3, 4, 5, 6, 7, 8])).toEqual(xs);
    expect([...xs].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(deriveSeed(1, 'noise')).toBe(deriveSeed(1, 'noise'));
    expect(deriveSeed(1, 'noise')).not.toBe(deriveSeed(1, 'augment'));
  });
});

describe('progress and args', () => {
  it('formats done/total, rate and ETA', () => {
    expect(formatProgress('ingest', 50, 200, 10_000)).toBe('ingest: 50/200 (25.0%) 5.0 items/s ETA 30s');
    expect(formatProgress('ingest', 200, 200, 100_000)).toBe('ingest: 200/200 (100.0%) 2.0 items/s in 1m40s');
  });

  it('parses flags', () => {
    expect(parseArgs(['ingest', '--experiment=e.yaml', '--model', 'm', '--dry-run'])).toEqual({
      _: ['ingest'],
      experiment: 'e.yaml',
      model: 'm',
      dryRun: true,
    });
  });
});
