/**
 * The headless browser of the test suite (`@mri-robust/core/testing`): where it is, how to launch it,
 * and how to get it when it is missing. The browser tests (report, predict page) launch it through
 * playwright-core with `chromiumLaunchOptions()`, which THROWS when no browser can be had, so such a
 * test fails with the command to run instead of skipping. `npm test` runs `scripts/test-setup.ts`
 * first (`pretest`), which calls `ensureChromium()`: it installs Debian's `chromium` with apt-get when
 * it may (root or passwordless sudo), and otherwise stops with the exact command.
 *
 * Search order: `$MRI_CHROMIUM` (only it, when set), Debian's `/usr/bin/chromium`, Google Chrome,
 * then a Chromium that `playwright-core install chromium` put in its cache (the route on Ubuntu,
 * whose `chromium` package is a snap stub that does not run in containers).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** Flags Debian's Chromium needs headless here (PITFALLS.md: without the networking ones it stalls). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Where a system Chromium/Chrome is looked for, in order. */
const SYSTEM_BROWSERS: readonly string[] = ['/usr/bin/chromium', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'];

export interface BrowserSearch {
  /** Environment (default process.env): MRI_CHROMIUM, PLAYWRIGHT_BROWSERS_PATH, HOME. */
  env?: NodeJS.ProcessEnv;
  /** System paths to try (default SYSTEM_BROWSERS). */
  system?: readonly string[];
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Chromium builds in playwright's browser cache (`<cache>/chromium-<rev>/chrome-linux*\/chrome`), newest revision first. */
export function playwrightChromiums(env: NodeJS.ProcessEnv = process.env): string[] {
  const cache =
    env.PLAYWRIGHT_BROWSERS_PATH && env.PLAYWRIGHT_BROWSERS_PATH !== '0'
      ? env.PLAYWRIGHT_BROWSERS_PATH
      : path.join(env.HOME ?? os.homedir(), '.cache', 'ms-playwright');
  let dirs: string[];
  try {
    dirs = fs.readdirSync(cache).filter((d) => /^chromium-\d+$/.test(d));
  } catch {
    return [];
  }
  dirs.sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]));
  return dirs.flatMap((d) => ['chrome-linux64', 'chrome-linux'].map((sub) => path.join(cache, d, sub, 'chrome'))).filter(isExecutable);
}

/** The browser to use, or null when none is installed. A set MRI_CHROMIUM is the only candidate. */
export function findChromium(search: BrowserSearch = {}): string | null {
  const env = search.env ?? process.env;
  if (env.MRI_CHROMIUM) return isExecutable(env.MRI_CHROMIUM) ? env.MRI_CHROMIUM : null;
  for (const p of search.system ?? SYSTEM_BROWSERS) if (isExecutable(p)) return p;
  return playwrightChromiums(env)[0] ?? null;
}

/** What to run to get a browser, as one line (the message of every "no browser" failure). */
function chromiumHelp(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MRI_CHROMIUM) return `MRI_CHROMIUM=${env.MRI_CHROMIUM} is not an executable file: point it at a Chromium or Chrome binary, or unset it`;
  return (
    "no Chromium for the browser tests (looked for /usr/bin/chromium, Google Chrome and playwright's cache): " +
    'on Debian run `sudo apt-get update && sudo apt-get install -y chromium`; ' +
    'on Ubuntu (its chromium package is a snap stub) run `npx playwright-core install --with-deps chromium`; ' +
    'or set MRI_CHROMIUM=/path/to/chrome'
  );
}

/**
 * `{ executablePath, args }` for playwright-core's `chromium.launch()`; throws (never skips) with
 * the command to run when there is no browser. Call it inside a test or hook so the suite fails.
 */
export function chromiumLaunchOptions(search: BrowserSearch = {}): { executablePath: string; args: string[] } {
  const executablePath = findChromium(search);
  if (!executablePath) throw new Error(chromiumHelp(search.env));
  return { executablePath, args: [...CHROMIUM_ARGS] };
}

export interface EnsureOptions extends BrowserSearch {
  /** Progress lines (default stderr). */
  log?: (line: string) => void;
  /** Whether to try installing (default true). */
  install?: boolean;
}

function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** '' when root, 'sudo' when passwordless sudo works, null when neither (no installing). */
function privilege(): '' | 'sudo' | null {
  if (process.getuid?.() === 0) return '';
  if (commandExists('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return 'sudo';
  return null;
}

/** True when apt knows an installable `chromium` package (Debian; not Ubuntu, whose is a snap stub). */
function aptHasChromium(): boolean {
  const r = spawnSync('apt-cache', ['policy', 'chromium'], { encoding: 'utf8' });
  return r.status === 0 && /Candidate: (?!\(none\))\S+/.test(r.stdout) && !/snap/i.test(r.stdout);
}

function runLogged(cmd: string[], log: (l: string) => void, env?: NodeJS.ProcessEnv): boolean {
  log(`$ ${cmd.join(' ')}`);
  const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  return r.status === 0;
}

/**
 * The browser, installed first when it is missing and this process may install it: Debian's
 * `chromium` via apt-get (root or passwordless sudo); where apt has no such package (Ubuntu),
 * playwright-core's own Chromium with its system libraries (`install --with-deps`, also privileged).
 * Unprivileged, it installs nothing. Throws with `chromiumHelp()` when it cannot.
 */
export function ensureChromium(opts: EnsureOptions = {}): string {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const env = opts.env ?? process.env;
  const found = findChromium(opts);
  if (found || opts.install === false || env.MRI_CHROMIUM) {
    if (!found) throw new Error(chromiumHelp(env));
    return found;
  }
  const sudo = privilege();
  const prefix = sudo ? [sudo] : [];
  log('test setup: no Chromium found; the browser tests need one');
  if (sudo !== null && commandExists('apt-get')) {
    // an apt index may be missing on a fresh image: update first, then ask whether chromium exists
    runLogged([...prefix, 'apt-get', 'update', '-qq'], log);
    if (aptHasChromium()) {
      runLogged([...prefix, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium'], log, { DEBIAN_FRONTEND: 'noninteractive' });
      const p = findChromium(opts);
      if (p) return p;
    }
  }
  const cli = sudo !== null ? playwrightCli() : null;
  if (cli) {
    runLogged([process.execPath, cli, 'install', ...(sudo !== null ? ['--with-deps'] : []), 'chromium'], log);
    const p = findChromium(opts);
    if (p) return p;
  }
  throw new Error(chromiumHelp(env));
}

/** playwright-core's CLI script, when installed. */
function playwrightCli(): string | null {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('playwright-core/package.json')), 'cli.js');
  } catch {
    return null;
  }
}
