/**
 * Issue 14, items 5, 6, 9 (busy port) and 10: hostile clients against the predict server, with real
 * sockets on 127.0.0.1 and a real (tiny) model.
 *  - slow-loris: 64 connections sending a header byte every 500 ms while 4 normal clients keep
 *    asking; ≥ 95 % of the normal requests are answered within 2 s;
 *  - slow uploads: 12 POSTs sending 1 byte a second do not make other predictions wait or fail;
 *  - Host header allow-list (DNS rebinding), 414 / 431 for over-long URLs and headers;
 *  - `serve start` on a busy port: one line naming the port, no stack trace.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { selectBackend, trainTinyModel } from '@mri-robust/model';
import { loadPredictHandler, type ModelHandler } from '../src/predictor.ts';
import { startServer, type RunningServer } from '../src/server.ts';

const shared = sharedDir();
const scan = readFileSync(path.join(shared, 'datasets', 'sartaj', 'Testing', 'glioma_tumor', 'image(1).jpg'));

/** A raw HTTP/1.1 exchange on a fresh socket: resolves with the status line's code (0 when closed without one). */
function raw(port: number, request: Buffer | string, timeoutMs = 5000): Promise<{ status: number; text: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, ms: performance.now() - t0 });
    };
    const timer = setTimeout(done, timeoutMs);
    s.on('data', (b) => {
      text += b.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(text);
      if (head >= 0 && len && text.length >= head + 4 + Number(len[1])) done();
    });
    s.on('error', () => undefined);
    s.on('close', done);
    s.write(request);
  });
}

const get = (host = '127.0.0.1', p = '/') => `GET ${p} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
const post = (body: Buffer) =>
  Buffer.concat([
    Buffer.from(`POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
    body,
  ]);

describe('predict server against hostile clients', () => {
  let dir: string;
  let handler: ModelHandler;
  let srv: RunningServer;

  beforeAll(async () => {
    await selectBackend('auto');
    dir = mkdtempSync(path.join(tmpdir(), 'serve-hostile-'));
    await trainTinyModel({ outDir: path.join(dir, 'model'), sharedDir: shared, epochs: 2 });
    handler = await loadPredictHandler(path.join(dir, 'model'));
    srv = await startServer(handler, { port: 0, allowHosts: ['mri.example'] });
  });
  afterAll(async () => {
    await srv?.close();
    handler?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers ≥ 95 % of normal requests within 2 s while 64 slow-loris connections trickle headers', async () => {
    const loris: net.Socket[] = [];
    const opened = () => {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => {
        // An attacker reconnects as soon as it is dropped.
        if (running) loris[loris.indexOf(s)] = opened();
      });
      s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      return s;
    };
    let running = true;
    for (let i = 0; i < 64; i++) loris.push(opened());
    const drip = setInterval(() => {
      for (const s of loris) if (!s.destroyed) s.write('X');
    }, 500);
    await new Promise((r) => setTimeout(r, 1000));
    const results: { status: number; ms: number }[] = [];
    const end = performance.now() + 12_000;
    await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        for (let k = 0; performance.now() < end; k++) {
          const r = await raw(srv.port, (c + k) % 2 === 0 ? get() : post(scan), 5000);
          results.push(r);
          await new Promise((res) => setTimeout(res, 100));
        }
      }),
    );
    running = false;
    clearInterval(drip);
    for (const s of loris) s.destroy();
    const good = results.filter((r) => r.status === 200 && r.ms <= 2000).length;
    expect(results.length).toBeGreaterThan(20);
    expect(good / results.length, JSON.stringify(results.filter((r) => r.status !== 200 || r.ms > 2000).slice(0, 10))).toBeGreaterThanOrEqual(0.95);
  }, 60_000);

  it('keeps predicting while 12 uploads arrive at 1 byte/s, and drops them for their rate', async () => {
    const slow: net.Socket[] = [];
    const closedAt: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 12; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedAt.push(performance.now() - t0));
      s.write(`POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: ${scan.length}\r\n\r\n`);
      slow.push(s);
    }
    const drip = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write(scan.subarray(0, 1));
    }, 1000);
    await new Promise((r) => setTimeout(r, 500));
    const results = [];
    for (let k = 0; k < 6; k++) results.push(await raw(srv.port, post(scan), 5000));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // The slow uploads are dropped for their rate, long before a 30 s request timeout.
    await new Promise((r) => setTimeout(r, 8000));
    clearInterval(drip);
    expect(closedAt.length).toBe(12);
    expect(Math.max(...closedAt)).toBeLessThan(9000);
    for (const s of slow) s.destroy();
  }, 60_000);

  it('answers only its own host names (DNS rebinding) and those allowed', async () => {
    for (const host of ['127.0.0.1', `127.0.0.1:${srv.port}`, `localhost:${srv.port}`, 'mri.example', `MRI.example:${srv.port}`]) {
      expect((await raw(srv.port, get(host))).status, host).toBe(200);
    }
    for (const host of ['evil.example', `evil.example:${srv.port}`, 'attacker.127.0.0.1.nip.io', '']) {
      const r = await raw(srv.port, get(host));
      expect(r.status, host).toBe(host === '' ? 400 : 403);
    }
    expect((await raw(srv.port, `GET / HTTP/1.1\r\nConnection: close\r\n\r\n`)).status).toBe(400);
  });

  it('414 for an over-long URL and 431 for over-long headers', async () => {
    expect((await raw(srv.port, get('127.0.0.1', `/${'a'.repeat(5000)}`))).status).toBe(414);
    expect((await raw(srv.port, get('127.0.0.1', `/${'a'.repeat(40_000)}`))).status).toBe(414);
    const big = `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(40_000)}\r\nConnection: close\r\n\r\n`;
    expect((await raw(srv.port, big)).status).toBe(431);
    expect((await raw(srv.port, get())).status).toBe(200);
  });

  it('`serve start` on a busy port says so in one line', async () => {
    const r = await execa(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(workspaceRoot(), 'packages', 'serve', 'src', 'cli.ts'),
        'start',
        '--model',
        path.join(dir, 'model'),
        '--port',
        String(srv.port),
      ],
      { cwd: workspaceRoot(), reject: false, timeout: 60_000 },
    );
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('[serve]'));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^error: --port ${srv.port}: 127\\.0\\.0\\.1:${srv.port} is already in use`))]);
  }, 90_000);
});
