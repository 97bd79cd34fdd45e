import { existsSync } from 'node:fs';
import path from 'node:path';
import { isUserFacingError } from './errors.ts';

export interface ParsedArgs {
  _: string[];
  [flag: string]: string | boolean | string[];
}

/** `--a=1 --b 2 --flag pos` → { a: '1', b: '2', flag: true, _: ['pos'] }. A value-less flag before a positional needs `=`. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out._.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = (eq >= 0 ? a.slice(2, eq) : a.slice(2)).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      if (eq >= 0) out[key] = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[key] = argv[++i];
      else out[key] = true;
    } else {
      out._.push(a);
    }
  }
  return out;
}

/** The string value of a flag, or undefined; `true` (flag without value) is an error. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`--${name} needs a value`);
  return v;
}

/**
 * Runs a CLI entry point: user errors (bad experiment, bad file, bad argument) print their message
 * alone and exit 1; anything else prints its stack and exits 1.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a main returns nothing (exit 0) or an exit code
export function runMain(main: () => Promise<void | number>): void {
  main().then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code;
    },
    (e: unknown) => {
      if (isUserFacingError(e)) process.stderr.write(`error: ${e.message}\n`);
      else if (systemErrorLine(e)) process.stderr.write(`error: ${systemErrorLine(e)}\n`);
      else process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

const SYSCALL_VERB: Record<string, string> = {
  open: 'open',
  read: 'read',
  write: 'write',
  mkdir: 'create the folder',
  scandir: 'list',
  stat: 'read',
  lstat: 'read',
  rename: 'move',
  unlink: 'delete',
  rmdir: 'delete',
  copyfile: 'copy',
  access: 'access',
  realpath: 'resolve',
};
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many symbolic links',
};

/**
 * One line for a file-system error of Node (it has a path, an errno code and a syscall): the file,
 * the operation and why, instead of a stack trace (a bad output path given as an option, a full disk).
 */
function systemErrorLine(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof err.code !== 'string' || typeof err.path !== 'string' || !ERRNO_TEXT[err.code]) return null;
  const verb = SYSCALL_VERB[err.syscall ?? ''] ?? err.syscall ?? 'use';
  const dir = path.dirname(err.path);
  const why = err.code === 'ENOENT' && !existsSync(dir) ? `the folder ${dir} does not exist` : ERRNO_TEXT[err.code];
  return `cannot ${verb} ${err.path}: ${why} (${err.code})`;
}
