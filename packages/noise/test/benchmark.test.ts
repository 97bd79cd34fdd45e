// The mri-c benchmark sets: every kind × severities 1–5 on the test split, a fixed seed independent of
// the experiment (byte-identical images across experiments and runs), opt-in with noise.eval.benchmark.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageSet } from '@mri-robust/core';
import { benchmarkOf, benchmarkSetSpecs, NOISE_KINDS, noiseKey, noiseModels, noiseSchemaPart, runNoise, SETS_FILE, type NoiseSets } from '../src/index.ts';
import { writeExperiment, writeRealImageSet } from './fixture.ts';

let root: string;
let ingestDir: string;
const ingest = () => ({ key: 'fixture0000000000', dir: ingestDir });

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'noise-bench-'));
  ingestDir = path.join(root, 'ingest');
  await writeRealImageSet(ingestDir, 40, { train: 1, val: 0, test: 1 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('mri-c', () => {
  it('lists every kind at severities 1–5 per split, Rician by its SNR levels', () => {
    const specs = benchmarkSetSpecs('mri-c', ['test']);
    expect(specs).toHaveLength(NOISE_KINDS.length * 5);
    expect(NOISE_KINDS.length).toBe(12);
    expect(new Set(specs.map((s) => s.id)).size).toBe(60);
    const rician = specs.filter((s) => s.kind === 'rician').map((s) => s.snr);
    expect(rician).toEqual([1, 2, 3, 4, 5].map((k) => noiseModels.rician.levels[k].snr));
    expect(rician).toEqual([30, 20, 10, 5, 3]);
    expect(specs.every((s) => s.benchmark === 'mri-c' && s.id.startsWith('test-mri-c-'))).toBe(true);
    expect(benchmarkSetSpecs('none', ['test'])).toEqual([]);
  });

  it('is built by the noise stage only when opted in, byte-identical under another experiment seed', async () => {
    const plain = await writeExperiment(path.join(root, 'plain'), 'noise:\n  eval: {kinds: [{kind: gaussian, severities: [3]}]}\n', [noiseSchemaPart]);
    const a = await writeExperiment(path.join(root, 'a'), 'noise:\n  eval: {kinds: [{kind: gaussian, severities: [3]}], benchmark: mri-c}\n', [
      noiseSchemaPart,
    ]);
    const b = await writeExperiment(path.join(root, 'b'), 'noise:\n  eval: {seed: 99, kinds: [], benchmark: mri-c}\n', [noiseSchemaPart]);
    (b as { seed: number }).seed = 12345;
    const log = () => undefined;
    const outPlain = await runNoise(plain, ingest(), { workers: 0, log });
    const outA = await runNoise(a, ingest(), { workers: 0, log });
    const outB = await runNoise(b, ingest(), { workers: 0, log });
    expect(outA.key).not.toBe(outPlain.key);
    const sets = (dir: string) => JSON.parse(readFileSync(path.join(dir, SETS_FILE), 'utf8')) as NoiseSets;
    expect(sets(outPlain.dir).eval.map((e) => e.id)).toEqual(['test-gaussian-s3']);
    expect(sets(outA.dir).eval).toHaveLength(61);
    expect(sets(outB.dir).eval).toHaveLength(60);
    let compared = 0;
    for (const e of sets(outB.dir).eval) {
      const x = await openImageSet(path.join(outA.dir, e.dir));
      const y = await openImageSet(path.join(outB.dir, e.dir));
      expect(y.records.map((r) => r.id)).toEqual(x.records.map((r) => r.id));
      for (let i = 0; i < x.records.length; i++) {
        expect(Buffer.from(y.get(i)).equals(Buffer.from(x.get(i))), `${e.id} image ${i}`).toBe(true);
        compared++;
      }
      x.close();
      y.close();
    }
    expect(compared).toBe(60 * 8);
  });

  it('is none unless noise.eval.benchmark says otherwise; the stage key changes only when it is switched on', async () => {
    const yaml = (benchmark: string) => `noise:\n  eval: {kinds: [{kind: gaussian, severities: [3]}]${benchmark}}\n`;
    const absent = await writeExperiment(path.join(root, 'k0'), yaml(''), [noiseSchemaPart]);
    const none = await writeExperiment(path.join(root, 'k1'), yaml(', benchmark: none'), [noiseSchemaPart]);
    const on = await writeExperiment(path.join(root, 'k2'), yaml(', benchmark: mri-c'), [noiseSchemaPart]);
    expect([absent, none, on].map(benchmarkOf)).toEqual(['none', 'none', 'mri-c']);
    // An experiment without the key keeps its hash (no default written into the config).
    expect(absent.config.noise).toMatchObject({ eval: expect.not.objectContaining({ benchmark: expect.anything() }) });
    const key = (e: typeof absent) => noiseKey(e, 'fixture0000000000');
    expect(key(none)).toBe(key(absent));
    expect(key(on)).not.toBe(key(absent));
  });

  it('refuses an unknown benchmark at its line, naming the field and the allowed values', async () => {
    await expect(writeExperiment(path.join(root, 'bad'), 'noise:\n  eval: {benchmark: imagenet-c}\n', [noiseSchemaPart])).rejects.toThrow(
      /exp\.yaml:7:\d+: \/noise\/eval\/benchmark: must be one of: "none", "mri-c"/,
    );
  });
});
