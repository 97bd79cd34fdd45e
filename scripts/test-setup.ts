/**
 * `npm test`'s setup step (`pretest`): makes sure the browser tests have a Chromium. Finds one
 * (MRI_CHROMIUM, /usr/bin/chromium, Google Chrome, playwright's cache); else installs Debian's
 * `chromium` with apt-get when running as root or with passwordless sudo (on Ubuntu, whose package
 * is a snap stub, playwright-core's Chromium with its libraries); else stops with the exact command
 * to run, exit 1. Also checks that ../shared (data and weights the tests read) is there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sharedDir } from '@mri-robust/core';
import { ensureChromium } from '@mri-robust/core/testing';

function main(): number {
  const shared = sharedDir();
  if (!fs.existsSync(path.join(shared, 'datasets')) || !fs.existsSync(path.join(shared, 'weights'))) {
    process.stderr.write(`test setup: ${shared} has no datasets/ and weights/: the tests read real scans and weights from the shared folder beside the checkout (../shared) or $MRI_SHARED\n`);
    return 1;
  }
  try {
    const chromium = ensureChromium();
    process.stderr.write(`test setup: browser ${chromium}; shared data ${shared}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`test setup: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main();
