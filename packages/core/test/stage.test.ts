import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStageMeta, runStage, stageKey } from '../src/index.ts';

const quiet = () => {};

describe('runStage', () => {
  it('builds once, then hits', async () => {
    const runsDir = mkdtempSync(path.join(tmpdir(), 'stage-'));
    let builds = 0;
    const build = async (dir: string) => {
      builds++;
      await writeFile(path.join(dir, 'out.txt'), 'hello');
    };
    const key = stageKey({ a: 1 });
    const first = await runStage({ runsDir, stage: 's', key, meta: { a: 1 }, build, log: quiet });
    const second = await runStage({ runsDir, stage: 's', key, build, log: quiet });
    expect(first.hit).toBe(false);
    expect(second.hit).toBe(true);
    expect(builds).toBe(1);
    expect(readFileSync(path.join(first.dir, 'out.txt'), 'utf8')).toBe('hello');
    expect((await readStageMeta(first.dir)).meta).toEqual({ a: 1 });
  });

  it('leaves no folder that looks done when the build fails', async () => {
    const runsDir = mkdtempSync(path.join(tmpdir(), 'stage-'));
    const key = stageKey({ b: 2 });
    await expect(
      runStage({
        runsDir,
        stage: 's',
        key,
        log: quiet,
        build: async (dir) => {
          await writeFile(path.join(dir, 'half.txt'), 'x');
          throw new Error('killed halfway');
        },
      }),
    ).rejects.toThrow('killed halfway');
    expect(existsSync(path.join(runsDir, 'cache', 's', key))).toBe(false);
    expect(readdirSync(path.join(runsDir, 'cache', 's'))).toEqual([]);
  });

  it('gives different keys for different inputs and the same key for reordered objects', () => {
    expect(stageKey({ a: 1, b: 2 })).toBe(stageKey({ b: 2, a: 1 }));
    expect(stageKey({ a: 1 })).not.toBe(stageKey({ a: 2 }));
    expect(stageKey({ a: 1 })).toHaveLength(16);
  });
});
