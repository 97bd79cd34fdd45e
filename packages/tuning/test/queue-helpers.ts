/**
 * Test helpers of the queue tests: a real redis-server (Debian's) on a free loopback port in a temp
 * folder, with an append-only file fsynced on every write (so a restart keeps every write), stopped
 * by its pid; queue workers as real child processes (`tuning worker`). Also the process checks the
 * kill tests share (isAlive, childrenOf, descendantsOf, waitUntil; Linux /proc).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { workspaceRoot } from '@mri-robust/core';

/**
 * A runnable copy of the workspace (sources copied, node_modules entries linked): the processes of a
 * queue test all run the same code even while the shared checkout is being edited (a worker checks
 * the job's code version against its own and refuses a different one).
 */
export function copyWorkspace(into: string): string {
  const root = workspaceRoot();
  fs.mkdirSync(into, { recursive: true });
  for (const f of ['nx.json', 'package.json', 'tsconfig.base.json', 'tsconfig.json']) {
    if (fs.existsSync(path.join(root, f))) fs.cpSync(path.join(root, f), path.join(into, f));
  }
  const packages = fs.readdirSync(path.join(root, 'packages')).filter((p) => fs.existsSync(path.join(root, 'packages', p, 'package.json')));
  for (const p of packages) {
    for (const sub of ['src', 'package.json']) fs.cpSync(path.join(root, 'packages', p, sub), path.join(into, 'packages', p, sub), { recursive: true });
  }
  const nm = path.join(into, 'node_modules');
  fs.mkdirSync(path.join(nm, '@mri-robust'), { recursive: true });
  for (const e of fs.readdirSync(path.join(root, 'node_modules'))) {
    if (e !== '@mri-robust') fs.symlinkSync(path.join(root, 'node_modules', e), path.join(nm, e));
  }
  for (const p of packages) fs.symlinkSync(path.join(into, 'packages', p), path.join(nm, '@mri-robust', p));
  return into;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface RedisServer {
  port: number;
  dir: string;
  /** redis://[:password@]127.0.0.1:port/0 */
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Stops (SIGTERM) and starts it again on the same port and folder. */
  restart(): Promise<void>;
}

/** A private CA and a certificate for 127.0.0.1 signed by it (openssl), for a TLS redis-server. */
export function makeTlsFiles(dir: string): { ca: string; cert: string; key: string } {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=queue-test-ca']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  ]);
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

export async function startRedis(
  dir: string,
  opts: { password?: string; port?: number; tls?: { ca: string; cert: string; key: string } } = {},
): Promise<RedisServer> {
  fs.mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const args = ['--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no'];
  args.push('--logfile', path.join(dir, 'redis.log'), '--protected-mode', 'no');
  if (opts.tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key);
    args.push('--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no');
  } else args.push('--port', String(port));
  if (opts.password) args.push('--requirepass', opts.password);
  const launch = async (): Promise<ChildProcess> => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}; see ${path.join(dir, 'redis.log')}`);
      if (await canConnect(port)) return proc;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not listen on ${port} within 20 s`);
  };
  const server: RedisServer = {
    port,
    dir,
    url: `${opts.tls ? 'rediss' : 'redis'}://${opts.password ? `:${encodeURIComponent(opts.password)}@` : ''}127.0.0.1:${port}/0`,
    proc: await launch(),
    async stop() {
      const p = server.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      process.kill(p.pid!, 'SIGTERM');
      await exited;
    },
    async restart() {
      await server.stop();
      server.proc = await launch();
    },
  };
  return server;
}

type Proc = ResultPromise<{ reject: false; buffer: false; cwd: string; stdout: 'pipe'; stderr: 'pipe'; env: Record<string, string> }>;

export interface Running {
  proc: Proc;
  /** Everything written so far (stderr and stdout). */
  output: () => string;
  /** Resolves when the output matches. */
  waitFor: (re: RegExp, ms: number) => Promise<boolean>;
}

/** Starts `node --import tsx packages/tuning/src/cli.ts ...args` in workspace `root`, collecting its output. */
export function startCli(args: string[], env: Record<string, string> = {}, root = workspaceRoot()): Running {
  const proc = execa(process.execPath, ['--import', 'tsx', path.join(root, 'packages', 'tuning', 'src', 'cli.ts'), ...args], {
    reject: false,
    buffer: false,
    cwd: root,
    stdout: 'pipe',
    stderr: 'pipe',
    env,
  }) as Proc;
  let text = '';
  const waiters: { re: RegExp; resolve: (ok: boolean) => void }[] = [];
  const onData = (b: Buffer) => {
    text += b.toString();
    for (const w of [...waiters]) {
      if (w.re.test(text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(true);
      }
    }
    if (process.env.QUEUE_TEST_VERBOSE) process.stderr.write(b);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  void proc.then(() => {
    for (const w of waiters.splice(0)) w.resolve(w.re.test(text));
  });
  return {
    proc,
    output: () => text,
    waitFor: (re, ms) =>
      new Promise((resolve) => {
        if (re.test(text)) return resolve(true);
        const w = { re, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            resolve(re.test(text));
          }
        }, ms);
      }),
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \S+ Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, 'x'));
  } catch {
    return false;
  }
}

/** Parent pid of every live process (from /proc/<pid>/stat). */
function parentPids(): Map<number, number> {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs
        .readFileSync(`/proc/${entry}/stat`, 'utf8')
        .replace(/\(.*\)/, 'x')
        .split(' ');
      parent.set(Number(entry), Number(stat[3]));
    } catch {
      // gone
    }
  }
  return parent;
}

/** The direct children of `pid` (e.g. an orchestrator's trial workers). */
export function childrenOf(pid: number): number[] {
  return [...parentPids()].filter(([, pp]) => pp === pid).map(([c]) => c);
}

/** Every descendant of `pid` (children, grandchildren, …). */
export function descendantsOf(pid: number): number[] {
  const parent = parentPids();
  const out: number[] = [];
  const visit = (p: number) => {
    for (const [c, pp] of parent)
      if (pp === p) {
        out.push(c);
        visit(c);
      }
  };
  visit(pid);
  return out;
}

export async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}
