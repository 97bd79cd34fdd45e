/**
 * A report or `tuning:best` opened while a sweep runs: the sweep's process holds DuckDB's lock on
 * the tracking file, so a plain read-only open fails; with snapshotIfLocked the reader gets a
 * copy that holds every transaction the writer had committed, and the writer's file is untouched.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSweeps, openTracking } from '../src/tracking.ts';

const HELPER = path.join(import.meta.dirname, 'hold-tracking.ts');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracking-snapshot-test-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const snapshotDirs = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tracking-snapshot-') && !n.startsWith('tracking-snapshot-test-'));
const digest = (f: string) => (fs.existsSync(f) ? crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex') : 'absent');

describe('tracking snapshot while a writer holds the file', () => {
  it('reads committed rows from a copy and leaves the held file untouched', async () => {
    const file = path.join(dir, 'tracking.duckdb');
    const writer = execa(process.execPath, ['--import', 'tsx', HELPER, file], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false });
    let out = '';
    const waitFor = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (out.includes(text)) resolve();
        };
        writer.stdout?.on('data', (b: Buffer) => {
          out += b.toString();
          check();
        });
        writer.on('exit', (code) => (out.includes(text) ? resolve() : reject(new Error(`writer exited (${code}) before "${text}": ${out}`))));
        check();
      });
    try {
      await waitFor('open');
      writer.stdin?.write('sweep s-one\n');
      await waitFor('committed s-one');

      // Without the option the lock is reported as such, naming the process that holds it.
      await expect(openTracking(file, { readOnly: true })).rejects.toThrow(new RegExp(`in use by a process \\(PID ${writer.pid}: .*hold-tracking\\.ts`));

      const before = [digest(file), digest(`${file}.wal`)];
      const tmpBefore = new Set(snapshotDirs());
      const snap = await openTracking(file, { readOnly: true, snapshotIfLocked: true });
      expect(snap.snapshotAt).toBeInstanceOf(Date);
      expect((await listSweeps(snap)).map((s) => s.sweep_id)).toEqual(['s-one']);
      const ours = snapshotDirs().filter((d) => !tmpBefore.has(d));
      expect(ours.length).toBe(1);
      await snap.close();
      expect(fs.existsSync(path.join(os.tmpdir(), ours[0]))).toBe(false);
      expect([digest(file), digest(`${file}.wal`)]).toEqual(before);

      // The writer goes on; a new snapshot sees its newer commit.
      writer.stdin?.write('sweep s-two\n');
      await waitFor('committed s-two');
      const snap2 = await openTracking(file, { readOnly: true, snapshotIfLocked: true });
      expect((await listSweeps(snap2)).map((s) => s.sweep_id).sort()).toEqual(['s-one', 's-two']);
      await snap2.close();

      writer.stdin?.write('exit\n');
      await waitFor('closed');
      await writer;
    } finally {
      writer.kill();
    }
    // Once the writer is gone, a plain read-only open works and is no snapshot.
    const plain = await openTracking(file, { readOnly: true, snapshotIfLocked: true });
    expect(plain.snapshotAt).toBeNull();
    expect((await listSweeps(plain)).length).toBe(2);
    await plain.close();
  }, 60_000);
});
