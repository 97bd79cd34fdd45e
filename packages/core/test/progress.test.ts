import { describe, expect, it } from 'vitest';
import { createProgress, formatProgress, MIN_ETA_MS } from '../src/progress.ts';

function sink(isTTY: boolean) {
  const lines: string[] = [];
  const write = (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    return true;
  };
  return { lines, isTTY, write } as unknown as NodeJS.WritableStream & { lines: string[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('progress', () => {
  it('formats done/total, rate and ETA', () => {
    expect(formatProgress('ingest', 0, 10, 0)).toBe('ingest: 0/10 (0.0%) 0.0 items/s');
    expect(formatProgress('x', 3, 4, 7_200_000, 'img')).toBe('x: 3/4 (75.0%) 0.0 img/s ETA 40m00s');
  });

  it('prints no ETA before a few seconds of measured rate', () => {
    // one slow first item (start-up) would extrapolate to hours; the line shows only the rate
    expect(formatProgress('embed', 1, 1000, 400, 'img')).toBe('embed: 1/1000 (0.1%) 2.5 img/s');
    expect(formatProgress('embed', 1, 1000, MIN_ETA_MS - 1, 'img')).not.toContain('ETA');
    expect(formatProgress('embed', 0, 1000, 60_000, 'img')).toBe('embed: 0/1000 (0.0%) 0.0 img/s');
    expect(formatProgress('embed', 300, 1000, MIN_ETA_MS, 'img')).toBe('embed: 300/1000 (30.0%) 100.0 img/s ETA 7s');
    expect(formatProgress('embed', 1000, 1000, 500, 'img')).toBe('embed: 1000/1000 (100.0%) 2000.0 img/s in 1s');
  });

  it('measures the rate from the first tick, so start-up before it does not inflate the ETA', () => {
    // the first of 232 items came after 3.3 s of start-up, then 100 more in 1 s: no ETA yet (window 1 s)
    expect(formatProgress('noise', 101, 232, 4300, 'img', { items: 100, ms: 1000 })).toBe('noise: 101/232 (43.5%) 100.0 img/s');
    // after 3 s of ticks the ETA is the remaining items at the measured rate
    expect(formatProgress('noise', 200, 232, 6300, 'img', { items: 199, ms: 3000 })).toBe('noise: 200/232 (86.2%) 66.3 img/s ETA 0s');
    // the old rule (rate over the whole time) would have said ETA 12m49s at the first tick
    expect(formatProgress('noise', 1, 232, 3300, 'img', { items: 0, ms: 0 })).toBe('noise: 1/232 (0.4%) 0.0 img/s');
  });

  it('createProgress: a slow first item (start-up) gives no ETA on the first line', async () => {
    const pipe = sink(false);
    const p = createProgress('stage', 50, { stream: pipe, intervalMs: 0 });
    await sleep(200); // start-up before the first item
    p.tick();
    expect(pipe.lines[0]).toBe('stage: 1/50 (2.0%) 0.0 img/s'.replace('img', 'items'));
    p.done();
  });

  it('redraws every 500 ms on a terminal and every 5 s into a file or pipe, and always prints a line at done()', async () => {
    const tty = sink(true);
    const pipe = sink(false);
    const a = createProgress('a', 100, { stream: tty });
    const b = createProgress('b', 100, { stream: pipe });
    for (let i = 0; i < 10; i++) {
      a.tick();
      b.tick();
    }
    expect(tty.lines.length).toBe(1);
    expect(tty.lines[0]).toMatch(/^a: 1\/100 \(1\.0%\) /);
    expect(pipe.lines.length).toBe(1);
    await sleep(600);
    a.tick();
    b.tick();
    expect(tty.lines.length).toBe(2);
    expect(pipe.lines.length).toBe(1);
    a.done();
    b.done();
    expect(tty.lines.at(-1)).toMatch(/^a: 11\/100 \(11\.0%\) /);
    expect(pipe.lines.at(-1)).toMatch(/^b: 11\/100 \(11\.0%\) /);
    expect(pipe.lines.length).toBe(2);
  });
});
