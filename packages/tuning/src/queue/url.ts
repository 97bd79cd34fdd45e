/**
 * The queue address (pure): `redis://[user][:password@]host[:port][/db][?option=value&…]` or
 * `rediss://…` (TLS), where the trials' queue lives. Options (all optional):
 *   name=mri-trials   BullMQ queue name (workers and orchestrators of one fleet use the same)
 *   stall_s=60        a worker that stops renewing its job's lock (killed, power loss) is detected
 *                     within this many seconds and its trial re-run from scratch elsewhere
 *   max_stalls=2      how many times a trial may be lost with its worker before it is recorded failed
 *   attempts=1        how many times a trial that fails on its own (throws, times out, crashes its
 *                     process) is run before it is recorded failed
 * The password never leaves this module in clear: `redacted` is what logs, errors, DuckDB and the
 * report get. MRI_QUEUE_PASSWORD fills in a password that the URL leaves out (so an experiment file
 * can name the server without holding a secret).
 */
import { UserError } from '@mri-robust/core';

export interface QueueConfig {
  /** The URL with its password replaced by `***`: safe to print and store. */
  redacted: string;
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  name: string;
  stallS: number;
  maxStalls: number;
  attempts: number;
}

const OPTIONS = ['name', 'stall_s', 'max_stalls', 'attempts'] as const;

/**
 * BullMQ lock settings for `stall_s`: a lock of ¾ stall_s renewed every quarter of it (a process
 * starved of CPU for over half of stall_s still keeps its job), checked every ¼ stall_s; a worker
 * that stops renewing is detected within lockDuration + stalledInterval = stall_s.
 */
export function lockSettings(c: QueueConfig): { lockDuration: number; lockRenewTime: number; stalledInterval: number; maxStalledCount: number } {
  const lockDuration = Math.max(1000, Math.round(c.stallS * 750));
  return {
    lockDuration,
    lockRenewTime: Math.round(lockDuration / 4),
    stalledInterval: Math.max(250, Math.round(c.stallS * 250)),
    maxStalledCount: c.maxStalls,
  };
}

/** Replaces the password of every URL in `text` (redis://, rediss://, or a mistyped scheme) by `***`. */
export function redactSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^@/\s'"]*)@/gi, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    if (colon < 0) return `${scheme}${auth}@`; // user name only
    return `${scheme}${auth.slice(0, colon)}:***@`;
  });
}

function positive(name: string, raw: string, where: string, integer: boolean, min: number): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new UserError(`${where}: option ${name}=${raw} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return v;
}

/**
 * Parses a queue URL. `where` names its origin for errors (`--queue`, `MRI_QUEUE`, `file:line /sweep/queue`).
 * Every error message shows the URL redacted.
 */
export function parseQueueUrl(raw: string, where: string, env: NodeJS.ProcessEnv = process.env): QueueConfig {
  const shown = redactSecrets(raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError(`${where}: ${shown} is not a URL; expected redis://host:port/db or rediss://host:port/db`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new UserError(`${where}: ${shown}: scheme ${scheme}: is not supported; expected redis:// or rediss:// (TLS)`);
  }
  if (!u.hostname) throw new UserError(`${where}: ${shown} names no host; expected ${scheme}://host:port/db`);
  const dbText = u.pathname.replace(/^\/+|\/+$/g, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw new UserError(`${where}: ${shown}: the path must be a database number (/0 … /15), got /${dbText}`);
  const opts = new Map<string, string>();
  for (const [k, v] of u.searchParams) {
    if (!(OPTIONS as readonly string[]).includes(k)) {
      throw new UserError(`${where}: ${shown}: unknown option ${k}; allowed: ${OPTIONS.join(', ')}`);
    }
    opts.set(k, v);
  }
  const name = opts.get('name') ?? 'mri-trials';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new UserError(`${where}: ${shown}: option name=${name} must be 1–64 letters, digits, _ . -`);
  const password = u.password ? decodeURIComponent(u.password) : env.MRI_QUEUE_PASSWORD || undefined;
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : 6379;
  const db = dbText === '' ? 0 : Number(dbText);
  const auth = username || password ? `${username ?? ''}${password ? ':***' : ''}@` : '';
  const redacted = `${scheme}://${auth}${u.host}/${db}${u.search}`;
  return {
    redacted,
    host: hostname,
    port,
    db,
    username,
    password,
    tls: scheme === 'rediss',
    name,
    stallS: positive('stall_s', opts.get('stall_s') ?? '60', where, false, 1),
    maxStalls: positive('max_stalls', opts.get('max_stalls') ?? '2', where, true, 0),
    attempts: positive('attempts', opts.get('attempts') ?? '1', where, true, 1),
  };
}

/** Where the queue URL comes from: the flag, then MRI_QUEUE, then the experiment's `sweep.queue`. */
export interface QueueSources {
  flag?: string;
  env?: string;
  /** `sweep.queue` of the experiment, with where it is (`file: /sweep/queue`). */
  experiment?: { value: string; where: string };
}

/**
 * The queue a sweep uses, or null for the local pool (`local` in any source selects it explicitly).
 * A password written into the experiment file is refused: the file's text is stored in DuckDB and
 * carried in every job.
 */
export function resolveQueue(src: QueueSources, env: NodeJS.ProcessEnv = process.env): QueueConfig | null {
  const pick: [string | undefined, string][] = [
    [src.flag, '--queue'],
    [src.env, 'MRI_QUEUE'],
    [src.experiment?.value, src.experiment?.where ?? 'sweep.queue'],
  ];
  for (const [value, where] of pick) {
    if (value === undefined || value === '') continue;
    if (value === 'local') return null;
    if (src.experiment && where === src.experiment.where) {
      const u = (() => {
        try {
          return new URL(value);
        } catch {
          return null;
        }
      })();
      if (u?.password) {
        throw new UserError(
          `${where}: ${redactSecrets(value)}: a password in the experiment file would be stored with it (DuckDB, every job); ` +
            'leave it out and set MRI_QUEUE_PASSWORD, or pass the whole URL with --queue or MRI_QUEUE',
        );
      }
    }
    return parseQueueUrl(value, where, env);
  }
  return null;
}
