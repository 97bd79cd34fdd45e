import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapOrdered, WorkerPool } from '../src/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pool-'));
  // A TypeScript worker module: typed arrays come back transferred.
  await writeFile(
    path.join(dir, 'square.mts'),
    `export function handle(req: { xs: Float64Array; fail?: boolean }): { ys: Float64Array } {
  if (req.fail) throw new Error('asked to fail');
  return { ys: req.xs.map((x: number) => x * x) };
}\n`,
  );
  await writeFile(path.join(dir, 'crash.mts'), `process.exit(3);\nexport function handle() { return 1; }\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('worker pool', () => {
  it('runs a TypeScript handler in threads and delivers results in request order', async () => {
    for (const size of [0, 2]) {
      const pool = await WorkerPool.start<{ xs: Float64Array }, { ys: Float64Array }>(path.join(dir, 'square.mts'), size);
      const got: number[] = [];
      await mapOrdered(
        pool,
        Array.from({ length: 20 }, (_, i) => ({ xs: Float64Array.from([i, i + 0.5]) })),
        (r, i) => {
          expect(r.ys[0]).toBe(i * i);
          got.push(i);
        },
      );
      await pool.close();
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i));
    }
  });

  it('passes handler errors back, and fails (not hangs) when a worker dies', async () => {
    const pool = await WorkerPool.start<{ xs: Float64Array; fail?: boolean }, unknown>(path.join(dir, 'square.mts'), 1);
    await expect(pool.run({ xs: new Float64Array(1), fail: true })).rejects.toThrow(/asked to fail/);
    await pool.close();
    const crash = await WorkerPool.start<number, number>(path.join(dir, 'crash.mts'), 1);
    await expect(crash.run(1)).rejects.toThrow(/exited with code 3/);
    await expect(crash.run(2)).rejects.toThrow(/exited with code 3/);
    await crash.close();
  });
});
