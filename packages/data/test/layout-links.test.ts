/**
 * Issue 14, items 2 and 3: a source folder with a directory-link loop and a named pipe.
 *  - `ln -s .. Training/glioma/dirloop` made the listing walk every other class through the loop as
 *    "glioma"; a link back into the tree is not followed (real paths are tracked) and is reported;
 *    a link to a folder outside the tree is followed once, however many links lead to it;
 *  - `mkfifo Training/glioma/fifo.jpg` hung ingest at decode: only regular files are listed,
 *    anything else is reported as skipped with its reason.
 * Real files (copies of a few shared scans in a temp folder), real links, a real FIFO.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import { listKaggleSource } from '../src/layout.ts';

const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layout-links-'));
  const src = path.join(sharedDir(), 'datasets', 'sartaj', 'Testing', 'glioma_tumor');
  const scans = fs.readdirSync(src).sort().slice(0, 8);
  const root = path.join(dir, 'set');
  for (const [k, c] of CLASSES.entries()) {
    fs.mkdirSync(path.join(root, 'Training', c), { recursive: true });
    for (const f of scans.slice(2 * k, 2 * k + 2)) fs.copyFileSync(path.join(src, f), path.join(root, 'Training', c, f));
  }
  fs.symlinkSync('..', path.join(root, 'Training', 'glioma', 'dirloop'));
  fs.symlinkSync('../../..', path.join(root, 'Training', 'notumor', 'up3'));
  // A folder outside the tree, linked twice: its files are listed once.
  fs.mkdirSync(path.join(dir, 'extra'));
  fs.copyFileSync(path.join(src, scans[0]), path.join(dir, 'extra', 'outside.jpg'));
  fs.symlinkSync(path.join(dir, 'extra'), path.join(root, 'Training', 'pituitary', 'extra1'));
  fs.symlinkSync(path.join(dir, 'extra'), path.join(root, 'Training', 'pituitary', 'extra2'));
  execFileSync('mkfifo', [path.join(root, 'Training', 'glioma', 'fifo.jpg')]);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('source folders with links and special files (issue 14 items 2, 3)', () => {
  it('lists each real file once under its own class and reports the loop links and the pipe', async () => {
    const l = await listKaggleSource('set', path.join(dir, 'set'), CLASSES);
    const byClass = Object.fromEntries(
      CLASSES.map((c) => [
        c,
        l.files
          .filter((f) => f.label === c)
          .map((f) => f.relPath)
          .sort(),
      ]),
    );
    expect(byClass.glioma).toHaveLength(2);
    expect(byClass.meningioma).toHaveLength(2);
    expect(byClass.notumor).toHaveLength(2);
    expect(byClass.pituitary).toHaveLength(3);
    expect(byClass.pituitary.filter((p) => p.includes('outside.jpg'))).toEqual(['Training/pituitary/extra1/outside.jpg']);
    expect(l.files).toHaveLength(9);
    const stray = Object.fromEntries(l.stray.map((s) => [s.relPath, s.reason]));
    expect(stray['Training/glioma/dirloop']).toMatch(/link back into the source folder.*not followed/);
    expect(stray['Training/notumor/up3']).toMatch(/link back into the source folder.*not followed/);
    expect(stray['Training/pituitary/extra2']).toMatch(/already listed through Training\/pituitary\/extra1/);
    expect(stray['Training/glioma/fifo.jpg']).toMatch(/not a regular file \(named pipe\)/);
  });
});
