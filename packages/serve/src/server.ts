/**
 * The predict server (node:http only). Routes, matched on the raw request path (no decoding, no
 * file system: the page is a string in memory):
 *   GET|HEAD /        the page
 *   POST /predict     an image → JSON { class, probabilities, gradcam, ... }
 *   anything else     404 (unknown path) or 405 (known path, wrong method)
 * POST /predict takes either `multipart/form-data` with the image in the field `image`, or the raw
 * image bytes as the body (any other Content-Type, e.g. image/jpeg). Limits: body size (413, refused
 * from Content-Length before reading, or while streaming), pixel count (413), JPEG/PNG only (400),
 * `workers` predictions at a time (default 1) with a bounded wait queue (503, checked once the whole
 * body is in, so slow uploads never hold a prediction slot). Errors are JSON `{ error }`.
 *
 * Hostile clients (connections.ts): only the host names the server is bound to (and `allowHosts`)
 * are answered (403 otherwise: DNS rebinding); over-long URLs get 414 and headers 431; headers must
 * arrive within `headersTimeoutMs` and a body faster than `minBodyBytesPerSecond`; connections are
 * capped per client address and in all, and a new connection over a cap takes the place of the
 * oldest one that has no request in progress (slow-loris connections trickling headers), so a normal
 * request is served while slow clients are being dropped.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { BodyReadError, BodyTooLargeError, BodyTooSlowError, checkDeclaredLength, readBody } from './body.ts';
import { allowedHosts, ConnectionGuard, hostAllowed } from './connections.ts';
import { MultipartError, multipartBoundary, parseMultipart } from './multipart.ts';
import { renderPage } from './page.ts';
import { ImageInputError, type ModelProvenance } from '@mri-robust/model';
import { QueueFullError, createJobQueue } from './queue.ts';

export interface PredictResponse {
  class: string;
  /** Calibrated probability per class name, in the model's class order. */
  probabilities: Record<string, number>;
  /** The Grad-CAM overlay, `data:image/png;base64,...`. */
  gradcam: string;
  [extra: string]: unknown;
}

/** One member of an ensemble served as the model (listed on the page). */
export interface EnsembleMemberInfo {
  dir: string;
  experiment: string;
  sweep: string | null;
  trial: string | null;
  backbone: string;
  temperature: number;
  /** Clean test accuracy with its CI, formatted; null when metadata.json does not record it. */
  cleanAccuracy: string | null;
}

/** What the server needs from a model: class names, a description and a prediction function. */
export interface PredictHandler {
  classes: string[];
  description: string;
  /** Where the model comes from, shown on the page (predictor.ts fills it from metadata.json). */
  provenance?: ModelProvenance;
  /** Several models answering as one: the members and how their answers are combined. */
  members?: EnsembleMemberInfo[];
  combination?: string;
  /** Throws ImageInputError for unusable images; anything else is a server error (500). */
  predict(image: Uint8Array): Promise<PredictResponse>;
}

export interface ServerOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** Upload size limit in bytes (default 10 MB). */
  maxUploadBytes?: number;
  /** Predictions allowed to wait behind the running ones (default 8); more → 503. */
  queueLimit?: number;
  /** Predictions run at once (default 1; `serve:start` runs one per core). The handler must allow it. */
  workers?: number;
  /**
   * Uploads received at once (default 16); more → 503 before their body is read. Bounds the memory
   * held by uploads to about this × the size limit. A prediction slot is taken only once a body is in.
   */
  maxInFlight?: number;
  /** Whole-request timeout in ms (default 30 s): a slow client cannot hold a connection forever. */
  requestTimeoutMs?: number;
  /** Time to receive a request's headers, in ms (default 10 s). */
  headersTimeoutMs?: number;
  /** A body slower than this on average (after `bodyGraceMs`, default 2 s) is dropped (default 4096 bytes/s). */
  minBodyBytesPerSecond?: number;
  bodyGraceMs?: number;
  /** Most simultaneous connections (default 128) and per client address (default 32). */
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  /** Host names answered besides those the server is bound to (e.g. a name in /etc/hosts). */
  allowHosts?: string[];
  /** Longest request target (default 2048) → 414; longest header section (default 16 KiB) → 431. */
  maxUrlLength?: number;
  maxHeaderBytes?: number;
  title?: string;
  /** One line per request / error (default: nothing). */
  log?: (line: string) => void;
}

export interface RunningServer {
  server: http.Server;
  url: string;
  port: number;
  host: string;
  /** Predictions running plus waiting. */
  pending(): number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
/** How long a refused upload's connection is kept (paused) so the client can read the answer. */
const UNREAD_BODY_GRACE_MS = 1000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Encoded once: an answer is ~150 KB of base64 PNGs, and a string would be measured, then encoded again.
  const data = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': data.length,
    ...headers,
  });
  res.end(data);
}

/** The image bytes of a POST /predict body: the `image` part of a multipart form, or the body itself. */
function extractImage(body: Buffer, contentType: string | undefined): Buffer {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'multipart/form-data') return body;
  const parts = parseMultipart(body, multipartBoundary(contentType as string));
  const image = parts.find((p) => p.name === 'image');
  if (!image) throw new MultipartError("the multipart form has no 'image' field");
  return image.data;
}

export async function startServer(handler: PredictHandler, opts: ServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const maxBytes = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const queueLimit = opts.queueLimit ?? 8;
  const queue = createJobQueue(queueLimit, opts.workers ?? 1);
  const maxInFlight = opts.maxInFlight ?? 16;
  const maxUrl = opts.maxUrlLength ?? 2048;
  const rate = { minBytesPerSecond: opts.minBodyBytesPerSecond ?? 4096, graceMs: opts.bodyGraceMs ?? 2000 };
  let hosts = new Set<string>();
  let inFlight = 0;
  const log = opts.log ?? (() => {});
  const page = renderPage({
    title: opts.title ?? 'Brain MRI tumour classifier',
    classes: handler.classes,
    maxUploadBytes: maxBytes,
    model: handler.description,
    provenance: handler.provenance,
    members: handler.members,
    combination: handler.combination,
  });
  const pageBytes = Buffer.from(page.html, 'utf8');

  const servePage = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': pageBytes.length,
      'Content-Security-Policy': page.csp,
      'X-Frame-Options': 'DENY',
    });
    res.end(req.method === 'HEAD' ? undefined : pageBytes);
  };

  const predict = async (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    if (inFlight >= maxInFlight) throw new QueueFullError(queueLimit);
    checkDeclaredLength(req, maxBytes);
    inFlight++;
    let body: Buffer;
    try {
      body = await readBody(req, maxBytes, rate);
    } finally {
      inFlight--;
    }
    const image = extractImage(body, req.headers['content-type']);
    const result = await queue.run(() => handler.predict(image));
    sendJson(res, 200, { ...result, ms: Math.round(performance.now() - t0) });
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    const rawPath = (req.url ?? '').split('?')[0];
    res.on('finish', () => log(`${req.method} ${rawPath.slice(0, 200)} ${res.statusCode} ${Math.round(performance.now() - t0)}ms`));
    res.on('error', (e) => log(`response error: ${e.message}`));
    req.on('error', (e) => log(`request error: ${e.message}`));
    const route = async () => {
      if ((req.url ?? '').length > maxUrl) throw new HttpError(414, `request target longer than ${maxUrl} characters`);
      const host = req.headers.host;
      if (!host) throw new HttpError(400, 'a Host header is required');
      if (!hostAllowed(host, hosts)) {
        throw new HttpError(403, `host ${JSON.stringify(host.slice(0, 100))} is not served here; to allow it, start the server with --allow-host NAME`);
      }
      if (rawPath === '/') {
        if (req.method === 'GET' || req.method === 'HEAD') return servePage(req, res);
        throw new HttpError(405, `${req.method} is not allowed on /`, { Allow: 'GET, HEAD' });
      }
      if (rawPath === '/predict') {
        if (req.method === 'POST') return predict(req, res);
        throw new HttpError(405, `${req.method} is not allowed on /predict`, { Allow: 'POST' });
      }
      throw new HttpError(404, 'not found');
    };
    route().catch((e: unknown) => {
      let status = 500;
      let message = 'internal error';
      let headers: Record<string, string> = {};
      if (e instanceof HttpError) [status, message, headers] = [e.status, e.message, e.headers];
      else if (e instanceof BodyTooLargeError) [status, message] = [413, e.message];
      else if (e instanceof ImageInputError) [status, message] = [e.status, e.message];
      else if (e instanceof MultipartError) [status, message] = [400, e.message];
      else if (e instanceof BodyReadError) [status, message] = [400, e.message];
      else if (e instanceof BodyTooSlowError) [status, message] = [408, e.message];
      else if (e instanceof QueueFullError) [status, message, headers] = [503, e.message, { 'Retry-After': '2' }];
      else log(`error on ${req.method} ${rawPath.slice(0, 200)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (req.complete) return sendJson(res, status, { error: message }, headers);
      // The body is still arriving (413, early refusals): do not read the rest. The request stays
      // paused (TCP backpressure stops the client), the complete answer (Content-Length) is written
      // without ending the response — ending it would make Node drain the body or reset the
      // connection before the client reads the answer — and the connection is dropped shortly after.
      req.pause();
      if (res.headersSent) return void req.socket.destroy();
      const data = JSON.stringify({ error: message });
      res.writeHead(status, {
        ...SECURITY_HEADERS,
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(data),
        Connection: 'close',
        ...headers,
      });
      res.write(data);
      log(`${req.method} ${rawPath.slice(0, 200)} ${status} (body not read) ${Math.round(performance.now() - t0)}ms`);
      setTimeout(() => req.socket.destroy(), UNREAD_BODY_GRACE_MS).unref();
    });
  };

  const server = http.createServer(
    {
      requestTimeout: opts.requestTimeoutMs ?? 30_000,
      headersTimeout: opts.headersTimeoutMs ?? 10_000,
      // Node checks the two timeouts above this often (default 30 s, so a 10 s limit freed nothing for 30 s).
      connectionsCheckingInterval: 500,
      maxHeaderSize: opts.maxHeaderBytes ?? 16 * 1024,
    },
    onRequest,
  );
  const guard = new ConnectionGuard(server, {
    maxConnections: opts.maxConnections ?? 128,
    maxPerAddress: opts.maxConnectionsPerAddress ?? 32,
    log,
  });
  server.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
    log(`client error: ${err.code ?? ''} ${err.message}`);
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    let status = '400 Bad Request';
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      // The request line alone too long (or not even finished) → 414, else the headers → 431.
      const packet = err.rawPacket?.toString('latin1') ?? '';
      const eol = packet.indexOf('\r\n');
      status = eol < 0 || eol > maxUrl ? '414 URI Too Long' : '431 Request Header Fields Too Large';
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') status = '408 Request Timeout';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  server.on('error', (e) => log(`server error: ${e.message}`));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  hosts = allowedHosts(host, addr.address, opts.allowHosts ?? []);
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    host: addr.address,
    port: addr.port,
    url: `http://${urlHost}:${addr.port}/`,
    pending: () => queue.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        guard.destroyAll();
      }),
  };
}
