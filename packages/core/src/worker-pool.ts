import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, Worker } from 'node:worker_threads';

/**
 * A small pool of worker threads running a TypeScript module's exported `handle(request)`.
 *
 * Workers load TypeScript through tsx's ESM loader (registered inside each worker, so it works from
 * `node --import tsx`, from vitest and from plain node alike). With `size: 0` the handler runs in
 * the calling thread, which keeps small jobs and tests cheap. Typed arrays in requests and results
 * are transferred, not copied.
 */

export interface WorkerHandlerModule<Req, Res> {
  handle(request: Req): Res | Promise<Res>;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string; stack?: string };

/** Default worker count: the cores Node reports, at least 1 (override with MRI_WORKERS). */
export function defaultWorkerCount(): number {
  const env = Number(process.env.MRI_WORKERS);
  if (Number.isInteger(env) && env >= 0) return env;
  return Math.max(1, availableParallelism());
}

/** Every transferable ArrayBuffer reachable in a value (arrays and plain objects, a few levels deep). */
function transferablesOf(value: unknown, depth = 4, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (value === null || typeof value !== 'object' || depth < 0) return out;
  if (ArrayBuffer.isView(value)) {
    const buf = value.buffer;
    if (buf instanceof ArrayBuffer && !out.includes(buf) && buf.byteLength > 0) out.push(buf);
    return out;
  }
  if (Array.isArray(value)) for (const v of value) transferablesOf(v, depth - 1, out);
  else for (const v of Object.values(value as Record<string, unknown>)) transferablesOf(v, depth - 1, out);
  return out;
}

function tsxApiUrl(): string {
  const req = createRequire(import.meta.url);
  return pathToFileURL(path.join(path.dirname(req.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export class WorkerPool<Req, Res> {
  private slots: Slot[] = [];
  private queue: { id: number; request: Req; resolve: (r: Res) => void; reject: (e: Error) => void }[] = [];
  private waiting = new Map<number, { resolve: (r: Res) => void; reject: (e: Error) => void; slot: Slot }>();
  private nextId = 0;
  private inline: WorkerHandlerModule<Req, Res> | null = null;
  private closed = false;
  /** Set when a worker died: every later request fails with it instead of waiting forever. */
  private broken: Error | null = null;

  private constructor(readonly size: number) {}

  /** Starts `size` workers on the module at `entry` (a file URL or path); size 0 runs inline. */
  static async start<Req, Res>(entry: URL | string, size = defaultWorkerCount()): Promise<WorkerPool<Req, Res>> {
    const href = entry instanceof URL ? entry.href : entry.startsWith('file:') ? entry : pathToFileURL(entry).href;
    const pool = new WorkerPool<Req, Res>(size);
    if (size === 0) {
      pool.inline = (await import(href)) as WorkerHandlerModule<Req, Res>;
      return pool;
    }
    const self = import.meta.url;
    const code =
      `import(${JSON.stringify(tsxApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(self)}); })` +
      `.then((p) => p.serveWorker(${JSON.stringify(href)}));`;
    for (let i = 0; i < size; i++) {
      const worker = new Worker(code, { eval: true });
      const slot: Slot = { worker, busy: false };
      worker.on('message', (m: Reply) => pool.onReply(slot, m));
      worker.on('error', (e) => pool.failAll(e instanceof Error ? e : new Error(String(e))));
      worker.on('exit', (code) => {
        if (!pool.closed) pool.failAll(new Error(`worker thread exited with code ${code}`));
      });
      pool.slots.push(slot);
    }
    return pool;
  }

  /** Runs one request; results of concurrent calls come back in any order (await them in yours). */
  run(request: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    if (this.inline) {
      const h = this.inline;
      return Promise.resolve().then(() => h.handle(request));
    }
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, request, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.busy = true;
      this.waiting.set(job.id, { resolve: job.resolve, reject: job.reject, slot });
      slot.worker.postMessage({ id: job.id, request: job.request }, transferablesOf(job.request));
    }
  }

  private onReply(slot: Slot, m: Reply): void {
    const w = this.waiting.get(m.id);
    slot.busy = false;
    if (w) {
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result as Res);
      else {
        const e = new Error(m.error);
        if (m.stack) e.stack = m.stack;
        w.reject(e);
      }
    }
    this.pump();
  }

  private failAll(e: Error): void {
    this.broken ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    for (const q of this.queue) q.reject(e);
    this.queue = [];
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}

/**
 * Worker side: answers requests with the entry module's `handle`. Called by the pool's bootstrap.
 * @public (imported by name from the bootstrap string, which knip cannot see)
 */
export async function serveWorker(entry: string): Promise<void> {
  const mod = (await import(entry)) as WorkerHandlerModule<unknown, unknown>;
  const port = parentPort;
  if (!port) throw new Error('serveWorker must run in a worker thread');
  port.on('message', async ({ id, request }: { id: number; request: unknown }) => {
    try {
      const result = await mod.handle(request);
      port.postMessage({ id, ok: true, result } satisfies Reply, transferablesOf(result));
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ id, ok: false, error: err.message, stack: err.stack } satisfies Reply);
    }
  });
}

/**
 * Maps `requests` through the pool keeping at most `window` requests in flight, delivering results
 * to `onResult` in request order (so output files are written deterministically).
 */
export async function mapOrdered<Req, Res>(
  pool: WorkerPool<Req, Res>,
  requests: Iterable<Req>,
  onResult: (result: Res, index: number) => Promise<void> | void,
  window = Math.max(2, 2 * pool.size),
): Promise<void> {
  const inflight: Promise<Res>[] = [];
  let delivered = 0;
  for (const req of requests) {
    const p = pool.run(req);
    p.catch(() => undefined); // handled when awaited below
    inflight.push(p);
    if (inflight.length >= window) await onResult(await inflight.shift()!, delivered++);
  }
  while (inflight.length > 0) await onResult(await inflight.shift()!, delivered++);
}
