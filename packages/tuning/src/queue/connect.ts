/**
 * Redis connections of the queue (ioredis): options built from a parsed queue URL, a start-up check
 * that turns an unreachable server, a wrong password or a TLS mismatch into one clear line, and
 * connections that reconnect forever afterwards (a restarted Redis is waited for, not fatal).
 */
import type { RedisOptions } from 'bullmq';
import { isIP } from 'node:net';
import { Redis } from 'ioredis';
import { UserError } from '@mri-robust/core';
import { redactSecrets, type QueueConfig } from './url.ts';

/** Connection options for `c` (ioredis and BullMQ); commands wait across reconnects (BullMQ needs maxRetriesPerRequest null). */
export function redisOptions(c: QueueConfig): RedisOptions {
  return {
    host: c.host,
    port: c.port,
    db: c.db,
    username: c.username,
    password: c.password,
    // SNI only for names (Node refuses an IP address as server name).
    tls: c.tls ? (isIP(c.host) ? {} : { servername: c.host }) : undefined,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: 10_000,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
}

/** What a connection error means, in words, without the secret. */
export function describeRedisError(c: QueueConfig, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = redactSecrets(String(err?.message ?? e)).split('\n')[0];
  const code = err?.code ?? '';
  if (/WRONGPASS|invalid username-password|invalid password/i.test(msg)) {
    return `queue ${c.redacted}: authentication failed (wrong password or user name); give the right one in the URL or in MRI_QUEUE_PASSWORD`;
  }
  if (/NOAUTH/i.test(msg)) return `queue ${c.redacted}: the server needs a password; give it in the URL (redis://:PASSWORD@host) or in MRI_QUEUE_PASSWORD`;
  if (
    ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET'].includes(code) ||
    /connect ETIMEDOUT|timed out/i.test(msg)
  ) {
    return `queue ${c.redacted}: cannot reach Redis (${code || msg}); is redis-server running there and reachable from this machine?`;
  }
  if (/SSL|TLS|certificate|wrong version number|self.signed/i.test(msg) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /CERT/.test(code)) {
    return `queue ${c.redacted}: TLS failed (${msg}); rediss:// needs a TLS port, redis:// a plain one (a private CA goes in NODE_EXTRA_CA_CERTS)`;
  }
  return `queue ${c.redacted}: ${msg}`;
}

/**
 * Connects once, without retrying, and checks the server answers (PING) and can run BullMQ (Redis ≥ 5):
 * throws a one-line UserError otherwise.
 */
export async function checkRedis(c: QueueConfig, timeoutMs = 10_000): Promise<{ version: string }> {
  const r = new Redis({ ...redisOptions(c), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1, connectTimeout: timeoutMs });
  let last: unknown = null;
  r.on('error', (e) => (last = e));
  try {
    await r.connect();
    await r.ping();
    const info = await r.info('server');
    const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '?';
    if (Number(version.split('.')[0]) < 5) throw new UserError(`queue ${c.redacted}: Redis ${version} is too old for BullMQ (needs 5 or later)`);
    return { version };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(describeRedisError(c, (e as Error)?.message?.includes('Connection is closed') && last ? last : e));
  } finally {
    r.disconnect();
  }
}

/**
 * A connection that reconnects forever; `log` hears about each outage once (lost, then back).
 * `blocking` connections are used for BLPOP/XREAD only.
 */
export function connectRedis(c: QueueConfig, log: (line: string) => void, what: string): Redis {
  const r = new Redis(redisOptions(c));
  let up = false;
  let down = false;
  r.on('error', (e) => {
    if (!down) log(`${what}: ${describeRedisError(c, e)}; reconnecting`);
    down = true;
  });
  // 'reconnecting' (not 'close'): a connection closed on purpose does not reconnect.
  r.on('reconnecting', () => {
    if (up && !down) log(`${what}: connection to ${c.redacted} lost; reconnecting`);
    if (up) down = true;
  });
  r.on('ready', () => {
    if (down) log(`${what}: reconnected to ${c.redacted}`);
    up = true;
    down = false;
  });
  return r;
}
