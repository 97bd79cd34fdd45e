/**
 * `serve:start --workers=N` in a real child process: with two predictions at once, eight different
 * scans posted together get the answers each gets alone (class, probabilities, map, both PNGs);
 * a bad value stops the command with one line naming the option, before any model is loaded. (The
 * child processes import the whole model stack: slow on a loaded machine, hence the long timeouts.)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { runCli } from '@mri-robust/core/testing';
import { selectBackend, trainTinyModel } from '@mri-robust/model';
import { runServe } from '../src/run.ts';

const shared = sharedDir();
const testing = path.join(shared, 'datasets', 'sartaj', 'Testing');
/** Two scans per class. */
const scans = readdirSync(testing)
  .sort()
  .flatMap((cls) =>
    readdirSync(path.join(testing, cls))
      .filter((n) => n.endsWith('.jpg'))
      .sort()
      .slice(0, 2)
      .map((n) => readFileSync(path.join(testing, cls, n))),
  );

async function predict(url: string, bytes: Uint8Array): Promise<Record<string, unknown>> {
  const res = await fetch(new URL('predict', url), { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: new Uint8Array(bytes) });
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body).slice(0, 200)).toBe(200);
  return body;
}

/** The answer without its timing. */
const content = ({ ms: _ms, ...rest }: Record<string, unknown>) => rest;

describe('serve: --workers', () => {
  let root: string;
  let modelDir: string;

  beforeAll(async () => {
    await selectBackend('auto');
    root = mkdtempSync(path.join(tmpdir(), 'serve-workers-'));
    modelDir = path.join(root, 'model');
    await trainTinyModel({ outDir: modelDir, sharedDir: shared, perClass: 6, epochs: 3 });
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('--workers=2: concurrent requests get the answers each gets alone', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'packages/serve/src/cli.ts', 'start', `--model=${modelDir}`, '--port=0', '--workers=2'], {
      cwd: workspaceRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const m = /serving (http:\/\/\S+\/)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
      });
      expect(err).toMatch(/grad-cam maps; 2 prediction\(s\) at once, \d+ ONNX Runtime thread\(s\) each/);
      const together = await Promise.all(scans.map((s) => predict(url, s)));
      const alone: Record<string, unknown>[] = [];
      for (const s of scans) alone.push(await predict(url, s));
      expect(together.map(content)).toEqual(alone.map(content));
      // Different scans, different answers: the concurrent requests were not mixed up by accident of equality.
      expect(new Set(alone.map((a) => a.gradcam)).size).toBe(scans.length);
      expect(new Set(alone.map((a) => JSON.stringify(a.probabilities))).size).toBe(scans.length);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 300_000);

  it('a bad --workers is refused with one line before any model loads (CLI: exit 1)', async () => {
    for (const [value, message] of [
      ['0', '--workers 0: expected an integer ≥ 1'],
      ['two', '--workers two: expected an integer ≥ 1'],
      ['1.5', '--workers 1.5: expected an integer ≥ 1'],
    ]) {
      // A model folder that does not exist: the option is checked first.
      await expect(runServe({ model: path.join(root, 'missing'), port: '0', workers: value })).rejects.toMatchObject({ name: 'UserError', message });
    }
    const r = await runCli('packages/serve/src/cli.ts', ['start', `--model=${modelDir}`, '--port=0', '--workers=0']);
    expect([r.exitCode, r.stderr.trim()]).toEqual([1, 'error: --workers 0: expected an integer ≥ 1']);
  }, 300_000);
});
