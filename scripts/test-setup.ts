/**
 * `npm test`'s setup step (`pretest`): makes sure the browser tests have a Chromium. Finds one
 * (MRI_CHROMIUM, /usr/bin/chromium, Google Chrome, playwright's cache); else installs Debian's
 * `chromium` with apt-get when running as root or with passwordless sudo (on Ubuntu, whose package
 * is a snap stub, playwright-core's Chromium with its libraries); else stops with the exact command
 * to run, exit 1. The same for Debian's `redis-server` (the queue-mode tests start their own on a
 * loopback port). Also checks that ../shared (data and weights the tests read) is there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sharedDir } from '@mri-robust/core';
import { ensureChromium } from '@mri-robust/core/testing';

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** redis-server on PATH, installing Debian's package as root (or with passwordless sudo) when absent. */
function ensureRedis(): string {
  if (onPath('redis-server')) return 'redis-server';
  const root = process.getuid?.() === 0;
  const sudo = root ? [] : spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0 ? ['sudo'] : null;
  if (sudo && onPath('apt-get')) {
    process.stderr.write("test setup: no redis-server found; installing Debian's redis-server (the queue tests start their own)\n");
    const run = (args: string[]) =>
      execFileSync(sudo[0] ?? args[0], sudo.length ? args : args.slice(1), {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'redis-server']);
    if (onPath('redis-server')) return 'redis-server';
  }
  throw new Error('the queue tests need redis-server: run `sudo apt-get install redis-server` (Debian/Ubuntu), then npm test again');
}

function main(): number {
  const shared = sharedDir();
  if (!fs.existsSync(path.join(shared, 'datasets')) || !fs.existsSync(path.join(shared, 'weights'))) {
    process.stderr.write(
      `test setup: ${shared} has no datasets/ and weights/: the tests read real scans and weights from the shared folder beside the checkout (../shared) or $MRI_SHARED\n`,
    );
    return 1;
  }
  try {
    const chromium = ensureChromium();
    ensureRedis();
    process.stderr.write(`test setup: browser ${chromium}; redis-server found; shared data ${shared}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`test setup: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main();
