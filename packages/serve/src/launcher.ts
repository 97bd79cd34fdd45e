/**
 * Stopping with the command the user started. `npx nx run serve:start` runs the server as
 * npm exec → sh → nx → sh → node; a SIGTERM to npx ends npx alone, and nx, reparented, keeps the
 * server up (measured). The server therefore finds the processes that launched it — its ancestors
 * whose command line runs this server (`serve:start` or `serve/src/cli.ts`), stopping at the first
 * that does not (the user's shell) — and stops cleanly as soon as one of them is gone. Linux
 * (/proc) only; elsewhere the chain is empty and only signals to the server's own pid stop it.
 */
import { readFileSync } from 'node:fs';

const LAUNCHER_PATTERN = /serve:start|serve\/src\/cli\.ts/;

/** Parent pid of `pid` from /proc/<pid>/stat (the field after the parenthesised command), or null. */
export function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
  } catch {
    return null;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Ancestors of `pid` (nearest first) whose command line matches `pattern`, up to the first that does not. */
export function launcherChain(pid: number = process.pid, pattern: RegExp = LAUNCHER_PATTERN): { pid: number; command: string }[] {
  const chain: { pid: number; command: string }[] = [];
  let p = parentPid(pid);
  while (p !== null && p > 1 && chain.length < 16) {
    const command = commandLine(p);
    if (!pattern.test(command)) break;
    chain.push({ pid: p, command });
    p = parentPid(p);
  }
  return chain;
}

/** Running (not exited, not a zombie waiting to be reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc entry: gone (or not Linux — then ask the kernel).
  }
  try {
    process.kill(pid, 0);
    return process.platform !== 'linux';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Calls `onGone` once when any of `pids` has exited (checked every `intervalMs`); returns a stop function. */
export function watchLaunchers(pids: readonly number[], onGone: (pid: number) => void, intervalMs = 500): () => void {
  if (pids.length === 0) return () => {};
  const timer = setInterval(() => {
    const gone = pids.find((p) => !alive(p));
    if (gone !== undefined) {
      clearInterval(timer);
      onGone(gone);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
