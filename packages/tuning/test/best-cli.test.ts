/**
 * `tuning:best --sweep=<typo>` through the real CLI (a child process) on a real DuckDB file: one
 * line naming the option and listing the sweeps that exist, exit 1, no stack trace.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '@mri-robust/core/testing';
import { openTracking } from '@mri-robust/tracking';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'best-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('tuning best --sweep', () => {
  it('lists the known sweeps when the id is not one of them', async () => {
    const file = path.join(tmp, 'tracking.duckdb');
    const t = await openTracking(file);
    for (const [id, at] of [
      ['default-aaaa1111', '2025-01-01 10:00:00'],
      ['brain-mri-bbbb2222', '2025-01-02 10:00:00'],
    ]) {
      await t.run(`INSERT INTO sweeps (sweep_id, name, objective, status, created_at) VALUES ('${id}', 'x', 'val_accuracy', 'finished', TIMESTAMP '${at}')`);
    }
    await t.close();
    const r = await runCli('packages/tuning/src/cli.ts', ['best', '--sweep=brain-mri-typo', `--tracking=${file}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--sweep brain-mri-typo: no such sweep');
    expect(r.stderr).toContain('known sweeps, newest first: brain-mri-bbbb2222, default-aaaa1111');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
