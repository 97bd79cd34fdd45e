/**
 * Copies a folder (a trained model) from a worker's runs folder to the orchestrator through Redis:
 * the orchestrator pushes a request on the worker's fetch list; the worker answers on a reply list
 * with a manifest (every file's relative path, size and sha256), then the bytes in chunks, then an
 * end mark. The receiver writes into a temp folder beside the target, checks every file's size and
 * hash against the manifest, and only then renames it into place. The worker serves only folders
 * inside its own `runs/trials/`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { hashFile, hashObject, UserError } from '@mri-robust/core';
import { keys, KEY_TTL_S } from './protocol.ts';

export const CHUNK_BYTES = 1 << 20;
/** The sender waits while this many chunks are unread. */
const WINDOW = 8;

interface FetchRequest {
  requestId: string;
  /** Absolute folder on the worker (a job result's modelDir). */
  dir: string;
}

export interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface Header {
  type: 'manifest' | 'chunk' | 'end' | 'error';
  files?: ManifestEntry[];
  hash?: string;
  file?: number;
  offset?: number;
  message?: string;
}

/** One reply message: a JSON header line, then the bytes (exported for tests). */
export function frame(h: Header, data?: Buffer): Buffer {
  const head = Buffer.from(`${JSON.stringify(h)}\n`);
  return data ? Buffer.concat([head, data]) : head;
}

function unframe(b: Buffer): { h: Header; data: Buffer } {
  const nl = b.indexOf(10);
  return { h: JSON.parse(b.subarray(0, nl).toString('utf8')) as Header, data: b.subarray(nl + 1) };
}

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const f = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...listFiles(f, base));
    else if (d.isFile()) out.push(path.relative(base, f));
  }
  return out;
}

/** Manifest hash: over every entry, in order. */
export const manifestHash = (files: ManifestEntry[]): string => hashObject(files);

/** Worker side: answers one request (called for each request popped from the fetch list). */
export async function serveFetch(redis: Redis, queue: string, runsDir: string, raw: string): Promise<void> {
  let req: FetchRequest;
  try {
    req = JSON.parse(raw) as FetchRequest;
    if (typeof req.requestId !== 'string' || !/^[A-Za-z0-9_.-]{1,200}$/.test(req.requestId) || typeof req.dir !== 'string') throw new Error('bad request');
  } catch {
    return; // not ours to answer: no reply list is named
  }
  const reply = keys.reply(queue, req.requestId);
  const push = async (b: Buffer) => {
    await redis.rpush(reply, b);
    await redis.expire(reply, 3600);
  };
  try {
    const root = path.resolve(runsDir, 'trials');
    const dir = path.resolve(req.dir);
    if (!dir.startsWith(root + path.sep)) throw new UserError(`${req.dir} is not inside this worker's ${root}`);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`${req.dir} does not exist on this worker`);
    const rel = listFiles(dir);
    const files: ManifestEntry[] = [];
    for (const r of rel) {
      const f = path.join(dir, r);
      files.push({ path: r.split(path.sep).join('/'), size: fs.statSync(f).size, sha256: await hashFile(f) });
    }
    await push(frame({ type: 'manifest', files, hash: manifestHash(files) }));
    for (let i = 0; i < files.length; i++) {
      const fd = fs.openSync(path.join(dir, rel[i]), 'r');
      try {
        for (let offset = 0; offset < files[i].size; offset += CHUNK_BYTES) {
          while ((await redis.llen(reply)) >= WINDOW) await new Promise((r) => setTimeout(r, 20));
          const buf = Buffer.alloc(Math.min(CHUNK_BYTES, files[i].size - offset));
          fs.readSync(fd, buf, 0, buf.length, offset);
          await push(frame({ type: 'chunk', file: i, offset }, buf));
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    await push(frame({ type: 'end' }));
  } catch (e) {
    await push(frame({ type: 'error', message: (e as Error).message }));
  }
}

export interface FetchOptions {
  /** A connection for the request; `blocking` for the replies. */
  redis: Redis;
  blocking: Redis;
  queue: string;
  fetchKey: string;
  requestId: string;
  /** The worker's folder to copy. */
  dir: string;
  /** Where it goes here; replaced only once the copy is complete and checked. */
  dest: string;
  /** How long to wait for the worker's first answer and between chunks. */
  timeoutS: number;
  /** What the worker is called in errors. */
  who: string;
}

/** Orchestrator side: copies the folder and checks it; returns the manifest hash and byte count. */
export async function fetchFolder(o: FetchOptions): Promise<{ hash: string; files: number; bytes: number }> {
  const reply = keys.reply(o.queue, o.requestId);
  await o.redis.del(reply);
  const req = keys.fetch(o.queue, o.fetchKey);
  await o.redis.rpush(req, JSON.stringify({ requestId: o.requestId, dir: o.dir } satisfies FetchRequest));
  await o.redis.expire(req, KEY_TTL_S);
  const tmp = `${o.dest}.part-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const next = async (): Promise<{ h: Header; data: Buffer }> => {
    const r = await o.blocking.blpopBuffer(reply, o.timeoutS);
    if (!r) {
      throw new UserError(`${o.who} did not answer within ${o.timeoutS} s (is it still running?); the folder stays there: ${o.dir}`);
    }
    return unframe(r[1]);
  };
  try {
    const first = await next();
    if (first.h.type === 'error') throw new UserError(`${o.who}: ${first.h.message}`);
    if (first.h.type !== 'manifest' || !first.h.files) throw new UserError(`${o.who}: unexpected answer ${first.h.type}`);
    const files = first.h.files;
    if (manifestHash(files) !== first.h.hash) throw new UserError(`${o.who}: the manifest of ${o.dir} does not match its hash`);
    const fds = files.map((f) => {
      const target = path.resolve(tmp, f.path);
      if (!target.startsWith(path.resolve(tmp) + path.sep)) throw new UserError(`${o.who}: manifest path ${f.path} leaves the folder`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      return fs.openSync(target, 'w');
    });
    let bytes = 0;
    try {
      for (;;) {
        const { h, data } = await next();
        if (h.type === 'end') break;
        if (h.type === 'error') throw new UserError(`${o.who}: ${h.message}`);
        if (h.type !== 'chunk' || h.file === undefined || h.offset === undefined || !fds[h.file]) throw new UserError(`${o.who}: bad chunk`);
        fs.writeSync(fds[h.file], data, 0, data.length, h.offset);
        bytes += data.length;
      }
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
    for (const f of files) {
      const p = path.join(tmp, f.path);
      const size = fs.statSync(p).size;
      const sha = await hashFile(p);
      if (size !== f.size || sha !== f.sha256) {
        throw new UserError(
          `copy of ${o.dir}/${f.path} from ${o.who} is damaged (${size} bytes, sha256 ${sha.slice(0, 12)}; expected ${f.size}, ${f.sha256.slice(0, 12)})`,
        );
      }
    }
    fs.rmSync(o.dest, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(o.dest), { recursive: true });
    fs.renameSync(tmp, o.dest);
    return { hash: first.h.hash!, files: files.length, bytes };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    await o.redis.del(reply);
  }
}
