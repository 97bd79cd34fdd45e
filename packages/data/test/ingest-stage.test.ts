import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, loadExperiment, openImageSet, workspaceRoot, ExperimentError, type Experiment } from '@mri-robust/core';
import { dataSchemaPart, readIngestReport, runIngest, type IngestRecord } from '@mri-robust/data';
import { DATASETS, DISTINCT_SARTAJ, encodePng } from './ingest-helpers.ts';

const run = promisify(execFile);
let tmp: string;
const quiet = { log: () => {} };

function experimentYaml(data: string): string {
  return `name: t\nseed: 3\nruns: ./runs\ndata:\n${data}`;
}

const BASE = `  sources:
    - { name: kag, root: data }
    - { name: ph, kind: phantom, count_per_class: 6, size: 64 }
  image: { size: 48, channels: 1, fit: pad }
  split: { mode: source_test, train: 0.8, val: 0.2 }
  min_per_class: 3
`;

async function writeExperiment(name: string, data: string): Promise<string> {
  const file = path.join(tmp, name);
  await writeFile(file, experimentYaml(data));
  return file;
}

function load(file: string): Experiment {
  return loadExperiment(file, [dataSchemaPart]);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-test-'));
  const root = path.join(tmp, 'data');
  for (const rel of DISTINCT_SARTAJ) {
    await mkdir(path.join(root, path.dirname(rel)), { recursive: true });
    await copyFile(path.join(DATASETS, 'sartaj', rel), path.join(root, rel));
  }
  const src = (rel: string) => path.join(DATASETS, 'sartaj', rel);
  // a mirrored, resized, re-encoded copy of a test image hidden in Training (must not leak)
  await writeFile(
    path.join(root, 'Training/glioma_tumor/leak copy (1).jpg'),
    await sharp(await readFile(src('Testing/glioma_tumor/image(10).jpg')))
      .flop()
      .resize({ width: 180 })
      .jpeg({ quality: 75 })
      .toBuffer(),
  );
  // the same pixels under another label (a conflict) and a byte-identical duplicate
  await copyFile(src('Training/pituitary_tumor/p (1).jpg'), path.join(root, 'Training/meningioma_tumor/p (1) copy.jpg'));
  await copyFile(src('Training/meningioma_tumor/m (10).jpg'), path.join(root, 'Training/meningioma_tumor/m (10) dup.jpg'));
  // bad files
  const bad = path.join(root, 'Training/no_tumor');
  const jpg = await readFile(src('Training/no_tumor/image (10).jpg'));
  await writeFile(path.join(bad, 'truncated.jpg'), jpg.subarray(0, Math.floor(jpg.length / 3)));
  const rng = createRng(1);
  await writeFile(path.join(bad, 'random bytes.jpg'), Buffer.from(Array.from({ length: 3000 }, () => rng.int(256))));
  await writeFile(path.join(bad, 'empty.jpg'), Buffer.alloc(0));
  await symlink(path.join(tmp, 'does-not-exist.jpg'), path.join(bad, 'gone.jpg'));
  await writeFile(path.join(bad, 'bomb.png'), encodePng({ width: 50_000, height: 50_000, channels: 1, bitDepth: 8, rows: 2 }));
  await writeFile(path.join(root, 'README.txt'), 'not an image');
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('ingest stage', () => {
  let file: string;
  let dir: string;

  it('ingests a Kaggle-layout folder plus phantoms: dedup, conflicts, no leakage, bad files listed', async () => {
    file = await writeExperiment('exp.yaml', BASE);
    const res = await runIngest(load(file), quiet);
    expect(res.hit).toBe(false);
    dir = res.dir;
    expect(dir).toBe(path.join(tmp, 'runs', 'cache', 'ingest', res.key));
    const set = await openImageSet(dir);
    const recs = set.records as IngestRecord[];
    expect(set.header).toMatchObject({ height: 48, width: 48, channels: 1, classes: ['glioma', 'meningioma', 'notumor', 'pituitary'] });
    const kag = recs.filter((r) => r.source === 'kag');
    const ids = new Set(kag.map((r) => r.path));
    // the hidden mirrored copy is grouped with its test original, which is kept in test
    const testOriginal = kag.find((r) => r.path === 'Testing/glioma_tumor/image(10).jpg')!;
    expect(testOriginal).toMatchObject({ split: 'test', groupSize: 2, origSplit: 'test' });
    expect(ids.has('Training/glioma_tumor/leak copy (1).jpg')).toBe(false);
    // a label conflict drops the whole group; an exact duplicate keeps one copy
    expect(ids.has('Training/pituitary_tumor/p (1).jpg')).toBe(false);
    expect(ids.has('Training/meningioma_tumor/p (1) copy.jpg')).toBe(false);
    expect(kag.filter((r) => r.path.startsWith('Training/meningioma_tumor/m (10)')).length).toBe(1);
    // every Testing image is test, nothing else from this source is
    for (const r of kag) expect(r.split === 'test').toBe(r.origSplit === 'test');
    expect(kag.length).toBe(26 - 1); // 26 distinct files, p (1) dropped by the conflict
    const report = await readIngestReport(dir);
    expect(report.skipped.map((s) => [s.path, s.reason.split(':')[0]])).toEqual([
      ['README.txt', 'not inside a class folder'],
      ['Training/no_tumor/bomb.png', 'image exceeds the pixel limit (max_pixels)'],
      ['Training/no_tumor/empty.jpg', 'empty file'],
      ['Training/no_tumor/gone.jpg', 'unreadable (ENOENT)'],
      ['Training/no_tumor/random bytes.jpg', 'not an image (unsupported or unknown format)'],
      ['Training/no_tumor/truncated.jpg', expect.stringMatching(/truncated|corrupt/)],
    ]);
    expect(report.duplicates.conflicts).toMatchObject({ groups: 1, imagesDropped: 2, rule: 'drop' });
    expect(report.duplicates.exact.extraCopies).toBe(2);
    expect(report.duplicates.touchingTestGroups).toBe(1);
    expect(report.synthetic).toEqual(['ph']);
    // phantoms: synthetic, one per class in test (test_fraction 0.2 of 6)
    const ph = recs.filter((r) => r.source === 'ph');
    expect(ph.every((r) => r.synthetic)).toBe(true);
    expect(ph.filter((r) => r.split === 'test').length).toBe(4);
    // pixels are there and are not all black
    expect(set.get(recs.indexOf(testOriginal)).some((v) => v > 50)).toBe(true);
    set.close();
  });

  it('lists every source holding a copy of a kept image (groupSources)', async () => {
    const root2 = path.join(tmp, 'data2');
    await mkdir(path.join(root2, 'Training/glioma_tumor'), { recursive: true });
    const rel = 'Training/glioma_tumor/gg (100).jpg';
    const original = await readFile(path.join(tmp, 'data', rel));
    await writeFile(path.join(root2, 'Training/glioma_tumor/mirrored copy.jpg'), await sharp(original).flop().jpeg({ quality: 80 }).toBuffer());
    const two = await writeExperiment('two.yaml', BASE.replace('    - { name: ph,', '    - { name: kag2, root: data2 }\n    - { name: ph,'));
    const set = await openImageSet((await runIngest(load(two), quiet)).dir);
    const recs = set.records as IngestRecord[];
    const kept = recs.filter((r) => r.groupSources.includes('kag2'));
    expect(kept).toHaveLength(1);
    expect(kept[0].groupSources).toEqual(['kag', 'kag2']);
    expect(kept[0].groupSize).toBe(2);
    expect(recs.filter((r) => r.groupSize === 1).every((r) => r.groupSources.length === 1 && r.groupSources[0] === r.source)).toBe(true);
    set.close();
  });

  it('a rerun with unchanged inputs is a cache hit; touching a file changes the key', async () => {
    const again = await runIngest(load(file), quiet);
    expect(again).toMatchObject({ hit: true, dir });
    const f = path.join(tmp, 'data', DISTINCT_SARTAJ[7]);
    await utimes(f, new Date(), new Date(Date.now() - 3600_000));
    const { planIngest } = await import('@mri-robust/data');
    expect((await planIngest(load(file))).key).not.toBe(again.key);
  });

  it('phantom ingest is deterministic per seed', async () => {
    const data = `  sources: [{ name: ph, kind: phantom, count_per_class: 4, size: 48 }]\n  image: { size: 32 }\n  min_per_class: 1\n`;
    const a = await runIngest(load(await writeExperiment('p1.yaml', data)), quiet);
    await rm(a.dir, { recursive: true });
    const b = await runIngest(load(await writeExperiment('p2.yaml', data)), quiet);
    expect(b.key).toBe(a.key);
    const sb = await openImageSet(b.dir);
    const shas = sb.records.map((r) => r.sha);
    await writeFile(path.join(tmp, 'p3.yaml'), experimentYaml(data).replace('seed: 3', 'seed: 4'));
    const c = await runIngest(load(path.join(tmp, 'p3.yaml')), quiet);
    const sc = await openImageSet(c.dir);
    expect(sc.records.map((r) => r.sha)).not.toEqual(shas);
    sb.close();
    sc.close();
  });

  it('fails clearly when a class ends below min_per_class or a root is missing', async () => {
    // kept per class: glioma 13, meningioma 13, notumor 11, pituitary 12 (kaggle + 6 phantoms)
    const few = await writeExperiment('few.yaml', BASE.replace('min_per_class: 3', 'min_per_class: 12'));
    await expect(runIngest(load(few), quiet)).rejects.toThrow(/class "notumor" has 11 image\(s\) after de-duplication, below data.min_per_class = 12/);
    const missing = await writeExperiment('missing.yaml', BASE.replace('root: data', 'root: no-such-folder'));
    await expect(runIngest(load(missing), quiet)).rejects.toThrow(/data source "kag": root folder .*no-such-folder does not exist/);
  });

  it('a typo inside data: is an error with file, line and pointer', async () => {
    const typo = await writeExperiment('typo.yaml', BASE.replace('fit: pad', 'fitt: pad'));
    let err: unknown;
    try {
      load(typo);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExperimentError);
    const issue = (err as ExperimentError).issues[0];
    expect(issue).toMatchObject({ line: 8, pointer: '/data/image/fitt' });
    expect(issue.file).toContain('typo.yaml');
    expect(issue.message).toMatch(/unknown key "fitt"; allowed keys: size, channels, fit/);
  });

  it('the CLI prints counts, duplicates and skipped files; a user error exits 1 without a stack', async () => {
    const cli = path.join(workspaceRoot(), 'packages/data/src/cli.ts');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', cli, 'ingest', `--experiment=${file}`], { cwd: workspaceRoot() });
    expect(stdout).toMatch(/kept images per split and class:/);
    expect(stdout).toMatch(/label conflicts: 1 groups/);
    expect(stdout).toMatch(/skipped files: 6/);
    expect(stdout).toMatch(/Training\/no_tumor\/empty.jpg: empty file/);
    expect(stdout).toMatch(/SYNTHETIC/);
    const bad = await writeExperiment('missing2.yaml', BASE.replace('root: data', 'root: nope'));
    const failed = await run(process.execPath, ['--import', 'tsx', cli, 'ingest', `--experiment=${bad}`], { cwd: workspaceRoot() }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/^error: data source "kag": root folder/m);
    expect(failed?.stderr).not.toMatch(/\n\s+at /);
  });

  it('fingerprint (the Nx runtime input) changes when a file of a listed experiment changes', async () => {
    const cli = path.join(workspaceRoot(), 'packages/data/src/cli.ts');
    const env = { ...process.env, MRI_EXPERIMENTS: file };
    const fp = async () => (await run(process.execPath, ['--import', 'tsx', cli, 'fingerprint'], { cwd: workspaceRoot(), env })).stdout.trim();
    const a = await fp();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    await writeFile(path.join(tmp, 'data', 'Training/no_tumor/new (1).jpg'), await readFile(path.join(DATASETS, 'sartaj', DISTINCT_SARTAJ[6])));
    expect(await fp()).not.toBe(a);
  });
});
