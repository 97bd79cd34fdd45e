/**
 * readBody's minimum upload rate: a client trickling its body is dropped, and a client whose body
 * arrived while the server's thread was busy (a prediction runs on it) is not — the stall is the
 * server's, not the client's. Real sockets on 127.0.0.1.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyTooSlowError, readBody } from '../src/body.ts';

let server: http.Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A server whose handler starts readBody, then (optionally) holds the thread `blockMs`; resolves with the outcome. */
function serveOnce(blockMs: number): Promise<{ port: number; outcome: Promise<string> }> {
  let settle!: (s: string) => void;
  const outcome = new Promise<string>((r) => (settle = r));
  server = http.createServer((req, res) => {
    readBody(req, 1 << 20, { minBytesPerSecond: 4096, graceMs: 200 }).then(
      (b) => {
        settle(`read ${b.length}`);
        res.end('ok');
      },
      (e: Error) => {
        settle(e instanceof BodyTooSlowError ? 'too slow' : e.message);
        res.destroy();
      },
    );
    const until = performance.now() + blockMs;
    while (performance.now() < until); // a synchronous forward pass holding the thread
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve({ port: (server!.address() as AddressInfo).port, outcome })));
}

function send(port: number, body: Buffer, pieces: number, gapMs: number): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  const size = Math.ceil(body.length / pieces);
  let i = 0;
  // One piece at a time (a trickle of 600 pieces a second apart must not leave 600 timers behind).
  const next = () => {
    if (s.destroyed || i >= pieces) return;
    s.write(body.subarray(i * size, ++i * size));
    timer = setTimeout(next, gapMs);
  };
  let timer = setTimeout(next, 100);
  s.on('close', () => clearTimeout(timer));
  return s;
}

describe('readBody minimum rate', () => {
  it('does not drop a body that arrived while the server thread was busy for 1.5 s', async () => {
    const { port, outcome } = await serveOnce(1500);
    const s = send(port, Buffer.alloc(60_000, 7), 1, 0);
    expect(await outcome).toBe('read 60000');
    s.destroy();
  });

  it('still drops a body trickling below the rate', async () => {
    const { port, outcome } = await serveOnce(0);
    const slow = send(port, Buffer.alloc(60_000, 7), 600, 1000); // 100 bytes a second
    expect(await outcome).toBe('too slow');
    slow.destroy();
  });
});
