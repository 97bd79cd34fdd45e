/**
 * A job queue: at most `workers` jobs at a time (default 1), at most `maxWaiting` jobs waiting
 * behind the running ones; beyond that `run` rejects at once with QueueFullError (→ 503). Jobs start
 * in arrival order.
 *
 * The predict server runs one job per core: a prediction spends most of its time outside the
 * JavaScript thread (sharp decoding and PNG encoding on libuv's pool), so a second one in flight
 * keeps the other core busy. Its ONNX Runtime pass is synchronous on the JavaScript thread, so the
 * passes themselves never overlap.
 */

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(readonly maxWaiting: number) {
    super(`the server is busy (${maxWaiting} predictions already waiting); try again shortly`);
  }
}

export interface JobQueue {
  run<T>(job: () => Promise<T>): Promise<T>;
  /** True when a new job would be refused now. */
  full(): boolean;
  /** Jobs running plus waiting. */
  readonly size: number;
}

export function createJobQueue(maxWaiting: number, workers = 1): JobQueue {
  if (!(Number.isInteger(maxWaiting) && maxWaiting >= 0)) throw new Error(`queue limit must be an integer ≥ 0, got ${maxWaiting}`);
  if (!(Number.isInteger(workers) && workers >= 1)) throw new Error(`workers must be an integer ≥ 1, got ${workers}`);
  const waiting: (() => void)[] = [];
  let running = 0;
  const next = () => {
    running--;
    waiting.shift()?.();
  };
  const full = () => running >= workers && waiting.length >= maxWaiting;
  return {
    get size() {
      return running + waiting.length;
    },
    full,
    run<T>(job: () => Promise<T>): Promise<T> {
      if (full()) return Promise.reject(new QueueFullError(maxWaiting));
      return new Promise<T>((resolve, reject) => {
        const start = () => {
          running++;
          let p: Promise<T>;
          try {
            p = job();
          } catch (e) {
            p = Promise.reject(e);
          }
          // Start the next job before the caller sees this one's outcome.
          p.then(
            (v) => {
              next();
              resolve(v);
            },
            (e: unknown) => {
              next();
              reject(e);
            },
          );
        };
        if (running < workers) start();
        else waiting.push(start);
      });
    },
  };
}
