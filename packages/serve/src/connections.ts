/**
 * Connection-level defences of the predict server: connection caps with eviction of idle (or
 * header-trickling) connections, and the Host allow-list.
 *
 * Caps: at most `maxConnections` in all and `maxPerAddress` per client address. A connection over a
 * cap takes the place of the oldest connection (of that address, or in all) that has no request in
 * progress — one still waiting for (or being sent) its headers, or idle between keep-alive requests.
 * A slow-loris client holds only such connections, so it loses them to new clients instead of locking
 * them out; a request whose headers have arrived is never evicted (its body has a minimum rate and
 * the request a time limit). When every connection has a request in progress, the new one is dropped.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';

interface Conn {
  socket: Socket;
  addr: string;
  /** When the connection last became idle (connected, or its last response ended). */
  idleSince: number;
  busy: boolean;
}

export interface GuardOptions {
  maxConnections: number;
  maxPerAddress: number;
  log: (line: string) => void;
}

export class ConnectionGuard {
  private readonly conns = new Map<Socket, Conn>();
  private evicted = 0;

  constructor(
    server: http.Server,
    private readonly o: GuardOptions,
  ) {
    server.on('connection', (s: Socket) => this.add(s));
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const c = this.conns.get(req.socket);
      if (!c) return;
      c.busy = true;
      const idle = () => {
        c.busy = false;
        c.idleSince = performance.now();
      };
      res.once('finish', idle);
      res.once('close', idle);
    });
  }

  /** Connections dropped to make room so far. */
  get evictions(): number {
    return this.evicted;
  }

  private add(s: Socket): void {
    s.on('error', () => {});
    const c: Conn = { socket: s, addr: s.remoteAddress ?? '?', idleSince: performance.now(), busy: false };
    this.conns.set(s, c);
    s.once('close', () => this.conns.delete(s));
    const same = [...this.conns.values()].filter((x) => x.addr === c.addr);
    if (same.length > this.o.maxPerAddress && !this.evict(same, c)) return;
    if (this.conns.size > this.o.maxConnections) this.evict([...this.conns.values()], c);
  }

  /** Drops the oldest idle connection of `among` other than `fresh`, or `fresh` itself when there is none. */
  private evict(among: Conn[], fresh: Conn): boolean {
    let victim: Conn | null = null;
    for (const x of among) if (x !== fresh && !x.busy && (!victim || x.idleSince < victim.idleSince)) victim = x;
    if (!victim) {
      this.conns.delete(fresh.socket);
      fresh.socket.destroy();
      return false;
    }
    this.evicted++;
    if (this.evicted === 1 || this.evicted % 100 === 0) this.o.log(`connection cap reached: dropped ${this.evicted} idle or slow connection(s) so far`);
    this.conns.delete(victim.socket);
    victim.socket.destroy();
    return true;
  }

  destroyAll(): void {
    for (const s of this.conns.keys()) s.destroy();
  }
}

const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];
const WILDCARD = ['0.0.0.0', '::', ''];

/** Lower-case host names (no port, IPv6 without brackets) a server bound to `host` answers to. */
export function allowedHosts(host: string, boundAddress: string, extra: readonly string[]): Set<string> {
  const out = new Set<string>([host, boundAddress, ...extra].map((h) => normalizeHost(h)));
  const loopback = (h: string) => LOOPBACK.includes(h) || h.startsWith('127.');
  if (loopback(host) || loopback(boundAddress)) {
    for (const h of LOOPBACK) out.add(h);
  }
  if (WILDCARD.includes(host) || WILDCARD.includes(boundAddress)) {
    for (const h of LOOPBACK) out.add(h);
    out.add(os.hostname().toLowerCase());
    for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.add(normalizeHost(i.address));
  }
  for (const w of WILDCARD) out.delete(w);
  return out;
}

/** `Host: name[:port]` or `[v6]:port` → the name, lower case. */
function normalizeHost(h: string): string {
  const v = h.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  const colon = v.indexOf(':');
  // Two colons or more: a bare IPv6 address (no port).
  if (colon >= 0 && v.indexOf(':', colon + 1) < 0) return v.slice(0, colon);
  return v.endsWith('.') ? v.slice(0, -1) : v;
}

export function hostAllowed(hostHeader: string, allowed: ReadonlySet<string>): boolean {
  const name = normalizeHost(hostHeader);
  return name !== '' && allowed.has(name.endsWith('.') ? name.slice(0, -1) : name);
}
