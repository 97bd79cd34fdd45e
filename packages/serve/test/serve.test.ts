/**
 * The predict server against real requests on 127.0.0.1 (port 0): a good prediction on real scans
 * from ../shared/datasets, and every hostile case (size limit, non-images, corrupt images,
 * decompression bomb, malformed multipart, unknown paths and methods, a full queue), with the
 * server still answering afterwards. Plus the pure parts (multipart parser, queue, model pointers)
 * and the `serve` CLI in a real child process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { selectBackend } from '@mri-robust/model';
import { multipartBoundary, parseMultipart, MultipartError } from '../src/multipart.ts';
import { resolveServeModel } from '../src/pointer.ts';
import { loadPredictHandler, type ModelHandler } from '../src/predictor.ts';
import { createJobQueue, QueueFullError } from '../src/queue.ts';
import { startServer, type PredictHandler, type RunningServer } from '../src/server.ts';
import { trainTinyModel, TINY_CLASSES } from '@mri-robust/model';

const shared = sharedDir();
const scan = (cls: string, name = 'image(1).jpg') => readFileSync(path.join(shared, 'datasets', 'sartaj', 'Testing', cls, name));
const MB = 1024 * 1024;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: () => Record<string, unknown>;
  /** Bytes of the request body the client managed to write. */
  sent: number;
}

/**
 * One request with node:http. `body`: bytes, or `{ stream: total }` to send `total` bytes in 256 KiB
 * chunks without Content-Length (chunked), stopping as soon as the server answers or closes.
 */
function request(
  port: number,
  opts: { method?: string; path?: string; headers?: Record<string, string | number>; body?: Buffer | { stream: number } },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')), sent });
      });
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const b = opts.body;
    if (b === undefined) req.end();
    else if (Buffer.isBuffer(b)) {
      sent = b.length;
      req.end(b);
    } else {
      const chunk = Buffer.alloc(256 * 1024, 0x41);
      const pump = () => {
        while (!answered && !req.destroyed && sent < b.stream) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered && !req.destroyed) req.end();
      };
      pump();
    }
  });
}

function multipart(
  parts: { name: string; filename?: string; type?: string; data: Buffer }[],
  boundary = 'test-boundary-7MA4YWxk',
): { body: Buffer; type: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`),
      p.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

/** A real decompression bomb: a valid 1-bit grey PNG of width × height zero pixels (a few tens of KiB). */
function pngBomb(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc(height * (1 + Math.ceil(width / 8))); // filter byte 0 + zero pixels per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('multipart parser and queue (pure)', () => {
  it('parses fields and files, keeping binary data intact', () => {
    const data = Buffer.from([0, 13, 10, 45, 45, 255, 13, 10]);
    const { body, type } = multipart([
      { name: 'note', data: Buffer.from('hello') },
      { name: 'image', filename: 'scan (1) copy.png', type: 'image/png', data },
    ]);
    const parts = parseMultipart(body, multipartBoundary(type));
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ['note', null, null],
      ['image', 'scan (1) copy.png', 'image/png'],
    ]);
    expect(parts[0].data.toString()).toBe('hello');
    expect(Buffer.compare(parts[1].data, data)).toBe(0);
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b:c"')).toBe('a b:c');
  });
  it('rejects malformed bodies and Content-Types', () => {
    const { body, type } = multipart([{ name: 'image', data: Buffer.from('x') }]);
    const b = multipartBoundary(type);
    expect(() => multipartBoundary('multipart/form-data')).toThrow(MultipartError);
    expect(() => multipartBoundary('multipart/form-data; boundary=')).toThrow(MultipartError);
    expect(() => multipartBoundary(`multipart/form-data; boundary=${'x'.repeat(71)}`)).toThrow(MultipartError);
    expect(() => parseMultipart(body.subarray(0, body.length - 30), b)).toThrow(/not terminated/);
    expect(() => parseMultipart(Buffer.from('no boundary here'), b)).toThrow(/boundary not found/);
    expect(() => parseMultipart(Buffer.from(`--${b}\r\nContent-Disposition form-data\r\n\r\nx\r\n--${b}--`), b)).toThrow(/header line/);
    expect(() => parseMultipart(Buffer.from(`--${b}\r\nContent-Disposition: attachment\r\n\r\nx\r\n--${b}--`), b)).toThrow(/not form-data/);
    const many = multipart(Array.from({ length: 9 }, (_, i) => ({ name: `f${i}`, data: Buffer.from('x') })));
    expect(() => parseMultipart(many.body, multipartBoundary(many.type))).toThrow(/more than 8 parts/);
  });
  it('runs jobs one at a time in order and refuses beyond the waiting limit', async () => {
    const q = createJobQueue(1);
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = q.run(async () => {
      order.push('a start');
      await gate;
      order.push('a end');
      return 1;
    });
    const b = q.run(async () => {
      order.push('b');
      return 2;
    });
    expect(q.size).toBe(2);
    expect(q.full()).toBe(true);
    await expect(q.run(async () => 3)).rejects.toBeInstanceOf(QueueFullError);
    release();
    expect(await Promise.all([a, b])).toEqual([1, 2]);
    expect(order).toEqual(['a start', 'a end', 'b']);
    await expect(q.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run(async () => 4)).toBe(4);
    expect(q.size).toBe(0);
  });
  it('with workers, runs that many at once, starts waiting jobs in order as slots free, refuses beyond the limit', async () => {
    const q = createJobQueue(1, 2);
    const order: string[] = [];
    const gates: Record<string, () => void> = {};
    const job = (name: string) => () =>
      new Promise<string>((resolve) => {
        order.push(`${name} start`);
        gates[name] = () => resolve(name);
      });
    const a = q.run(job('a'));
    const b = q.run(job('b'));
    const c = q.run(job('c'));
    expect(order).toEqual(['a start', 'b start']);
    expect([q.size, q.full()]).toEqual([3, true]);
    await expect(q.run(job('d'))).rejects.toBeInstanceOf(QueueFullError);
    gates.b();
    expect(await b).toBe('b');
    expect(order).toEqual(['a start', 'b start', 'c start']);
    gates.a();
    gates.c();
    expect(await Promise.all([a, c])).toEqual(['a', 'c']);
    expect(q.size).toBe(0);
    expect(() => createJobQueue(1, 0)).toThrow(/workers/);
  });
});

describe('predict server on 127.0.0.1', () => {
  let dir: string;
  let handler: ModelHandler;
  let srv: RunningServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    await selectBackend('auto');
    dir = mkdtempSync(path.join(tmpdir(), 'serve-test-'));
    await trainTinyModel({ outDir: path.join(dir, 'model'), sharedDir: shared, epochs: 6 });
    handler = await loadPredictHandler(path.join(dir, 'model'));
    srv = await startServer(handler, { port: 0, log: (l) => logLines.push(l) });
  });
  afterAll(async () => {
    await srv?.close();
    handler?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('binds 127.0.0.1 and serves the self-contained page with a strict CSP', async () => {
    expect(srv.host).toBe('127.0.0.1');
    const r = await request(srv.port, { path: '/' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    const html = r.body.toString();
    expect(html).toContain('id="file"');
    // Nothing is fetched from elsewhere (the SVG namespace URI is an identifier, not a fetch).
    expect(html.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img[^>]+src=|https?:\/\/|\/\/cdn/);
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect((await request(srv.port, { path: '/?from=bookmark' })).status).toBe(200);
    const head = await request(srv.port, { method: 'HEAD', path: '/' });
    expect([head.status, head.body.length]).toEqual([200, 0]);
  });

  it('predicts real scans (raw body and multipart agree): class, calibrated probabilities, Grad-CAM PNG', async () => {
    for (const cls of ['glioma_tumor', 'meningioma_tumor', 'no_tumor', 'pituitary_tumor']) {
      const img = scan(cls);
      const raw = await request(srv.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/jpeg' }, body: img });
      expect(raw.status).toBe(200);
      const j = raw.json();
      expect(TINY_CLASSES).toContain(j.class);
      const probs = j.probabilities as Record<string, number>;
      expect(Object.keys(probs)).toEqual([...TINY_CLASSES]);
      expect(Object.values(probs).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(Math.max(...Object.values(probs))).toBe(probs[j.class as string]);
      expect(j.gradcam).toMatch(/^data:image\/png;base64,/);
      const png = Buffer.from((j.gradcam as string).split(',')[1], 'base64');
      const meta = await sharp(png).metadata();
      // Shown at the upload's aspect ratio (padding removed), longer side 224.
      const src = await sharp(img).metadata();
      expect([meta.format, Math.max(meta.width!, meta.height!)]).toEqual(['png', 224]);
      expect(Math.abs(meta.width! / meta.height! - src.width! / src.height!)).toBeLessThan(0.03);
      const form = multipart([{ name: 'image', filename: '../../../etc/evil (1).jpg', type: 'image/jpeg', data: img }]);
      const mp = await request(srv.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': form.type }, body: form.body });
      expect(mp.status).toBe(200);
      expect(mp.json().probabilities).toEqual(probs);
      expect(mp.json().gradcam).toBe(j.gradcam);
    }
    expect(existsSync('/etc/evil (1).jpg')).toBe(false);
    // A PNG upload works too.
    const png = await sharp(scan('glioma_tumor')).png().toBuffer();
    expect((await request(srv.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/png' }, body: png })).status).toBe(200);
  });

  it('413 for an upload over 10 MB declared by Content-Length, before reading it', async () => {
    const r = await request(srv.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/jpeg' }, body: Buffer.alloc(10 * MB + 1, 0xff) });
    expect(r.status).toBe(413);
    expect(r.json().error).toMatch(/limit of 10485760 bytes/);
  });

  it('413 for a chunked upload growing past the limit, aborted long before the client finishes', async () => {
    const total = 200 * MB;
    const r = await request(srv.port, {
      method: 'POST',
      path: '/predict',
      headers: { 'Content-Type': 'image/jpeg', 'Transfer-Encoding': 'chunked' },
      body: { stream: total },
    });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe('close');
    expect(r.sent).toBeLessThan(total / 2);
  });

  it('400 with a message for non-images, empty bodies and corrupt images', async () => {
    const post = (body: Buffer, type = 'application/octet-stream') =>
      request(srv.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': type }, body });
    const text = await post(Buffer.from('name,value\nnot,an image\n'), 'text/csv');
    expect(text.status).toBe(400);
    expect(text.json().error).toMatch(/not a JPEG or PNG/);
    const gif = await post(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'));
    expect([gif.status, gif.json().error]).toEqual([400, expect.stringMatching(/not a JPEG or PNG/)]);
    const empty = await post(Buffer.alloc(0));
    expect([empty.status, empty.json().error]).toEqual([400, expect.stringMatching(/empty/)]);
    const jpg = scan('pituitary_tumor');
    const truncated = await post(jpg.subarray(0, Math.floor(jpg.length / 2)), 'image/jpeg');
    expect(truncated.status).toBe(400);
    expect(truncated.json().error).toMatch(/JPEG/);
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 0x5a)]);
    const g = await post(garbage, 'image/jpeg');
    expect([g.status, g.json().error]).toEqual([400, expect.stringMatching(/corrupt JPEG/)]);
    const badPng = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 7)]);
    const p = await post(badPng, 'image/png');
    expect([p.status, p.json().error]).toEqual([400, expect.stringMatching(/PNG/)]);
  });

  it('refuses a decompression bomb by its pixel count, without inflating it', async () => {
    const bomb = pngBomb(30_000, 30_000);
    expect(bomb.length).toBeLessThan(1 * MB);
    const r = await request(srv.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/png' }, body: bomb });
    expect(r.status).toBe(413);
    expect(r.json().error).toMatch(/30000×30000 px exceeds the pixel limit/);
  });

  it('400 for malformed multipart bodies', async () => {
    const post = (body: Buffer, type: string) => request(srv.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': type }, body });
    const good = multipart([{ name: 'image', filename: 'a.jpg', data: scan('glioma_tumor') }]);
    const cases: [Buffer, string, RegExp][] = [
      [good.body, 'multipart/form-data', /without a boundary/],
      [good.body.subarray(0, 2000), good.type, /not terminated/],
      [Buffer.from('just text'), good.type, /boundary not found/],
      [multipart([{ name: 'file', filename: 'a.jpg', data: scan('glioma_tumor') }]).body, good.type, /no 'image' field/],
    ];
    for (const [body, type, re] of cases) {
      const r = await post(body, type);
      expect(r.status).toBe(400);
      expect(r.json().error).toMatch(re);
    }
  });

  it('serves nothing else: 404 for other paths (no file system), 405 for other methods', async () => {
    for (const p of [
      '/index.html',
      '/package.json',
      '/../package.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '//predict',
      '/predict/',
      '/PREDICT',
      '/favicon.ico',
      '/predict/../../nx.json',
    ]) {
      const r = await request(srv.port, { path: p });
      expect([p, r.status]).toEqual([p, 404]);
    }
    const del = await request(srv.port, { method: 'DELETE', path: '/' });
    expect([del.status, del.headers.allow]).toEqual([405, 'GET, HEAD']);
    const get = await request(srv.port, { path: '/predict' });
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
    const put = await request(srv.port, { method: 'PUT', path: '/predict', body: scan('glioma_tumor') });
    expect(put.status).toBe(405);
  });

  it('survives garbage on the socket and answers 400 to a broken request line', async () => {
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write('\x16\x03\x01 not http at all\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    const bad = await new Promise<string>((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', () => resolve(data));
    });
    expect(bad).toMatch(/^HTTP\/1\.1 400/);
    expect((await request(srv.port, { path: '/' })).status).toBe(200);
  });

  it('503 when the prediction queue is full; the queued ones are still answered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gated: PredictHandler = { ...handler, predict: async (img) => (await gate, handler.predict(img)) };
    const busy = await startServer(gated, { port: 0, queueLimit: 1 });
    try {
      const post = () => request(busy.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/jpeg' }, body: scan('no_tumor') });
      const first = post();
      const second = post();
      for (let i = 0; i < 200 && busy.pending() < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(busy.pending()).toBe(2);
      const third = await post();
      expect(third.status).toBe(503);
      expect(third.headers['retry-after']).toBe('2');
      expect(third.json().error).toMatch(/busy/);
      release();
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
    } finally {
      release();
      await busy.close();
    }
  });

  it('503 before reading the body when too many uploads are in flight', async () => {
    const small = await startServer(handler, { port: 0, maxInFlight: 1 });
    const hanging = http.request({
      host: '127.0.0.1',
      port: small.port,
      method: 'POST',
      path: '/predict',
      headers: { 'Content-Type': 'image/jpeg', 'Transfer-Encoding': 'chunked' },
      agent: false,
    });
    hanging.on('error', () => {});
    hanging.write(scan('glioma_tumor').subarray(0, 1000));
    try {
      let refused: Reply | null = null;
      for (let i = 0; i < 100 && !refused; i++) {
        const r = await request(small.port, { method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/jpeg' }, body: scan('no_tumor') });
        if (r.status === 503) refused = r;
        else await new Promise((res) => setTimeout(res, 20));
      }
      expect(refused?.json().error).toMatch(/busy/);
    } finally {
      hanging.destroy();
      await small.close();
    }
  });

  it('is still up and predicting after all of the above', async () => {
    const r = await request(srv.port, {
      method: 'POST',
      path: '/predict',
      headers: { 'Content-Type': 'image/jpeg' },
      body: scan('meningioma_tumor', 'image(2).jpg'),
    });
    expect(r.status).toBe(200);
    expect(logLines.filter((l) => /^error on/.test(l))).toEqual([]);
  });
});

describe('which model to serve', () => {
  let runs: string;
  beforeAll(() => {
    runs = mkdtempSync(path.join(tmpdir(), 'serve-pointer-'));
  });
  afterAll(() => rmSync(runs, { recursive: true, force: true }));

  it('follows runs/trials/latest.json → <sweep>/best.json, and explains what is missing', () => {
    const root = workspaceRoot();
    expect(() => resolveServeModel({ runsDir: runs, root })).toThrow(/latest\.json does not exist: no sweep has run yet/);
    mkdirSync(path.join(runs, 'trials', 's1', 't3', 'model'), { recursive: true });
    writeFileSync(path.join(runs, 'trials', 'latest.json'), JSON.stringify({ sweep: 's1' }));
    expect(() => resolveServeModel({ runsDir: runs, root })).toThrow(/s1[/\\]best\.json does not exist: sweep s1 has no best trial/);
    writeFileSync(path.join(runs, 'trials', 's1', 'best.json'), JSON.stringify({ trial: 't3', modelDir: 't3/model' }));
    expect(() => resolveServeModel({ runsDir: runs, root })).toThrow(/holds no saved model/);
    writeFileSync(path.join(runs, 'trials', 's1', 't3', 'model', 'metadata.json'), '{}');
    const c = resolveServeModel({ runsDir: runs, root });
    expect(c.modelDir).toBe(path.join(runs, 'trials', 's1', 't3', 'model'));
    expect([c.sweep, c.trial]).toEqual(['s1', 't3']);
    expect(resolveServeModel({ runsDir: runs, root, sweep: 's1' }).modelDir).toBe(c.modelDir);
    expect(() => resolveServeModel({ runsDir: runs, root, sweep: '../etc' })).toThrow(/not a valid id/);
    writeFileSync(path.join(runs, 'trials', 'latest.json'), JSON.stringify({ sweep: '../../x' }));
    expect(() => resolveServeModel({ runsDir: runs, root })).toThrow(/not a valid id/);
    expect(() => resolveServeModel({ runsDir: runs, root, model: 'a', sweep: 'b' })).toThrow(/not both/);
  });

  it("`cli.ts start` (serve:start) starts on 127.0.0.1 with the latest sweep's best model and stops on SIGTERM", async () => {
    const modelDir = path.join(runs, 'trials', 's2', 'best-model');
    await selectBackend('auto');
    await trainTinyModel({ outDir: modelDir, sharedDir: shared, epochs: 1, perClass: 4 });
    writeFileSync(path.join(runs, 'trials', 'latest.json'), JSON.stringify({ sweep: 's2' }));
    writeFileSync(path.join(runs, 'trials', 's2', 'best.json'), JSON.stringify({ trial: 't1', modelDir }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'packages/serve/src/cli.ts', 'start', '--runs', runs, '--port', '0'], {
      cwd: workspaceRoot(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let err = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
      });
      expect(err).toMatch(/best trial of the latest sweep \(s2\), trial t1/);
      const port = Number(new URL(url).port);
      const r = await request(port, { method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/jpeg' }, body: scan('glioma_tumor') });
      expect(r.status).toBe(200);
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
