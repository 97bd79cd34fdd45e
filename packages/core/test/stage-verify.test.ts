/**
 * Content-verified stage caches: stage.json records size + sha256 + mtime of every output file; a
 * hit checks them (sizes always, hashes when cheap or when the file was written since the build,
 * everything with verify=full / MRI_VERIFY=1); a damaged folder is moved aside with a one-line
 * warning naming the file and rebuilt; an Nx replica sharing the damaged inode is not adopted.
 */
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeSync, closeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashBytes, publishNxOutput, readStageMeta, runStage, stageKey, verifyStageDir } from '../src/index.ts';

function workspace() {
  const root = mkdtempSync(path.join(tmpdir(), 'stage-verify-'));
  const runsDir = path.join(root, 'runs');
  mkdirSync(runsDir);
  return { root, runsDir };
}

const BIG = Buffer.alloc(3 << 20);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 2654435761) >>> 24;

async function ensure(runsDir: string, root: string, key: string, opts: { verify?: 'auto' | 'full' | 'size'; nxRoot?: string | null } = {}) {
  const lines: string[] = [];
  let built = 0;
  const res = await runStage({
    runsDir,
    stage: 'embed',
    key,
    nxRoot: opts.nxRoot === undefined ? root : opts.nxRoot,
    verify: opts.verify,
    log: (l) => lines.push(l),
    build: async (dir) => {
      built++;
      mkdirSync(path.join(dir, 'features'));
      await writeFile(path.join(dir, 'features', 'train.arr'), BIG);
      await writeFile(path.join(dir, 'labels.json'), '[0,1,2,3]');
    },
  });
  return { res, lines, built };
}

/** Overwrites `n` bytes in the middle of a file in place (same inode, same size). */
function flipMiddle(file: string, n = 64 << 10, keepMtime = false): void {
  const before = statSync(file);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(n, 0xab), 0, n, Math.floor(before.size / 2));
  closeSync(fd);
  if (keepMtime) utimesSync(file, before.atime, before.mtime);
}

describe('content-verified stage caches', () => {
  it('records size and sha256 of every output file in stage.json', async () => {
    const { root, runsDir } = workspace();
    const { res } = await ensure(runsDir, root, stageKey({ k: 1 }));
    const meta = await readStageMeta(res.dir);
    expect(Object.keys(meta.files!)).toEqual(['features/train.arr', 'labels.json']);
    expect(meta.files!['features/train.arr']).toMatchObject({ size: BIG.length, sha256: hashBytes(BIG) });
    rmSync(root, { recursive: true });
  });

  it('rebuilds a folder whose file was damaged in place, with a one-line warning naming the file', async () => {
    const { root, runsDir } = workspace();
    const key = stageKey({ k: 2 });
    const first = await ensure(runsDir, root, key);
    flipMiddle(path.join(first.res.dir, 'features', 'train.arr'));
    const again = await ensure(runsDir, root, key);
    expect(again.res.hit).toBe(false);
    expect(again.built).toBe(1);
    const warn = again.lines.filter((l) => l.startsWith('warning:'));
    expect(warn).toHaveLength(1);
    expect(warn[0]).toContain(path.join(first.res.dir, 'features', 'train.arr'));
    expect(warn[0]).toMatch(/sha256 .* recorded in stage\.json/);
    expect(readFileSync(path.join(again.res.dir, 'features', 'train.arr')).equals(BIG)).toBe(true);
    // The damaged folder is moved aside, not deleted.
    const aside = readdirSync(path.dirname(first.res.dir)).filter((n) => n.startsWith(`.damaged-${key}-`));
    expect(aside).toHaveLength(1);
    // A truncated file is caught by its size alone, even in `size` mode.
    const f = path.join(again.res.dir, 'labels.json');
    await writeFile(f, '[0]');
    const third = await ensure(runsDir, root, key, { verify: 'size' });
    expect(third.res.hit).toBe(false);
    expect(third.lines.join('\n')).toMatch(/labels\.json: size 3 ≠ 9/);
    rmSync(root, { recursive: true });
  });

  it('above the auto hash limit hashes only files written since the build; full checks every byte', async () => {
    const { root, runsDir } = workspace();
    const key = stageKey({ k: 3 });
    const { res } = await ensure(runsDir, root, key);
    const file = path.join(res.dir, 'features', 'train.arr');
    const prev = process.env.MRI_VERIFY_HASH_MIB;
    process.env.MRI_VERIFY_HASH_MIB = '1';
    try {
      const clean = await verifyStageDir(res.dir, 'auto');
      expect(clean).toMatchObject({ ok: true, hashedBytes: 0, files: 2 });
      // Damage with the mtime put back: invisible to auto above the limit, caught by full.
      flipMiddle(file, 4096, true);
      expect((await verifyStageDir(res.dir, 'auto')).ok).toBe(true);
      const full = await verifyStageDir(res.dir, 'full');
      expect(full.ok).toBe(false);
      expect(full.problems[0].file).toBe('features/train.arr');
      // Damage that moves the mtime is caught by auto (only that file is hashed).
      flipMiddle(file, 4096, false);
      const auto = await verifyStageDir(res.dir, 'auto');
      expect(auto.ok).toBe(false);
      expect(auto.hashedBytes).toBe(BIG.length);
      // MRI_VERIFY=1 makes every hit a full check.
      process.env.MRI_VERIFY = '1';
      const viaEnv = await ensure(runsDir, root, stageKey({ k: 4 }));
      flipMiddle(path.join(viaEnv.res.dir, 'features', 'train.arr'), 4096, true);
      const again = await ensure(runsDir, root, stageKey({ k: 4 }));
      expect(again.res.hit).toBe(false);
      expect(again.lines.join('\n')).toMatch(/warning: \[embed\] cache .* is damaged: .*train\.arr/);
    } finally {
      if (prev === undefined) delete process.env.MRI_VERIFY_HASH_MIB;
      else process.env.MRI_VERIFY_HASH_MIB = prev;
      delete process.env.MRI_VERIFY;
    }
    rmSync(root, { recursive: true });
  });

  it('a touched but intact file (a copied runs folder) is hashed once, then remembered', async () => {
    const { root, runsDir } = workspace();
    const { res } = await ensure(runsDir, root, stageKey({ k: 5 }));
    const file = path.join(res.dir, 'features', 'train.arr');
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    const first = await verifyStageDir(res.dir, 'auto', 0);
    expect(first).toMatchObject({ ok: true, hashedBytes: BIG.length });
    const second = await verifyStageDir(res.dir, 'auto', 0);
    expect(second).toMatchObject({ ok: true, hashedBytes: 0 });
    rmSync(root, { recursive: true });
  });

  it('a deleted damaged folder is rebuilt, not restored from an Nx replica that shares its inodes', async () => {
    const { root, runsDir } = workspace();
    const key = stageKey({ k: 6 });
    const { res } = await ensure(runsDir, root, key);
    const replica = await publishNxOutput({ stage: 'embed', experimentArg: 'experiments/x.yaml', runsDir, paths: [res.dir], root });
    const file = path.join(res.dir, 'features', 'train.arr');
    const replicaFile = path.join(replica!, 'cache', 'embed', key, 'features', 'train.arr');
    expect(statSync(replicaFile).ino).toBe(statSync(file).ino);
    flipMiddle(file);
    rmSync(res.dir, { recursive: true }); // the user removes the damaged folder
    const again = await ensure(runsDir, root, key);
    expect(again.res.hit).toBe(false);
    expect(again.built).toBe(1);
    expect(again.lines.join('\n')).toMatch(/warning: \[embed\] the Nx replica of .* is damaged too: .*train\.arr.*not restoring it/);
    expect(readFileSync(path.join(again.res.dir, 'features', 'train.arr')).equals(BIG)).toBe(true);
    // An intact replica is still adopted (after a full check).
    const intact = await publishNxOutput({ stage: 'embed', experimentArg: 'experiments/x.yaml', runsDir, paths: [again.res.dir], root });
    expect(existsSync(intact!)).toBe(true);
    rmSync(path.join(runsDir, 'cache'), { recursive: true });
    const adopted = await ensure(runsDir, root, key);
    expect(adopted.res.hit).toBe(true);
    expect(adopted.built).toBe(0);
    expect(adopted.lines.join('\n')).toMatch(/restored from the Nx cache\), every sha256 verified/);
    rmSync(root, { recursive: true });
  });
});

describe('stage build on a full disk', () => {
  it('fails with one line naming the folder and leaves nothing that looks done', async () => {
    const { execFileSync } = await import('node:child_process');
    const { root, runsDir } = workspace();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', runsDir], { stdio: 'pipe' });
    } catch {
      return; // mounting needs root; the tuning integrity test covers disk-full sweeps where it can
    }
    try {
      const key = stageKey({ k: 'full' });
      const err = await runStage({
        runsDir,
        stage: 'embed',
        key,
        nxRoot: null,
        log: () => {},
        build: async (dir) => writeFile(path.join(dir, 'big.bin'), BIG),
      }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe('UserError');
      expect((err as Error).message).toMatch(/^\[embed\] cannot write (into .*\/cache\/embed\/\.tmp-|.*big\.bin).*: the disk is full/);
      expect(readdirSync(path.join(runsDir, 'cache', 'embed'))).toEqual([]);
    } finally {
      execFileSync('umount', [runsDir]);
      rmSync(root, { recursive: true });
    }
  });
});
