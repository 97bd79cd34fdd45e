export interface Progress {
  tick(n?: number): void;
  /** Prints the final line. */
  done(): void;
}

export interface ProgressOptions {
  /**
   * Minimum milliseconds between lines. Default: 500 on a terminal; 5,000 when the stream is a
   * file or pipe (trial logs, CI, Nx's captured output), where every line is kept, not redrawn.
   */
  intervalMs?: number;
  stream?: NodeJS.WritableStream;
  /** Unit shown after the rate (default "items"). */
  unit?: string;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * No ETA before this much measured time. The rate is measured from the first tick, not from the
 * start: the first item carries the stage's start-up (spawning workers, loading weights, compiling
 * wasm kernels), so a rate that includes it extrapolates to nonsense ("ETA 12m49s" for a stage that
 * takes 4 s).
 */
export const MIN_ETA_MS = 3000;

/** Items done and milliseconds passed since the first tick: the window the rate is measured over. */
export interface RateWindow {
  items: number;
  ms: number;
}

/**
 * Pure: the progress line for `done` of `total` after `elapsedMs`. The rate is over `window` when
 * given (else over the whole time); the ETA is shown only once that measurement spans
 * `MIN_ETA_MS` with at least one item in it. The final line gives the total time.
 */
export function formatProgress(label: string, done: number, total: number, elapsedMs: number, unit = 'items', window?: RateWindow): string {
  const secs = elapsedMs / 1000;
  const w = window ?? { items: done, ms: elapsedMs };
  const rate = done >= total ? (secs > 0 ? done / secs : 0) : w.ms > 0 ? (w.items / w.ms) * 1000 : 0;
  const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
  const head = `${label}: ${done}/${total} (${pct}%) ${rate.toFixed(1)} ${unit}/s`;
  if (done >= total) return `${head} in ${formatSeconds(secs)}`;
  if (w.ms < MIN_ETA_MS || w.items <= 0 || rate <= 0) return head;
  return `${head} ETA ${formatSeconds((total - done) / rate)}`;
}

/** Pure: the default interval between progress lines for a stream. */
function defaultProgressInterval(stream: NodeJS.WritableStream): number {
  return (stream as { isTTY?: boolean }).isTTY ? 500 : 5000;
}

/** Progress on stderr: done/total, rate and ETA, at most every intervalMs, always at the end. */
export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const interval = options.intervalMs ?? defaultProgressInterval(stream);
  const start = Date.now();
  let done = 0;
  let last = 0;
  let finished = false;
  // the rate window opens at the first tick (what came before it is start-up)
  let firstAt = -1;
  let firstDone = 0;
  const print = () => {
    const now = Date.now();
    const window = firstAt < 0 ? { items: 0, ms: 0 } : { items: done - firstDone, ms: now - firstAt };
    stream.write(`${formatProgress(label, done, total, now - start, options.unit, window)}\n`);
  };
  return {
    tick(n = 1) {
      done += n;
      const now = Date.now();
      if (firstAt < 0) {
        firstAt = now;
        firstDone = done;
      }
      if (now - last >= interval && done < total) {
        last = now;
        print();
      }
    },
    done() {
      if (finished) return;
      finished = true;
      print();
    },
  };
}
