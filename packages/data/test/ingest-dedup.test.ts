import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  assignSplits,
  apportion,
  decodeImage,
  findDuplicateGroups,
  hamming,
  mirrorCorrelation,
  normalizeThumb,
  phashFromThumb,
  renderPhantom,
  resolveGroup,
  type DecodeOptions,
} from '@mri-robust/data';
import { DATASETS, DISTINCT_SARTAJ } from './ingest-helpers.ts';

const OPTS: DecodeOptions = { size: 32, channels: 1, fit: 'pad', maxPixels: 10_000_000 };
const DEDUP = { exact: true, near: true, hamming: 4, minCorrelation: 0.93 };

describe('perceptual hash', () => {
  it('is exactly mirror-invariant and changes with content', () => {
    const t = new Uint8Array(32 * 32).map((_, i) => ((i % 32) * 3 + Math.floor(i / 32) * 5 + (i % 7) * 11) % 256);
    const m = new Uint8Array(32 * 32);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) m[y * 32 + x] = t[y * 32 + 31 - x];
    expect(phashFromThumb(m)).toBe(phashFromThumb(t));
    const flippedUpDown = new Uint8Array(32 * 32);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) flippedUpDown[y * 32 + x] = t[(31 - y) * 32 + x];
    expect(hamming(phashFromThumb(flippedUpDown), phashFromThumb(t))).toBeGreaterThan(4);
  });

  it('links mirrored + re-encoded + resized copies of real slices, and not distinct slices', async () => {
    const files = DISTINCT_SARTAJ.slice(6, 18).map((f) => path.join(DATASETS, 'sartaj', f));
    const items = [];
    for (const f of files) items.push(await decodeImage(await readFile(f), OPTS));
    const copies = [];
    for (const f of files.slice(0, 6)) {
      const bytes = await sharp(await readFile(f))
        .flop()
        .resize({ width: 173 })
        .jpeg({ quality: 70 })
        .toBuffer();
      copies.push(await decodeImage(bytes, OPTS));
    }
    // an exact copy (same pixels, different container)
    const png = await sharp(await readFile(files[7]))
      .png()
      .toBuffer();
    const exact = await decodeImage(png, OPTS);
    expect(exact.sha).toBe(items[7].sha);
    const all = [...items, ...copies, exact];
    const res = findDuplicateGroups(all, DEDUP);
    const groupOfOriginal = (i: number) => res.groups.find((g) => g.includes(i));
    for (let i = 0; i < 6; i++) {
      expect(groupOfOriginal(i)).toEqual([i, 12 + i]); // each original with its mirrored copy, nothing else
      expect(hamming(items[i].phash, copies[i].phash)).toBeLessThanOrEqual(4);
    }
    expect(groupOfOriginal(7)).toEqual([7, 18]);
    expect(res.links.find((l) => l.a === 7 && l.b === 18)?.kind).toBe('exact');
    expect(res.groups).toHaveLength(7);
    const a = normalizeThumb(items[0].thumb);
    expect(mirrorCorrelation(a, normalizeThumb(copies[0].thumb))).toBeGreaterThan(0.93);
  });

  it('without the near check only exact copies are grouped', async () => {
    const f = path.join(DATASETS, 'sartaj', DISTINCT_SARTAJ[6]);
    const a = await decodeImage(await readFile(f), OPTS);
    const b = await decodeImage(
      await sharp(await readFile(f))
        .flop()
        .jpeg({ quality: 80 })
        .toBuffer(),
      OPTS,
    );
    expect(findDuplicateGroups([a, b], { ...DEDUP, near: false }).groups).toHaveLength(0);
    expect(findDuplicateGroups([a, b], DEDUP).groups).toEqual([[0, 1]]);
  });
});

describe('group resolution', () => {
  const c = (label: string, fromTest = false, pixels = 100, order = 0) => ({ label, fromTest, pixels, order });
  it('keeps one copy, preferring a Testing-folder copy, then the largest', () => {
    const cands = [c('glioma', false, 400, 0), c('glioma', true, 100, 1), c('glioma', false, 900, 2)];
    expect(resolveGroup([0, 1, 2], cands, 'drop')).toMatchObject({ keep: 1, label: 'glioma', conflict: false, touchesTest: true });
    expect(resolveGroup([0, 2], cands, 'drop').keep).toBe(2);
  });
  it('resolves label conflicts by the stated rule', () => {
    const cands = [c('glioma'), c('meningioma', false, 100, 1), c('glioma', false, 100, 2)];
    expect(resolveGroup([0, 1, 2], cands, 'drop')).toMatchObject({ keep: null, conflict: true, labels: ['glioma', 'meningioma'] });
    expect(resolveGroup([0, 1, 2], cands, 'majority')).toMatchObject({ keep: 0, label: 'glioma', conflict: true });
    expect(resolveGroup([0, 1], cands, 'majority').keep).toBeNull(); // tie
  });
});

describe('splits', () => {
  const items = Array.from({ length: 200 }, (_, i) => ({
    id: `s/${i}`,
    label: i % 4 === 0 ? 'a' : 'b',
    forcedTest: i % 10 === 0,
  }));
  it('stratifies by class with exact counts and is seeded', () => {
    const s = assignSplits(items, { mode: 'fractions', train: 0.7, val: 0.1, test: 0.2 }, 7);
    const count = (label: string, split: string) => items.filter((it, i) => it.label === label && s[i] === split).length;
    expect([count('a', 'train'), count('a', 'val'), count('a', 'test')]).toEqual([35, 5, 10]);
    expect([count('b', 'train'), count('b', 'val'), count('b', 'test')]).toEqual([105, 15, 30]);
    expect(assignSplits(items, { mode: 'fractions', train: 0.7, val: 0.1, test: 0.2 }, 7)).toEqual(s);
    expect(assignSplits(items, { mode: 'fractions', train: 0.7, val: 0.1, test: 0.2 }, 8)).not.toEqual(s);
  });
  it('source_test: forced items are test, the rest train/val only', () => {
    const s = assignSplits(items, { mode: 'source_test', train: 0.8, val: 0.2, test: 0 }, 1);
    items.forEach((it, i) => {
      expect(s[i] === 'test').toBe(it.forcedTest);
    });
    expect(s.filter((x) => x === 'val').length).toBe(36);
  });
  it('rejects fractions that do not sum to 1', () => {
    expect(() => assignSplits(items, { mode: 'fractions', train: 0.7, val: 0.2, test: 0.2 }, 1)).toThrow(/must be 1/);
    expect(apportion(10, [0.7, 0.1, 0.2])).toEqual([7, 1, 2]);
  });
});

describe('phantoms (synthetic)', () => {
  it('are deterministic per seed and differ between seeds and classes', () => {
    const a = renderPhantom({ seed: 5, label: 'glioma', size: 64 });
    expect(Buffer.from(renderPhantom({ seed: 5, label: 'glioma', size: 64 })).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(renderPhantom({ seed: 6, label: 'glioma', size: 64 })).equals(Buffer.from(a))).toBe(false);
    const none = renderPhantom({ seed: 5, label: 'notumor', size: 128 });
    for (const label of ['glioma', 'meningioma', 'pituitary']) {
      const l = renderPhantom({ seed: 5, label, size: 128 });
      let changed = 0;
      for (let i = 0; i < l.length; i++) if (Math.abs(l[i] - none[i]) > 40) changed++;
      expect(changed, label).toBeGreaterThan(8); // a visible lesion
    }
  });
});
