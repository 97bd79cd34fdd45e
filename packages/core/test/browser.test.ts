/**
 * The browser helper of the test suite: finding Chromium, and failing (never skipping) with the
 * command to run when there is none — in-process and through `npm test`'s setup script (a real child
 * process). The install path (apt-get in a root shell) is checked by scripts/check-fresh-chromium.sh.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { workspaceRoot } from '../src/index.ts';
import { CHROMIUM_ARGS, chromiumLaunchOptions, ensureChromium, findChromium, playwrightChromiums } from '../src/testing/index.ts';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'browser-helper-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function executable(file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(file, 0o755);
  return file;
}

describe('findChromium', () => {
  const bareEnv = { HOME: path.join(tmp, 'home-empty') };
  it('takes MRI_CHROMIUM alone when it is set', () => {
    const exe = executable(path.join(tmp, 'bin', 'my-chrome'));
    expect(findChromium({ env: { ...bareEnv, MRI_CHROMIUM: exe }, system: [] })).toBe(exe);
    expect(findChromium({ env: { ...bareEnv, MRI_CHROMIUM: path.join(tmp, 'nope') }, system: [exe] })).toBeNull();
  });
  it('tries the system paths in order, skipping non-executable files', () => {
    const plain = path.join(tmp, 'bin', 'not-executable');
    fs.writeFileSync(plain, '');
    const exe = executable(path.join(tmp, 'bin', 'chromium'));
    expect(findChromium({ env: bareEnv, system: [path.join(tmp, 'missing'), plain, exe] })).toBe(exe);
    expect(findChromium({ env: bareEnv, system: [] })).toBeNull();
  });
  it("falls back to playwright's cache, newest revision first", () => {
    const cache = path.join(tmp, 'pw');
    executable(path.join(cache, 'chromium-1100', 'chrome-linux', 'chrome'));
    const newest = executable(path.join(cache, 'chromium-1200', 'chrome-linux64', 'chrome'));
    fs.mkdirSync(path.join(cache, 'chromium_headless_shell-1200'), { recursive: true });
    expect(playwrightChromiums({ PLAYWRIGHT_BROWSERS_PATH: cache })).toEqual([newest, path.join(cache, 'chromium-1100', 'chrome-linux', 'chrome')]);
    expect(findChromium({ env: { PLAYWRIGHT_BROWSERS_PATH: cache }, system: [] })).toBe(newest);
  });
});

describe('no browser: fail with the command to run', () => {
  const env = { HOME: path.join(tmp, 'home-empty') };
  it('chromiumLaunchOptions throws (a browser test fails, it does not skip)', () => {
    expect(() => chromiumLaunchOptions({ env, system: [] })).toThrow(
      /sudo apt-get install -y chromium.*npx playwright-core install --with-deps chromium.*MRI_CHROMIUM/,
    );
    const exe = executable(path.join(tmp, 'bin', 'chromium'));
    expect(chromiumLaunchOptions({ env, system: [exe] })).toEqual({ executablePath: exe, args: [...CHROMIUM_ARGS] });
  });
  it('ensureChromium without installing throws the same line', () => {
    expect(() => ensureChromium({ env, system: [], install: false })).toThrow(/^no Chromium for the browser tests/);
  });
  it("npm test's setup step exits 1 with one line naming MRI_CHROMIUM when it points nowhere", async () => {
    const r = await run(process.execPath, ['--import', 'tsx', 'scripts/test-setup.ts'], {
      cwd: workspaceRoot(),
      env: { ...process.env, MRI_CHROMIUM: path.join(tmp, 'no-such-chrome') },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `test setup: MRI_CHROMIUM=${path.join(tmp, 'no-such-chrome')} is not an executable file: point it at a Chromium or Chrome binary, or unset it`,
    );
  });
});
