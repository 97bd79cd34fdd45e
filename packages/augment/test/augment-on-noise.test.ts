// The augment stage on a real noise-stage output (real scans from ../shared, seeded noise).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageSet } from '@mri-robust/core';
import { noiseSchemaPart, runNoise } from '@mri-robust/noise';
import { writeExperiment, writeRealImageSet } from '../../noise/test/fixture.ts';
import { augmentSchemaPart, runAugment } from '../src/index.ts';

const parts = [noiseSchemaPart, augmentSchemaPart];
const NOISE = `noise:
  train:
    sources: [sartaj]
    splits: [train]
    fraction: 0.5
    mode: copies
    kinds:
      - {kind: rician, probability: 2, severity: [1, 4]}
      - {kind: kspace_motion, probability: 1, severity: 3}
  eval:
    splits: [test, val]
    seed: 5
    kinds:
      - {kind: rician, snr: [10, 3]}
augment:
  copies: 2
  clahe: {p: 0.5}
`;

let root: string;
let ingestDir: string;
const ingest = () => ({ key: 'fixture0000000000', dir: ingestDir });

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'augment-noise-'));
  ingestDir = path.join(root, 'ingest');
  await writeRealImageSet(ingestDir, 48);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('augment stage on the noise output', () => {
  it('adds K copies of train images only; val/test untouched; reruns hit', async () => {
    const exp = await writeExperiment(path.join(root, 'aug'), NOISE, parts);
    const noise = await runNoise(exp, ingest(), { workers: 0 });
    const input = await openImageSet(path.join(noise.dir, 'train'));
    const out = await runAugment(exp, noise, { workers: 2 });
    expect(out.hit).toBe(false);
    const aug = await openImageSet(out.dir);
    const trainIn = input.records.filter((r) => r.split === 'train').length;
    expect(aug.records).toHaveLength(input.records.length + 2 * trainIn);
    const copies = aug.records.filter((r) => r.augment !== null);
    expect(copies.every((r) => r.split === 'train')).toBe(true);
    for (const [i, r] of input.records.entries()) {
      const j = aug.records.findIndex((a) => a.id === r.id);
      expect(aug.records[j].augment).toBeNull();
      expect(Buffer.from(aug.get(j)).equals(Buffer.from(input.get(i)))).toBe(true);
      const n = aug.records.filter((a) => a.augmentOf === r.id).length;
      expect(n).toBe(r.split === 'train' ? 2 : 0);
    }
    expect(existsSync(path.join(out.dir, 'contact-sheet.png'))).toBe(true);
    aug.close();
    input.close();
    expect((await runAugment(exp, noise, { workers: 0 })).hit).toBe(true);
  });
});

describe('an evaluation-only noise change', () => {
  it('rebuilds the noise stage but hits the augment cache (its key follows the train part alone)', async () => {
    const exp = await writeExperiment(path.join(root, 'eval-a'), NOISE, parts);
    const other = await writeExperiment(path.join(root, 'eval-a'), NOISE.replace('snr: [10, 3]', 'snr: [5]'), parts, 'other.yaml');
    const log = () => undefined;
    const n1 = await runNoise(exp, ingest(), { workers: 0, log });
    const a1 = await runAugment(exp, n1, { workers: 0, log });
    const n2 = await runNoise(other, ingest(), { workers: 0, log });
    expect(n2.key).not.toBe(n1.key);
    expect(n2.hit).toBe(false);
    const a2 = await runAugment(other, n2, { workers: 0, log });
    expect(a2.key).toBe(a1.key);
    expect(a2.hit).toBe(true);
    // a training-noise change does rebuild augment
    const third = await writeExperiment(path.join(root, 'eval-a'), NOISE.replace('fraction: 0.5', 'fraction: 0.25'), parts, 'third.yaml');
    const a3 = await runAugment(third, await runNoise(third, ingest(), { workers: 0, log }), { workers: 0, log });
    expect(a3.key).not.toBe(a1.key);
  });
});
