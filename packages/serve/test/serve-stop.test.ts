/**
 * `serve:start` prints its pid and URL and stops cleanly, started the way a user starts it:
 * `npx nx run serve:start -- --port=0` (npm exec → sh → nx → sh → node) and the CLI itself. Real
 * child processes: kill -TERM the printed pid → the whole command exits 0 and the port closes;
 * kill -TERM the npx process (which does not forward it) → the server notices its launcher is gone
 * and stops too; SIGINT to the CLI → exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { selectBackend, trainTinyModel } from '@mri-robust/model';
import { launcherChain, parentPid } from '../src/launcher.ts';

const SERVING = /serving (http:\/\/127\.0\.0\.1:\d+\/) \(pid (\d+); stop with Ctrl-C or kill \2\)/;

interface Started {
  child: ChildProcess;
  url: string;
  pid: number;
  out: () => string;
  exited: Promise<number | null>;
}

/** Starts `cmd args` in its own process group; resolves once the server printed its pid and URL. */
function start(cmd: string, args: string[]): Promise<Started> {
  const child = spawn(cmd, args, {
    cwd: workspaceRoot(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  });
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'serving' line within 120 s:\n${text}`)), 120_000);
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = SERVING.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], pid: Number(m[2]), out: () => text, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`exited with ${code} before serving:\n${text}`)));
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const within = async (ms: number, cond: () => boolean | Promise<boolean>) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return cond();
};
const refused = async (url: string) => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch {
    return true;
  }
};

describe('serve:start pid, URL and clean stop (real child processes)', () => {
  let root: string;
  let modelDir: string;
  const groups: number[] = [];

  beforeAll(async () => {
    await selectBackend('auto');
    root = mkdtempSync(path.join(tmpdir(), 'serve-stop-'));
    modelDir = path.join(root, 'model');
    await trainTinyModel({ outDir: modelDir, sharedDir: sharedDir(), backbone: 'cnn', epochs: 2, perClass: 4 });
  });
  afterAll(() => {
    // Whatever a failed test left running: its own process group, by pid.
    for (const g of groups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('npx nx run serve:start: kill -TERM of the printed pid stops the server, nx and npx (exit 0)', async () => {
    const s = await start('npx', ['nx', 'run', 'serve:start', '--', `--model=${modelDir}`, '--port=0']);
    groups.push(s.child.pid!);
    expect(s.pid).not.toBe(s.child.pid); // the server runs under npx → nx
    expect((await fetch(s.url)).status).toBe(200);
    process.kill(s.pid, 'SIGTERM');
    const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    expect(code).toBe(0);
    expect(s.out()).toMatch(/\[serve\] SIGTERM: stopping/);
    expect(await refused(s.url)).toBe(true);
    expect(alive(s.pid)).toBe(false);
  });

  it('npx nx run serve:start: kill -TERM of the npx process itself also stops the server', async () => {
    const s = await start('npx', ['nx', 'run', 'serve:start', '--', `--model=${modelDir}`, '--port=0']);
    groups.push(s.child.pid!);
    const nx = parentPid(parentPid(s.pid)!)!; // server ← sh ← nx
    expect(alive(nx)).toBe(true);
    process.kill(s.child.pid!, 'SIGTERM');
    expect(await within(30_000, () => !alive(s.pid))).toBe(true);
    expect(await within(30_000, () => !alive(nx))).toBe(true);
    expect(await refused(s.url)).toBe(true);
    expect(s.out()).toMatch(/\[serve\] launcher \d+ \(.*\) exited: stopping/);
  });

  it('the CLI started directly: no launcher chain, SIGINT stops it with exit 0', async () => {
    const s = await start(process.execPath, ['--import', 'tsx', 'packages/serve/src/cli.ts', 'start', `--model=${modelDir}`, '--port=0']);
    groups.push(s.child.pid!);
    expect(s.pid).toBe(s.child.pid);
    // This test process runs vitest, not the server: nothing above the CLI matches.
    expect(launcherChain(s.pid)).toEqual([]);
    expect((await fetch(s.url)).status).toBe(200);
    process.kill(s.pid, 'SIGINT');
    expect(await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))])).toBe(0);
    expect(await refused(s.url)).toBe(true);
  });
});
