/**
 * The Nx targets of the stages, through the real `nx` CLI: one experiment's cache restore must never
 * delete another experiment's stage folder (it did while the targets declared the shared
 * runs/cache/<stage> folder as their output), a rerun is an Nx cache hit, and a stage folder that
 * only Nx's cache still holds is adopted instead of rebuilt.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nxOutputDir, workspaceRoot } from '@mri-robust/core';

const root = workspaceRoot();
let tmp: string;
const files: Record<'a' | 'b', string> = { a: '', b: '' };
const keys: string[] = [];

const experiment = (count: number) => `name: nx-cache-test-${count}
seed: 5
runs: ${JSON.stringify(path.join(root, 'runs'))}
data:
  sources: [{ name: ph, kind: phantom, count_per_class: ${count}, size: 40 }]
  image: { size: 32 }
  min_per_class: 1
`;

async function nxIngest(file: string): Promise<{ out: string; key: string; nxHit: boolean }> {
  const r = await execa('npx', ['nx', 'run', 'data:ingest', `--experiment=${file}`], {
    cwd: root,
    env: { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_CACHE_DIRECTORY: path.join(tmp, 'nx-cache'), NX_TUI: 'false' },
    all: true,
  });
  const out = r.all ?? '';
  const m = /(?:built|cache hit): (\S+)/.exec(out);
  if (!m) throw new Error(`no stage folder in nx output:\n${out}`);
  return { out, key: path.basename(m[1]), nxHit: /Nx read the output from the cache/.test(out) };
}

const stageFolder = (key: string) => path.join(root, 'runs', 'cache', 'ingest', key);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nx-cache-test-'));
  files.a = path.join(tmp, 'a.yaml');
  files.b = path.join(tmp, 'b.yaml');
  await writeFile(files.a, experiment(3));
  await writeFile(files.b, experiment(4));
});

afterAll(async () => {
  for (const key of new Set(keys)) await rm(stageFolder(key), { recursive: true, force: true });
  for (const f of Object.values(files)) {
    const d = nxOutputDir('ingest', f);
    if (d) await rm(d, { recursive: true, force: true });
  }
  await rm(tmp, { recursive: true, force: true });
});

describe('Nx stage targets', () => {
  it('keep every experiment’s stage folder across cache restores, hit on rerun, and adopt what only Nx kept', async () => {
    const a1 = await nxIngest(files.a);
    const b1 = await nxIngest(files.b);
    keys.push(a1.key, b1.key);
    expect(a1.key).not.toBe(b1.key);
    expect(existsSync(path.join(stageFolder(a1.key), 'stage.json'))).toBe(true);
    expect(existsSync(path.join(stageFolder(b1.key), 'stage.json'))).toBe(true);
    // the Nx output of each experiment is its own folder, holding (links to) its stage folder
    const outA = nxOutputDir('ingest', files.a)!;
    expect(await readdir(path.join(outA, 'cache', 'ingest'))).toEqual([a1.key]);

    // A again: an Nx cache hit, and B's folder is still there
    const a2 = await nxIngest(files.a);
    expect(a2.nxHit).toBe(true);
    expect(a2.key).toBe(a1.key);
    expect(existsSync(path.join(stageFolder(b1.key), 'stage.json'))).toBe(true);

    // Nx restores A's output after its replica is gone (cache hit with different outputs on disk)
    await rm(outA, { recursive: true, force: true });
    const a3 = await nxIngest(files.a);
    expect(a3.nxHit).toBe(true);
    expect(existsSync(path.join(outA, 'cache', 'ingest', a1.key, 'stage.json'))).toBe(true);
    expect(existsSync(path.join(stageFolder(b1.key), 'stage.json'))).toBe(true);

    // the stage folder deleted, Nx still hits (its replica is in place); the next in-process run of
    // the stage adopts the replica rather than building again
    await rm(stageFolder(a1.key), { recursive: true, force: true });
    const cli = await execa('node', ['--import', 'tsx', 'packages/data/src/cli.ts', 'ingest', `--experiment=${files.a}`], { cwd: root, all: true });
    expect(cli.all).toContain(`[ingest] cache hit ${a1.key} (restored from the Nx cache)`);
    expect(existsSync(path.join(stageFolder(a1.key), 'stage.json'))).toBe(true);
  }, 180_000);
});
