import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment, openImageSet, type ImageRecord } from '@mri-robust/core';
import { noiseKey, noiseSchemaPart, runNoise, type NoiseSets } from '../src/index.ts';
import { writeExperiment, writeRealImageSet } from './fixture.ts';

const parts = [noiseSchemaPart];
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
      - {kind: ghosting, severities: [2]}
`;

let root: string;
let ingestDir: string;
let records: ImageRecord[];
const ingest = () => ({ key: 'fixture0000000000', dir: ingestDir });

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'noise-stage-'));
  ingestDir = path.join(root, 'ingest');
  records = await writeRealImageSet(ingestDir, 48);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('noise stage', () => {
  it('writes train/ (noisy copies of sartaj train only), eval sets, sets.json and a contact sheet; reruns hit', async () => {
    const exp = await writeExperiment(path.join(root, 'a'), NOISE, parts);
    const out = await runNoise(exp, ingest(), { workers: 0 });
    expect(out.hit).toBe(false);
    const sets = JSON.parse(readFileSync(path.join(out.dir, 'sets.json'), 'utf8')) as NoiseSets;
    const train = await openImageSet(path.join(out.dir, 'train'));
    const eligible = records.filter((r) => r.source === 'sartaj' && r.split === 'train').length;
    expect(sets.train.noisy).toBe(Math.round(0.5 * eligible));
    expect(train.records).toHaveLength(records.length + sets.train.noisy);
    const noisy = train.records.filter((r) => r.noise !== null);
    expect(noisy).toHaveLength(sets.train.noisy);
    for (const r of noisy) {
      expect(r.source).toBe('sartaj');
      expect(r.split).toBe('train');
      expect(['rician', 'kspace_motion']).toContain((r.noise as { kind: string }).kind);
      const orig = train.records.findIndex((o) => o.id === r.noiseOf);
      expect(orig).toBeGreaterThanOrEqual(0);
      expect(Buffer.from(train.get(train.records.indexOf(r))).equals(Buffer.from(train.get(orig)))).toBe(false);
    }
    expect(sets.eval.map((e) => e.id)).toEqual([
      'test-rician-snr10',
      'test-rician-snr3',
      'test-ghosting-s2',
      'val-rician-snr10',
      'val-rician-snr3',
      'val-ghosting-s2',
    ]);
    for (const e of sets.eval) {
      const es = await openImageSet(path.join(out.dir, e.dir));
      expect(es.records.map((r) => r.id)).toEqual(records.filter((r) => r.split === e.split).map((r) => r.id));
      expect(es.records.every((r) => (r.noise as { kind: string }).kind === e.kind)).toBe(true);
      es.close();
    }
    train.close();
    const png = readFileSync(path.join(out.dir, 'contact-sheet.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const again = await runNoise(exp, ingest(), { workers: 0 });
    expect(again).toEqual({ ...out, hit: true });
  });

  it('gives the same bytes with worker threads as in-thread', async () => {
    const a = await runNoise(await writeExperiment(path.join(root, 'w0'), NOISE, parts), ingest(), { workers: 0 });
    // Same settings, other runs folder → built again, with two workers.
    const b = await runNoise(await writeExperiment(path.join(root, 'w2'), NOISE, parts), ingest(), { workers: 2 });
    expect(b.key).toBe(a.key);
    expect(b.hit).toBe(false);
    for (const rel of ['train/shard-000.bin', 'eval/test-rician-snr3/shard-000.bin', 'eval/val-ghosting-s2/shard-000.bin']) {
      expect(readFileSync(path.join(b.dir, rel)).equals(readFileSync(path.join(a.dir, rel)))).toBe(true);
    }
  });

  it('a noise-setting change changes the noise key; replace mode keeps the count', async () => {
    const base = await writeExperiment(path.join(root, 'k'), NOISE, parts);
    const changed = await writeExperiment(
      path.join(root, 'k'),
      NOISE.replace('fraction: 0.5', 'fraction: 1').replace('mode: copies', 'mode: replace'),
      parts,
      'exp2.yaml',
    );
    expect(noiseKey(changed, ingest().key)).not.toBe(noiseKey(base, ingest().key));
    const out = await runNoise(changed, ingest(), { workers: 0 });
    const train = await openImageSet(path.join(out.dir, 'train'));
    expect(train.records.map((r) => r.id)).toEqual(records.map((r) => r.id));
    expect(train.records.filter((r) => r.noise !== null)).toHaveLength(records.filter((r) => r.source === 'sartaj' && r.split === 'train').length);
    train.close();
  });

  it('a training-noise change reuses the unchanged evaluation sets (byte-identical, not generated again); a changed set is built', async () => {
    const dir = path.join(root, 'reuse');
    const a = await writeExperiment(dir, NOISE, parts);
    const outA = await runNoise(a, ingest(), { workers: 0 });
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    // Other training noise and one more evaluation severity: the six old sets come from the cache.
    const b = await writeExperiment(dir, NOISE.replace('fraction: 0.5', 'fraction: 1').replace('severities: [2]', 'severities: [2, 4]'), parts, 'exp-b.yaml');
    const outB = await runNoise(b, ingest(), { workers: 0, log });
    expect(outB.key).not.toBe(outA.key);
    expect(lines).toContain('[noise] 6 of 8 evaluation sets reused from runs/cache/noise-set');
    const setsA = JSON.parse(readFileSync(path.join(outA.dir, 'sets.json'), 'utf8')) as NoiseSets;
    const setsB = JSON.parse(readFileSync(path.join(outB.dir, 'sets.json'), 'utf8')) as NoiseSets;
    expect(setsB.eval.map((e) => e.id)).toEqual([
      'test-rician-snr10',
      'test-rician-snr3',
      'test-ghosting-s2',
      'test-ghosting-s4',
      'val-rician-snr10',
      'val-rician-snr3',
      'val-ghosting-s2',
      'val-ghosting-s4',
    ]);
    for (const e of setsA.eval) {
      const shard = `${e.dir}/shard-000.bin`;
      expect(readFileSync(path.join(outB.dir, shard)).equals(readFileSync(path.join(outA.dir, shard))), shard).toBe(true);
      expect(setsB.eval.find((x) => x.id === e.id)?.count).toBe(e.count);
    }
    const fresh = await openImageSet(path.join(outB.dir, 'eval/test-ghosting-s4'));
    expect(fresh.records.map((r) => r.id)).toEqual(records.filter((r) => r.split === 'test').map((r) => r.id));
    fresh.close();
    // The reused folder is a complete stage output: a rerun hits, and the same sets built from scratch
    // in another runs folder (no cache) have the same bytes.
    expect((await runNoise(b, ingest(), { workers: 0 })).hit).toBe(true);
    const scratch = await runNoise(await writeExperiment(path.join(root, 'reuse-scratch'), NOISE.replace('fraction: 0.5', 'fraction: 1'), parts), ingest(), {
      workers: 0,
    });
    const shard = 'eval/val-rician-snr3/shard-000.bin';
    expect(readFileSync(path.join(scratch.dir, shard)).equals(readFileSync(path.join(outB.dir, shard)))).toBe(true);
    // A byte damaged in a noise folder's set (the cache shares its inode) is never carried on: the
    // set is generated again, with the same bytes as the one built without any cache.
    const damaged = path.join(outB.dir, 'eval/test-rician-snr10/shard-000.bin');
    const bytes = readFileSync(damaged);
    bytes[100] ^= 0xff;
    await writeFile(damaged, bytes);
    lines.length = 0;
    const c = await writeExperiment(dir, NOISE.replace('fraction: 0.5', 'fraction: 0.25'), parts, 'exp-c.yaml');
    const outC = await runNoise(c, ingest(), { workers: 0, log });
    expect(lines).toContain('[noise] 5 of 6 evaluation sets reused from runs/cache/noise-set');
    const again = 'eval/test-rician-snr10/shard-000.bin';
    expect(readFileSync(path.join(outC.dir, again)).equals(readFileSync(path.join(scratch.dir, again)))).toBe(true);
  });

  it('rejects snr on a kind other than rician, naming the field', async () => {
    const bad = await writeExperiment(path.join(root, 'bad'), 'noise:\n  eval:\n    kinds: [{kind: gaussian, snr: [5]}]\n', parts);
    await expect(runNoise(bad, ingest(), { workers: 0 })).rejects.toThrow(/\/noise\/eval\/kinds\/0\/snr: snr applies to rician only/);
  });
});

describe('with the real ingest stage', () => {
  it('a noise-setting change reruns noise but not ingest', async () => {
    const { dataSchemaPart, runIngest } = await import('@mri-robust/data');
    const dir = path.join(root, 'ingest-real');
    const data = 'data:\n  sources: [{name: phantom, kind: phantom, count_per_class: 8, size: 48}]\n  image: {size: 48, channels: 1}\n  min_per_class: 1\n';
    const make = (noise: string, name: string) =>
      writeFile(path.join(dir, name), `name: t\nseed: 3\nruns: ./runs\n${data}${noise}`).then(() =>
        loadExperiment(path.join(dir, name), [dataSchemaPart, noiseSchemaPart]),
      );
    await mkdir(dir, { recursive: true });
    const noiseA = 'noise:\n  eval:\n    kinds: [{kind: rician, snr: [5]}]\n';
    const a = await make(noiseA, 'a.yaml');
    const b = await make(noiseA.replace('[5]', '[3]'), 'b.yaml');
    const log = () => undefined;
    const ingestA = await runIngest(a, { log });
    const noiseOutA = await runNoise(a, ingestA, { workers: 0, log });
    const ingestB = await runIngest(b, { log });
    expect(ingestB.key).toBe(ingestA.key);
    expect(ingestB.hit).toBe(true);
    const noiseOutB = await runNoise(b, ingestB, { workers: 0, log });
    expect(noiseOutB.key).not.toBe(noiseOutA.key);
    expect(noiseOutB.hit).toBe(false);
    expect((await runNoise(a, await runIngest(a, { log }), { workers: 0, log })).hit).toBe(true);
  });
});
