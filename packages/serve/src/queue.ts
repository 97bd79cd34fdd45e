/**
 * A serial job queue: one job at a time (one tfjs model per process), at most `maxWaiting` jobs
 * waiting behind the running one; beyond that `run` rejects at once with QueueFullError (→ 503).
 */

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(readonly maxWaiting: number) {
    super(`the server is busy (${maxWaiting} predictions already waiting); try again shortly`);
  }
}

export interface SerialQueue {
  run<T>(job: () => Promise<T>): Promise<T>;
  /** True when a new job would be refused now. */
  full(): boolean;
  /** Jobs running (0 or 1) plus waiting. */
  readonly size: number;
}

export function createSerialQueue(maxWaiting: number): SerialQueue {
  if (!(Number.isInteger(maxWaiting) && maxWaiting >= 0)) throw new Error(`queue limit must be an integer ≥ 0, got ${maxWaiting}`);
  const waiting: (() => void)[] = [];
  let running = false;
  const next = () => {
    const start = waiting.shift();
    if (start) start();
    else running = false;
  };
  return {
    get size() {
      return (running ? 1 : 0) + waiting.length;
    },
    full: () => running && waiting.length >= maxWaiting,
    run<T>(job: () => Promise<T>): Promise<T> {
      if (running && waiting.length >= maxWaiting) return Promise.reject(new QueueFullError(maxWaiting));
      return new Promise<T>((resolve, reject) => {
        const start = () => {
          running = true;
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
        if (running) waiting.push(start);
        else start();
      });
    },
  };
}
