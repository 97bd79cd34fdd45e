/**
 * Queue mode: addresses, redaction, job checks (pure), and the failures a user meets, against a real
 * password-protected redis-server and real worker / sweep processes: unreachable Redis, a wrong or
 * missing password, a malformed job, a job from another code version (the worker puts it back and
 * stops), a model copy that arrives damaged. Each is one clear line, and the queue and DuckDB stay
 * consistent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitCommit, sharedDir } from '@mri-robust/core';
import { loadSweep } from '../src/sweep.ts';
import { redisOptions } from '../src/queue/connect.ts';
import { codeMismatch, codeVersion, JOB_FORMAT, jobIdOf, keys, validateJobData, type TrialJobData } from '../src/queue/protocol.ts';
import { fetchFolder, frame, manifestHash, serveFetch, CHUNK_BYTES } from '../src/queue/transfer.ts';
import { parseQueueUrl, redactSecrets, resolveQueue } from '../src/queue/url.ts';
import { copyWorkspace, freePort, makeTlsFiles, startCli as startCliIn, startRedis, type RedisServer } from './queue-helpers.ts';

const PASSWORD = 'err-test-pw-91c2';
const WEIGHTS = path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

/** A small valid experiment file in `folder`. */
function smallExperiment(folder: string, extra = ''): string {
  const file = path.join(folder, 'experiment.yaml');
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    file,
    `name: queue-errors\nseed: 3\n${extra}data:\n  sources:\n    - { name: phantom, kind: phantom, count_per_class: 25, size: 64 }\n` +
      '  classes: [glioma, meningioma, notumor, pituitary]\n  image: { size: 64, channels: 1, fit: pad }\n  min_per_class: 3\n' +
      `model: { backbone: mobilenet_v2, weights: ${JSON.stringify(WEIGHTS)}, input_size: 64, mode: head, backend: wasm }\n` +
      'sweep:\n  strategy: grid\n  space: { learning_rate: [0.01] }\n',
  );
  return file;
}

describe('queue addresses and jobs (pure)', () => {
  it('parses redis:// and rediss:// URLs with options and never shows the password', () => {
    const c = parseQueueUrl('redis://:p%40ss@10.0.0.5:6380/3?stall_s=20&attempts=2&name=lab', '--queue', {});
    expect(c).toMatchObject({ host: '10.0.0.5', port: 6380, db: 3, password: 'p@ss', tls: false, name: 'lab', stallS: 20, attempts: 2, maxStalls: 2 });
    expect(c.redacted).toBe('redis://:***@10.0.0.5:6380/3?stall_s=20&attempts=2&name=lab');
    const t = parseQueueUrl('rediss://ops:pw@redis.example/0', 'MRI_QUEUE', {});
    expect(t).toMatchObject({ tls: true, port: 6379, username: 'ops', password: 'pw', stallS: 60, attempts: 1 });
    expect(t.redacted).toBe('rediss://ops:***@redis.example/0');
    expect(parseQueueUrl('redis://h:1/0', 'x', { MRI_QUEUE_PASSWORD: 'fromenv' }).password).toBe('fromenv');
    expect(parseQueueUrl('redis://h', 'x', {})).toMatchObject({ port: 6379, db: 0, password: undefined, redacted: 'redis://h/0' });
    expect(() => parseQueueUrl('http://:pw@h:1/0', '--queue', {})).toThrow(/^--queue: http:\/\/:\*\*\*@h:1\/0: scheme http: is not supported/);
    expect(() => parseQueueUrl('redis://:pw@h:1/x', '--queue', {})).toThrow(/the path must be a database number/);
    expect(() => parseQueueUrl('redis://h/0?stall=3', 'MRI_QUEUE', {})).toThrow(
      /^MRI_QUEUE: redis:\/\/h\/0\?stall=3: unknown option stall; allowed: name, stall_s, max_stalls, attempts$/,
    );
    expect(() => parseQueueUrl('redis://h/0?attempts=0', 'x', {})).toThrow(/attempts=0 must be an integer ≥ 1/);
    for (const bad of ['redis://:pw@h:1/x', 'http://:pw@h']) {
      try {
        parseQueueUrl(bad, 'x', {});
      } catch (e) {
        expect((e as Error).message).not.toContain('pw@');
      }
    }
  });

  it('redacts every Redis URL in a text', () => {
    expect(redactSecrets('a redis://:s3@h:1/0 b rediss://u:s4@h2/1 c redis://h/0 d redis://user@h')).toBe(
      'a redis://:***@h:1/0 b rediss://u:***@h2/1 c redis://h/0 d redis://user@h',
    );
  });

  it('takes the flag, then MRI_QUEUE, then sweep.queue; refuses a password in the experiment file', () => {
    const exp = { value: 'redis://h:1/0', where: 'e.yaml: /sweep/queue' };
    expect(resolveQueue({ flag: 'redis://f:1/0', env: 'redis://e:1/0', experiment: exp }, {})?.host).toBe('f');
    expect(resolveQueue({ env: 'redis://e:1/0', experiment: exp }, {})?.host).toBe('e');
    expect(resolveQueue({ experiment: exp }, {})?.host).toBe('h');
    expect(resolveQueue({ flag: 'local', experiment: exp }, {})).toBeNull();
    expect(resolveQueue({}, {})).toBeNull();
    expect(() => resolveQueue({ experiment: { value: 'redis://:hunter2@h:1/0', where: 'e.yaml: /sweep/queue' } }, {})).toThrow(
      /^e\.yaml: \/sweep\/queue: redis:\/\/:\*\*\*@h:1\/0: a password in the experiment file would be stored/,
    );
  });

  it('checks jobs field by field and names code-version differences', () => {
    const good: TrialJobData = {
      v: JOB_FORMAT,
      sweepId: 'default-0123456789',
      trialId: 't000-0123abcd',
      index: 0,
      params: { learningRate: 0.01, dropout: 0.1, batchSize: 32 },
      seed: 5,
      experiment: { text: 'name: x', path: 'experiments/default.yaml', hash: 'a'.repeat(64) },
      code: { stages: 'b'.repeat(16), tuning: 'c'.repeat(16), commit: 'abc' },
      stages: { ingest: 'd'.repeat(16), noise: 'e'.repeat(16), augment: 'f'.repeat(16), embed: '0'.repeat(16) },
    };
    expect(validateJobData('j', good)).toBe(good);
    expect(() => validateJobData('j', { ...good, params: { ...good.params, learningRate: -1 } })).toThrow(/^malformed job j: \/params\/learningRate: /);
    expect(() => validateJobData('j', { ...good, extra: 1 })).toThrow(/^malformed job j: \/extra: /);
    expect(() => validateJobData('j', { ...good, v: 2 })).toThrow(/job format 2, this worker reads 1: update one side/);
    expect(() => validateJobData('j', 'text')).toThrow(/^malformed job j: \/: /);
    expect(codeMismatch('j', good.code, { stages: good.code.stages, tuning: good.code.tuning })).toBeNull();
    expect(codeMismatch('j', good.code, { stages: '1'.repeat(16), tuning: good.code.tuning })).toMatch(
      /^job j comes from a different code version: stage code b{16} \(this worker: 1{16}\); check out commit abc/,
    );
  });
});

describe('queue failures against a real Redis', () => {
  let dir: string;
  let redis: RedisServer;
  let url: string;
  let ws: string;
  const startCli = (args: string[], env: Record<string, string> = {}) => startCliIn(args, env, ws);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-queue-err-'));
    ws = copyWorkspace(path.join(dir, 'workspace'));
    redis = await startRedis(path.join(dir, 'redis'), { password: PASSWORD });
    url = redis.url;
  });

  afterAll(async () => {
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a worker or a sweep that cannot reach Redis or has a wrong password stops with one line and records nothing', async () => {
    const port = await freePort();
    const runs = (n: string) => `--runs=${path.join(dir, n)}`;
    const unreachable = startCli(['worker', `--queue=redis://127.0.0.1:${port}/0`, runs('u')]);
    const wrong = startCli(['worker', `--queue=redis://:not-the-pw@127.0.0.1:${redis.port}/0`, runs('u')]);
    const none = startCli(['worker', `--queue=redis://127.0.0.1:${redis.port}/0`, runs('u')], { MRI_QUEUE_PASSWORD: '' });
    const results = await Promise.all([unreachable.proc, wrong.proc, none.proc]);
    for (const r of results) expect(r.exitCode).toBe(1);
    expect(unreachable.output().trim()).toMatch(
      new RegExp(
        `^error: queue redis://127\\.0\\.0\\.1:${port}/0: cannot reach Redis \\(ECONNREFUSED\\); is redis-server running there and reachable from this machine\\?$`,
      ),
    );
    expect(wrong.output().trim()).toBe(
      `error: queue redis://:***@127.0.0.1:${redis.port}/0: authentication failed (wrong password or user name); give the right one in the URL or in MRI_QUEUE_PASSWORD`,
    );
    expect(none.output().trim()).toMatch(/^error: queue redis:\/\/127\.0\.0\.1:\d+\/0: the server needs a password/);

    // The orchestrator checks Redis before it records anything.
    const exp = smallExperiment(path.join(dir, 'e'), 'runs: ./runs\n');
    const sweep = startCli(['sweep', `--experiment=${exp}`], { MRI_QUEUE: `redis://:not-the-pw@127.0.0.1:${redis.port}/0` });
    expect((await sweep.proc).exitCode).toBe(1);
    expect(sweep.output().trim()).toMatch(/^error: queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: authentication failed/);
    expect(fs.existsSync(path.join(dir, 'e', 'runs'))).toBe(false);
    for (const r of [unreachable, wrong, none, sweep]) expect(r.output()).not.toContain('not-the-pw');
  }, 300_000);

  it('fails a malformed job once and keeps working; puts back a job from another code version and stops', async () => {
    const name = 'qerr';
    const q = new Queue(name, { connection: redisOptions(parseQueueUrl(url, 't', {})) });
    const r = new Redis(redisOptions(parseQueueUrl(url, 't', {})));
    try {
      // A valid job of a real experiment, but made by other code.
      const exp = smallExperiment(path.join(dir, 'code'));
      const plan = await loadSweep(exp);
      const t = plan.trials[0];
      const mine = codeVersion(ws);
      const stale: TrialJobData = {
        v: JOB_FORMAT,
        sweepId: plan.sweepId,
        trialId: t.trialId,
        index: 0,
        params: t.params,
        seed: t.seed,
        experiment: { text: plan.experiment.text, path: exp, hash: plan.experimentHash },
        code: { stages: mine.stages, tuning: 'f'.repeat(16), commit: gitCommit() },
        stages: { ingest: '0'.repeat(16), noise: '0'.repeat(16), augment: '0'.repeat(16), embed: '0'.repeat(16) },
      };
      await q.add('trial', { v: JOB_FORMAT, sweepId: 'bad-sweep', trialId: 'x' }, { jobId: 'bad-sweep.x', priority: 1 });
      await q.add('trial', { ...stale, v: 2 }, { jobId: 'newer.t000-00000000', priority: 2 });
      const w = startCli(['worker', `--queue=${url}?name=${name}`, `--runs=${path.join(dir, 'wq')}`]);
      expect(await w.waitFor(/failed: malformed job newer/, 120_000), w.output()).toBe(true);
      const bad = await q.getJob('bad-sweep.x');
      expect(await bad!.getState()).toBe('failed');
      expect(bad!.failedReason).toMatch(/^malformed job bad-sweep\.x: \/\w+: Expected required property$/);
      expect(bad!.attemptsMade).toBe(1);
      expect((await q.getJob('newer.t000-00000000'))!.failedReason).toMatch(/job format 2, this worker reads 1/);
      expect(w.proc.exitCode).toBeNull(); // still taking jobs

      const id = jobIdOf(stale.sweepId, stale.trialId);
      await q.add('trial', stale, { jobId: id, priority: 1 });
      const res = await w.proc;
      expect(res.exitCode).toBe(1);
      expect(w.output()).toMatch(
        new RegExp(
          `refused ${id.replace(/\./g, '\\.')}: job ${id.replace(/\./g, '\\.')} comes from a different code version: (stage code .* )?tuning code f{16} \\(this worker: [0-9a-f]{16}\\)`,
        ),
      );
      const job = await q.getJob(id);
      expect(['waiting', 'prioritized']).toContain(await job!.getState());
      expect(job!.attemptsMade).toBe(0);
      expect(job!.failedReason ?? '').toBe('');
      // The orchestrator of that sweep hears why.
      const inbox = (await r.xrange(keys.inbox(name, stale.sweepId), '-', '+')).map(([, f]) => JSON.parse(f[1]));
      expect(inbox).toContainEqual(expect.objectContaining({ type: 'refused', jobId: id, reason: expect.stringMatching(/different code version/) }));
    } finally {
      await q.close();
      r.disconnect();
    }
  }, 300_000);

  it('works over rediss:// with a private CA (NODE_EXTRA_CA_CERTS) and says so in one line when the CA is unknown', async () => {
    const tls = makeTlsFiles(path.join(dir, 'tls'));
    const server = await startRedis(path.join(dir, 'redis-tls'), { password: PASSWORD, tls });
    try {
      const runs = `--runs=${path.join(dir, 'wt')}`;
      const ok = startCli(['worker', `--queue=${server.url}`, runs], { NODE_EXTRA_CA_CERTS: tls.ca });
      expect(await ok.waitFor(/taking trials from rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 \(Redis 7/, 120_000), ok.output()).toBe(true);
      ok.proc.kill('SIGTERM');
      expect((await ok.proc).exitCode).toBe(0);
      const unknown = startCli(['worker', `--queue=${server.url}`, runs]);
      expect((await unknown.proc).exitCode).toBe(1);
      expect(unknown.output().trim()).toMatch(
        /^error: queue rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: TLS failed \([^\n]*certificate[^\n]*\); rediss:\/\/ needs a TLS port/,
      );
      for (const r of [ok, unknown]) expect(r.output()).not.toContain(PASSWORD);
    } finally {
      await server.stop();
    }
  }, 300_000);

  it('copies a folder in checked chunks, refuses paths outside runs/trials, and rejects a damaged copy', async () => {
    const c = parseQueueUrl(url, 't', {});
    const a = new Redis(redisOptions(c));
    const b = new Redis(redisOptions(c));
    const server = new Redis(redisOptions(c));
    const runsDir = path.join(dir, 'worker-runs');
    const src = path.join(runsDir, 'trials', 's', 't000', 'model');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const big = Buffer.alloc(CHUNK_BYTES * 2 + 12345);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(path.join(src, 'weights.bin'), big);
    fs.writeFileSync(path.join(src, 'sub', 'metadata.json'), '{"a":1}');
    const serveOne = async (tamper = false) => {
      const [, raw] = (await server.blpop(keys.fetch(c.name, 'fk'), 30))!;
      if (!tamper) return serveFetch(a, c.name, runsDir, raw);
      // A copy that arrives different from its manifest.
      const req = JSON.parse(raw) as { requestId: string };
      const files = [{ path: 'x.bin', size: 3, sha256: 'a'.repeat(64) }];
      const reply = keys.reply(c.name, req.requestId);
      await a.rpush(reply, frame({ type: 'manifest', files, hash: manifestHash(files) }));
      await a.rpush(reply, frame({ type: 'chunk', file: 0, offset: 0 }, Buffer.from('abc')));
      await a.rpush(reply, frame({ type: 'end' }));
    };
    const fetch = (dir2: string, dest: string, requestId: string) =>
      fetchFolder({ redis: a, blocking: b, queue: c.name, fetchKey: 'fk', requestId, dir: dir2, dest, timeoutS: 30, who: 'worker w' });
    try {
      const dest = path.join(dir, 'copied', 'model');
      const [got] = await Promise.all([fetch(src, dest, 'r1'), serveOne()]);
      expect(got.files).toBe(2);
      expect(got.bytes).toBe(big.length + 7);
      expect(fs.readFileSync(path.join(dest, 'weights.bin')).equals(big)).toBe(true);
      expect(fs.readFileSync(path.join(dest, 'sub', 'metadata.json'), 'utf8')).toBe('{"a":1}');

      const outside = Promise.all([fetch(path.join(dir, 'redis'), path.join(dir, 'copied', 'x'), 'r2'), serveOne()]);
      await expect(outside).rejects.toThrow(/^worker w: .*redis is not inside this worker's .*trials$/);
      expect(fs.existsSync(path.join(dir, 'copied', 'x'))).toBe(false);

      const damaged = Promise.all([fetch(src, path.join(dir, 'copied', 'y'), 'r3'), serveOne(true)]);
      await expect(damaged).rejects.toThrow(/x\.bin from worker w is damaged \(3 bytes, sha256 [0-9a-f]{12}; expected 3, aaaaaaaaaaaa\)/);
      expect(fs.existsSync(path.join(dir, 'copied', 'y'))).toBe(false);
      expect(fs.readdirSync(path.join(dir, 'copied'))).toEqual(['model']);
    } finally {
      a.disconnect();
      b.disconnect();
      server.disconnect();
    }
  }, 120_000);
});
