import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nxOutputDir, publishNxOutput, runStage, stageKey } from '../src/index.ts';
import { adoptFromNxOutput, restoreFromNxOutput } from '../src/nx-output.ts';

const quiet = () => {};

/** A fake workspace: <root>/runs is "the workspace runs folder" the Nx outputs describe. */
function workspace() {
  const root = mkdtempSync(path.join(tmpdir(), 'nxout-'));
  const runsDir = path.join(root, 'runs');
  mkdirSync(runsDir);
  return { root, runsDir };
}

async function build(runsDir: string, root: string, key: string, text: string) {
  return runStage({
    runsDir,
    stage: 'ingest',
    key,
    log: quiet,
    nxRoot: root,
    build: async (dir) => {
      mkdirSync(path.join(dir, 'eval'));
      await writeFile(path.join(dir, 'data.bin'), text);
      await writeFile(path.join(dir, 'eval', 'set.bin'), `${text}!`);
    },
  });
}

describe('Nx output replicas', () => {
  it('names one folder per experiment argument, and none that leaves the stage root', () => {
    const root = '/w';
    expect(nxOutputDir('ingest', 'experiments/brain-mri.yaml', root)).toBe('/w/runs/nx/ingest/experiments/brain-mri.yaml');
    // what "{workspaceRoot}/runs/nx/ingest/{options.experiment}" gives for an absolute argument
    expect(nxOutputDir('ingest', '/tmp/x/mine.yaml', root)).toBe('/w/runs/nx/ingest/tmp/x/mine.yaml');
    expect(nxOutputDir('ingest', '../../x.yaml', root)).toBeNull();
    expect(nxOutputDir('ingest', '.', root)).toBeNull();
  });

  it('publishes hard links of the stage folder and pointer files, per experiment, replacing the previous ones', async () => {
    const { root, runsDir } = workspace();
    const a = await build(runsDir, root, stageKey({ a: 1 }), 'A');
    const b = await build(runsDir, root, stageKey({ b: 1 }), 'B');
    const pointer = path.join(runsDir, 'cache', 'ingest', 'pointers', 'a.json');
    mkdirSync(path.dirname(pointer), { recursive: true });
    writeFileSync(pointer, '{"key":"a"}');
    const da = await publishNxOutput({ stage: 'ingest', experimentArg: 'experiments/a.yaml', runsDir, paths: [a.dir, pointer], root });
    const db = await publishNxOutput({ stage: 'ingest', experimentArg: 'experiments/b.yaml', runsDir, paths: [b.dir], root });
    const replicaA = path.join(da!, 'cache', 'ingest', a.key, 'data.bin');
    expect(readFileSync(replicaA, 'utf8')).toBe('A');
    expect(statSync(replicaA).ino).toBe(statSync(path.join(a.dir, 'data.bin')).ino); // a link, not a copy
    expect(readFileSync(path.join(da!, 'cache', 'ingest', 'pointers', 'a.json'), 'utf8')).toBe('{"key":"a"}');
    expect(readFileSync(path.join(db!, 'cache', 'ingest', b.key, 'eval', 'set.bin'), 'utf8')).toBe('B!');
    // republishing a for another key replaces its replica and leaves b's alone
    const a2 = await build(runsDir, root, stageKey({ a: 2 }), 'A2');
    await publishNxOutput({ stage: 'ingest', experimentArg: 'experiments/a.yaml', runsDir, paths: [a2.dir], root });
    expect(existsSync(path.join(da!, 'cache', 'ingest', a.key))).toBe(false);
    expect(existsSync(path.join(da!, 'cache', 'ingest', a2.key, 'stage.json'))).toBe(true);
    expect(existsSync(path.join(db!, 'cache', 'ingest', b.key, 'stage.json'))).toBe(true);
    // a runs folder outside the workspace has no Nx output; paths outside the runs folder are refused
    const other = mkdtempSync(path.join(tmpdir(), 'nxout-other-'));
    expect(await publishNxOutput({ stage: 'ingest', experimentArg: 'e.yaml', runsDir: other, paths: [], root })).toBeNull();
    await expect(publishNxOutput({ stage: 'ingest', experimentArg: 'e.yaml', runsDir, paths: [other], root })).rejects.toThrow(/not inside/);
  });

  it('runStage adopts a folder that only an Nx restore brought back, instead of building it again', async () => {
    const { root, runsDir } = workspace();
    const key = stageKey({ c: 3 });
    const built = await build(runsDir, root, key, 'C');
    const pointer = path.join(runsDir, 'cache', 'ingest', 'pointers', 'c.json');
    mkdirSync(path.dirname(pointer), { recursive: true });
    writeFileSync(pointer, '{"key":"c"}');
    await publishNxOutput({ stage: 'ingest', experimentArg: 'experiments/c.yaml', runsDir, paths: [built.dir, pointer], root });
    rmSync(path.join(runsDir, 'cache'), { recursive: true }); // e.g. rm -rf runs/cache
    let builds = 0;
    const again = await runStage({ runsDir, stage: 'ingest', key, log: quiet, nxRoot: root, build: async () => void builds++ });
    expect(again.hit).toBe(true);
    expect(builds).toBe(0);
    expect(readFileSync(path.join(again.dir, 'eval', 'set.bin'), 'utf8')).toBe('C!');
    // nxRoot: null never looks at replicas
    rmSync(again.dir, { recursive: true });
    const fresh = await runStage({
      runsDir,
      stage: 'ingest',
      key,
      log: quiet,
      nxRoot: null,
      build: async (d) => writeFile(path.join(d, 'data.bin'), 'rebuilt'),
    });
    expect(fresh.hit).toBe(false);
    expect(await adoptFromNxOutput(runsDir, 'ingest', stageKey({ nothing: 1 }), root)).toBeNull();
    // pointer files come back from the replica of their experiment only
    expect(await restoreFromNxOutput('ingest', 'experiments/other.yaml', runsDir, pointer, root)).toBe(false);
    expect(await restoreFromNxOutput('ingest', 'experiments/c.yaml', runsDir, pointer, root)).toBe(true);
    expect(readFileSync(pointer, 'utf8')).toBe('{"key":"c"}');
  });
});
