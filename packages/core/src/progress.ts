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
 * No ETA before this much measured time: the first items of a stage carry its start-up (loading
 * weights, compiling wasm kernels, filling caches), so a rate from the first second or two
 * extrapolates to nonsense ("ETA 1h18m" for a stage that takes 8 s).
 */
export const MIN_ETA_MS = 3000;

/**
 * Pure: the progress line for `done` of `total` after `elapsedMs`. The ETA is shown only once
 * `MIN_ETA_MS` have passed and at least one item is done; before that the line ends with the rate.
 */
export function formatProgress(label: string, done: number, total: number, elapsedMs: number, unit = 'items'): string {
  const secs = elapsedMs / 1000;
  const rate = secs > 0 ? done / secs : 0;
  const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
  const head = `${label}: ${done}/${total} (${pct}%) ${rate.toFixed(1)} ${unit}/s`;
  if (done >= total) return `${head} in ${formatSeconds(secs)}`;
  if (elapsedMs < MIN_ETA_MS || rate <= 0) return head;
  return `${head} ETA ${formatSeconds((total - done) / rate)}`;
}

/** Pure: the default interval between progress lines for a stream. */
export function defaultProgressInterval(stream: NodeJS.WritableStream): number {
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
  const print = () => stream.write(formatProgress(label, done, total, Date.now() - start, options.unit) + '\n');
  return {
    tick(n = 1) {
      done += n;
      const now = Date.now();
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
