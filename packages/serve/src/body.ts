/**
 * Reading a request body with a hard size limit: a declared Content-Length above the limit is
 * refused before a byte is read, and a body that grows past the limit while streaming is refused
 * as soon as it does — the request is paused and the bytes already received are dropped, so an
 * oversized upload never sits whole in memory.
 */
import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`upload larger than the limit of ${limit} bytes`);
  }
}

export class BodyReadError extends Error {
  override readonly name = 'BodyReadError';
}

/** The body arrived slower than the minimum rate (a slow upload holding a connection). */
export class BodyTooSlowError extends Error {
  override readonly name = 'BodyTooSlowError';
  constructor(readonly minBytesPerSecond: number) {
    super(`upload slower than ${minBytesPerSecond} bytes/s; dropped`);
  }
}

export interface BodyRate {
  /** Average bytes/s the body must keep up, measured from its start (0: no minimum). */
  minBytesPerSecond: number;
  /** Milliseconds before the rate is first checked (a connection's slow start). */
  graceMs: number;
}

/** Throws BodyTooLargeError when Content-Length declares more than `limit` bytes (or is invalid → BodyReadError). */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const v = req.headers['content-length'];
  if (v === undefined) return;
  if (!/^\d+$/.test(v)) throw new BodyReadError(`invalid Content-Length '${v}'`);
  if (Number(v) > limit) throw new BodyTooLargeError(limit);
}

export function readBody(req: IncomingMessage, limit: number, rate: BodyRate = { minBytesPerSecond: 0, graceMs: 0 }): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const t0 = performance.now();
    // The rate counts only time the server was listening. A prediction runs on this thread and can
    // hold it for seconds; the bytes that arrived meanwhile are delivered after the timers run, so a
    // tick that fires late skips its check and the stall is not charged to the client.
    const every = Math.max(50, Math.min(500, rate.graceMs / 2));
    let last = t0;
    let stalled = 0;
    const check =
      rate.minBytesPerSecond > 0
        ? setInterval(() => {
            const now = performance.now();
            const late = now - last - every;
            last = now;
            if (late > every / 2) {
              stalled += late;
              return;
            }
            const s = (now - t0 - stalled) / 1000;
            if (s * 1000 >= rate.graceMs && size / s < rate.minBytesPerSecond) finish(new BodyTooSlowError(rate.minBytesPerSecond));
          }, every)
        : null;
    const finish = (err: Error | null, value?: Buffer) => {
      if (done) return;
      done = true;
      if (check) clearInterval(check);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) {
        chunks.length = 0;
        req.pause();
        reject(err);
      } else resolve(value as Buffer);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(new BodyTooLargeError(limit));
      else chunks.push(chunk);
    };
    const onEnd = () => finish(null, Buffer.concat(chunks, size));
    const onError = (e: Error) => finish(new BodyReadError(`request body: ${e.message}`));
    const onAborted = () => finish(new BodyReadError('request aborted by the client'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
