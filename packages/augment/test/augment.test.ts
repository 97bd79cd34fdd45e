import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, ImageSetWriter, openImageSet, parseExperiment, sharedDir, type ImageRecord } from '@mri-robust/core';
import {
  applyAugment,
  augmentSchemaPart,
  augmentSettingsOf,
  clahePlane,
  IDENTITY_PLAN,
  planAugment,
  runAugment,
  type AugmentSettings,
  type FloatImage,
} from '../src/index.ts';

function settings(over: Partial<AugmentSettings> = {}): AugmentSettings {
  const exp = parseExperiment('name: t\naugment: {}\n', '/tmp/t.yaml', [augmentSchemaPart]);
  return { ...augmentSettingsOf(exp), ...over };
}

function ramp(h: number, w: number, c = 1): FloatImage {
  const data = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data[(y * w + x) * c + k] = ((x * 7 + y * 3 + k * 50) % 97) / 96;
  return { height: h, width: w, channels: c, data };
}

const at = (img: FloatImage, y: number, x: number, c = 0) => img.data[(y * img.width + x) * img.channels + c];

describe('augment ops', () => {
  it('fills schema defaults, and draws the same plan from the same seed', () => {
    const s = settings();
    expect(s.copies).toBe(1);
    expect(s.rotation).toEqual({ p: 0.5, degrees: 15 });
    expect(s.clahe).toEqual({ p: 0.1, tiles: 8, clip_limit: 2 });
    expect(planAugment(s, createRng(5), 64, 64)).toEqual(planAugment(s, createRng(5), 64, 64));
    expect(planAugment(s, createRng(5), 64, 64)).not.toEqual(planAugment(s, createRng(6), 64, 64));
  });

  it('probability 0 gives the identity plan; probability 1 applies every op within its range', () => {
    const zero = settings();
    for (const k of ['rotation', 'hflip', 'zoom', 'translation', 'brightness', 'contrast', 'gamma', 'clahe'] as const) zero[k] = { ...zero[k], p: 0 } as never;
    expect(planAugment(zero, createRng(1), 64, 64)).toEqual(IDENTITY_PLAN);
    const one = settings();
    for (const k of ['rotation', 'hflip', 'zoom', 'translation', 'brightness', 'contrast', 'gamma', 'clahe'] as const) one[k] = { ...one[k], p: 1 } as never;
    for (let seed = 0; seed < 50; seed++) {
      const p = planAugment(one, createRng(seed), 100, 100);
      expect(p.hflip).toBe(true);
      expect(Math.abs(p.rotation)).toBeLessThanOrEqual(15);
      expect(p.zoom).toBeGreaterThanOrEqual(0.9);
      expect(p.zoom).toBeLessThanOrEqual(1.1);
      expect(Math.abs(p.shiftX)).toBeLessThanOrEqual(8);
      expect(p.gamma).toBeGreaterThanOrEqual(0.8);
      expect(p.gamma).toBeLessThanOrEqual(1.25);
      expect(p.clahe).toEqual({ tiles: 8, clipLimit: 2 });
    }
  });

  it('identity plan keeps pixels; shape and [0, 1] range always kept', () => {
    const img = ramp(40, 50, 3);
    expect(applyAugment(img, IDENTITY_PLAN).data).toEqual(img.data);
    const s = settings({ copies: 1 });
    for (let seed = 0; seed < 20; seed++) {
      const out = applyAugment(img, planAugment({ ...s, clahe: { p: 0.5, tiles: 4, clip_limit: 2 } }, createRng(seed), 40, 50));
      expect([out.height, out.width, out.channels, out.data.length]).toEqual([40, 50, 3, img.data.length]);
      expect(Math.min(...out.data)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...out.data)).toBeLessThanOrEqual(1);
    }
  });

  it('geometry is exact at integer positions: flip, 90° rotation, integer shift', () => {
    const img = ramp(32, 32);
    const f = applyAugment(img, { ...IDENTITY_PLAN, hflip: true });
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) expect(at(f, y, x)).toBeCloseTo(at(img, y, 31 - x), 6);
    const r = applyAugment(img, { ...IDENTITY_PLAN, rotation: 90 });
    // dst = R(90°)(src − c) + c, y axis down: src (x, y) → dst (c − (y − c), c + (x − c))
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) expect(at(r, y, x)).toBeCloseTo(at(img, 31 - x, y), 4);
    const s = applyAugment(img, { ...IDENTITY_PLAN, shiftX: 3, shiftY: -2 });
    for (let y = 0; y < 30; y++) for (let x = 3; x < 32; x++) expect(at(s, y, x)).toBeCloseTo(at(img, y + 2, x - 3), 6);
    expect(at(s, 5, 0)).toBe(0); // uncovered area is black
  });

  it('brightness, contrast and gamma follow their formulas', () => {
    const img: FloatImage = { height: 2, width: 2, channels: 1, data: Float32Array.from([0.2, 0.4, 0.6, 0.8]) };
    const b = applyAugment(img, { ...IDENTITY_PLAN, brightness: 0.1 }).data;
    for (const [i, v] of [0.3, 0.5, 0.7, 0.9].entries()) expect(b[i]).toBeCloseTo(v, 6);
    const c = applyAugment(img, { ...IDENTITY_PLAN, contrast: 2 }).data;
    for (const [i, v] of [0, 0.3, 0.7, 1].entries()) expect(c[i]).toBeCloseTo(v, 6); // (x − 0.5)·2 + 0.5, clipped
    const g = applyAugment(img, { ...IDENTITY_PLAN, gamma: 2 }).data;
    for (const [i, v] of [0.04, 0.16, 0.36, 0.64].entries()) expect(g[i]).toBeCloseTo(v, 6);
  });

  it('CLAHE: one tile without clipping is global histogram equalisation; clipping limits the stretch', () => {
    const n = 64 * 64;
    const low = Float32Array.from({ length: n }, (_, i) => 0.4 + (0.1 * ((i * 37) % 101)) / 100); // values in [0.4, 0.5]
    const he = clahePlane(low, 64, 64, 1, 0);
    expect(Math.max(...he)).toBeCloseTo(1, 6);
    expect(Math.min(...he)).toBeLessThan(0.05);
    // monotone mapping
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => low[a] - low[b]);
    for (let k = 1; k < n; k++) expect(he[order[k]]).toBeGreaterThanOrEqual(he[order[k - 1]] - 1e-7);
    const std = (a: Float32Array) => {
      const m = a.reduce((s, v) => s + v, 0) / a.length;
      return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
    };
    const clipped = clahePlane(low, 64, 64, 4, 2);
    expect(std(clipped)).toBeGreaterThan(std(low));
    expect(std(clipped)).toBeLessThan(std(he));
    expect(Math.min(...clipped)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...clipped)).toBeLessThanOrEqual(1);
  });
});

describe('augment stage on an image set of real images', () => {
  let root: string;
  let recs: ImageRecord[];
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'augment-stage-'));
    const w = await ImageSetWriter.create(path.join(root, 'in'), { height: 40, width: 40, channels: 3, classes: ['glioma', 'notumor'] });
    recs = [];
    const folders = { glioma: 'glioma_tumor', notumor: 'no_tumor' } as const;
    for (const label of ['glioma', 'notumor'] as const) {
      const dir = path.join(sharedDir(), 'datasets/sartaj/Testing', folders[label]);
      const files = readdirSync(dir).sort().slice(0, 6);
      for (const [k, f] of files.entries()) {
        const { data } = await sharp(path.join(dir, f))
          .resize(40, 40, { fit: 'contain', background: '#000' })
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer({ resolveWithObject: true });
        const rec: ImageRecord = { id: `${label}-${k}`, label, split: k < 3 ? 'train' : k < 5 ? 'test' : 'val', source: 'sartaj', path: f };
        await w.add(new Uint8Array(data), rec);
        recs.push(rec);
      }
    }
    await w.close();
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('adds K copies of train records only, leaves val/test bytes alone, and hits the cache on rerun', async () => {
    const file = path.join(root, 'exp.yaml');
    const text = 'name: t\nseed: 2\nruns: ./runs\naugment:\n  copies: 3\n  clahe: {p: 0.5}\n';
    await writeFile(file, text);
    const exp = parseExperiment(text, file, [augmentSchemaPart]);
    const up = { key: 'in', dir: path.join(root, 'in') };
    const out = await runAugment(exp, up, { workers: 0, log: () => undefined });
    const input = await openImageSet(up.dir);
    const aug = await openImageSet(out.dir);
    expect(aug.records).toHaveLength(recs.length + 3 * recs.filter((r) => r.split === 'train').length);
    for (const [i, r] of recs.entries()) {
      const j = aug.records.findIndex((a) => a.id === r.id);
      expect(Buffer.from(aug.get(j)).equals(Buffer.from(input.get(i)))).toBe(true);
      const copies = aug.records.map((a, k) => ({ a, k })).filter(({ a }) => a.augmentOf === r.id);
      expect(copies).toHaveLength(r.split === 'train' ? 3 : 0);
      for (const { a, k } of copies) {
        expect(a.split).toBe('train');
        expect(Buffer.from(aug.get(k)).equals(Buffer.from(input.get(i)))).toBe(false);
      }
    }
    aug.close();
    input.close();
    expect((await runAugment(exp, up, { workers: 0, log: () => undefined })).hit).toBe(true);
  });
});
