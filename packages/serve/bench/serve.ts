// Load check of the predict server: `serve:start` in a child process (the shared MobileNetV2-0.35,
// head mode, a head trained on a few scans, saved as `model:train` saves predictors), 200 POST
// /predict of real scans from ../shared/datasets/sartaj/Testing, 4 at a time, each answered with
// class, calibrated probabilities and a Grad-CAM PNG. The server's RSS (/proc/<pid>/status) is
// sampled before (after 5 warm-up predictions), during (every 250 ms) and after; latency median
// and p95 per request; the server's CPU time (user + system, all threads, /proc/<pid>/stat) per
// answer, which a busy shared machine inflates far less than the wall clock. Writes
// runs/bench/serve.json. `-- --backbone cnn` benches the small CNN; `--cam`, `--workers` pass through;
// `-- --model DIR` serves a saved model instead (a trial's, e.g. one with `model.denoise`), written to
// runs/bench/serve-model-<folder name of DIR's parent>.json.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createProgress, parseArgs, sharedDir, stringFlag, workspaceRoot } from '@mri-robust/core';
import { trainTinyModel } from '@mri-robust/model';

const args = parseArgs(process.argv.slice(2));
const backbone = (stringFlag(args, 'backbone') ?? 'mobilenet_v2') as 'cnn' | 'mobilenet_v2';
const TOTAL = Number(stringFlag(args, 'n') ?? 200);
const CONCURRENCY = Number(stringFlag(args, 'concurrency') ?? 4);
const cam = stringFlag(args, 'cam');
const workers = stringFlag(args, 'workers');
const savedModel = stringFlag(args, 'model');
const root = workspaceRoot();
const shared = sharedDir();

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** CPU seconds (user + system, every thread) of a process so far; Linux clock ticks are 1/100 s. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const quantile = (sorted: number[], q: number) => {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  return sorted[lo] + (sorted[Math.min(sorted.length - 1, lo + 1)] - sorted[lo]) * (i - lo);
};

/**
 * The same predictions in this process, where tfjs can be asked: live tensors and the wasm heap
 * before and after 40 predictions (a leak of tensors or wasm memory would show here first).
 */
async function tensorCheck(modelDir: string) {
  const { explainImage, loadPredictor, selectBackend, tf } = await import('@mri-robust/model');
  await selectBackend('auto');
  // The same path as the server: forward passes on the selected inference engine.
  const loaded = await loadPredictor(modelDir);
  const state = () => ({
    tensors: tf.memory().numTensors,
    wasmHeapMiB: ((tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length ?? 0) / 1048576,
    rssMiB: process.memoryUsage().rss / 1048576,
  });
  for (let i = 0; i < 3; i++) await explainImage(loaded, images[i], { maxPixels: 40_000_000 });
  const before = state();
  for (let i = 0; i < 40; i++) await explainImage(loaded, images[i % images.length], { maxPixels: 40_000_000 });
  const after = state();
  await loaded.dispose();
  return { predictions: 40, engine: loaded.inference.engine, before, after };
}

const tmp = await mkdtemp(path.join(os.tmpdir(), 'serve-bench-'));
const testDir = path.join(shared, 'datasets', 'sartaj', 'Testing');
const images: Buffer[] = [];
for (const cls of (await readdir(testDir)).sort()) {
  const names = (await readdir(path.join(testDir, cls)))
    .filter((n) => /\.jpe?g$/i.test(n))
    .sort()
    .slice(0, 12);
  for (const n of names) images.push(await readFile(path.join(testDir, cls, n)));
}

let child: ReturnType<typeof spawn> | null = null;
try {
  const modelDir = savedModel ? path.resolve(savedModel) : path.join(tmp, 'model');
  if (!savedModel) {
    const t0 = Date.now();
    const tiny = await trainTinyModel({ outDir: modelDir, sharedDir: shared, backbone, perClass: 8 });
    process.stderr.write(
      `[bench serve] ${backbone} model built in ${((Date.now() - t0) / 1000).toFixed(1)} s (train accuracy ${tiny.trainAccuracy.toFixed(2)})\n`,
    );
  }
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'packages/serve/src/cli.ts',
      'start',
      '--model',
      modelDir,
      '--port',
      '0',
      ...(cam ? ['--cam', cam] : []),
      ...(workers ? ['--workers', workers] : []),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const pid = child.pid as number;
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child!.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/[^\s]+\/)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child!.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  const backend = /backend (\S+)/.exec(stderr)?.[1] ?? 'unknown';
  const predictUrl = new URL('predict', url).href;

  const post = async (i: number) => {
    const t = performance.now();
    const res = await fetch(predictUrl, { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: new Uint8Array(images[i % images.length]) }).catch(
      (err: Error) => {
        // A dropped connection: say what the server said last, not only the client's ECONNRESET.
        throw new Error(
          `request ${i}: ${err.message} (${(err.cause as Error | undefined)?.message ?? ''}); server stderr ends:\n${stderr.split('\n').slice(-8).join('\n')}`,
        );
      },
    );
    const body = (await res.json()) as { class?: string; gradcam?: string; gradcamMethod?: string; ms?: number; error?: string };
    return {
      method: body.gradcamMethod,
      status: res.status,
      ms: performance.now() - t,
      serverMs: body.ms ?? Number.NaN,
      ok: res.status === 200 && typeof body.gradcam === 'string' && !!body.class,
    };
  };

  for (let i = 0; i < 5; i++) await post(i);
  const rssBefore = await rssMiB(pid);
  const cpuBefore = await cpuSeconds(pid);
  const samples: { t: number; done: number; rss: number }[] = [];
  let done = 0;
  const start = performance.now();
  const sampler = setInterval(() => {
    rssMiB(pid).then(
      (rss) => samples.push({ t: (performance.now() - start) / 1000, done, rss }),
      () => {},
    );
  }, 250);
  const progress = createProgress('serve bench', TOTAL);
  const results: Awaited<ReturnType<typeof post>>[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOTAL) {
        const i = next++;
        results.push(await post(i));
        done++;
        progress.tick();
      }
    }),
  );
  progress.done();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  const rssEnd = await rssMiB(pid);
  const cpuMsPerAnswer = (((await cpuSeconds(pid)) - cpuBefore) * 1000) / TOTAL;
  await new Promise((r) => setTimeout(r, 2000));
  const rssAfter = await rssMiB(pid);

  const lat = results.map((r) => r.ms).sort((a, b) => a - b);
  const srv = results.map((r) => r.serverMs).sort((a, b) => a - b);
  const during = samples.map((s) => s.rss);
  // Memory trend per quarter of the run: the minimum (after garbage collections) would climb with
  // a leak; the maximum follows V8's collection timing.
  const quarters = [0, 1, 2, 3].map((k) => {
    const xs = samples.filter((s) => s.done >= (k * TOTAL) / 4 && s.done < ((k + 1) * TOTAL) / 4 + (k === 3 ? 1 : 0)).map((s) => s.rss);
    return { quarter: k + 1, min: +Math.min(...xs).toFixed(1), max: +Math.max(...xs).toFixed(1), samples: xs.length };
  });
  const result = {
    backbone: savedModel ? null : backbone,
    model: savedModel ? modelDir : null,
    cam: [...new Set(results.map((r) => r.method))].join(','),
    workers: /(\d+) prediction\(s\) at once/.exec(stderr)?.[1] ?? '1',
    backend,
    requests: TOTAL,
    concurrency: CONCURRENCY,
    answered: results.length,
    ok: results.filter((r) => r.ok).length,
    statuses: results.reduce<Record<string, number>>((m, r) => {
      m[r.status] = (m[r.status] ?? 0) + 1;
      return m;
    }, {}),
    seconds,
    predictionsPerSecond: TOTAL / seconds,
    latencyMs: { median: quantile(lat, 0.5), p95: quantile(lat, 0.95), min: lat[0], max: lat[lat.length - 1] },
    serverMs: { median: quantile(srv, 0.5), p95: quantile(srv, 0.95) },
    cpuMsPerAnswer,
    loadAverage: os.loadavg(),
    rssMiB: {
      before: rssBefore,
      duringMin: Math.min(...during),
      duringMax: Math.max(...during),
      quarters,
      end: rssEnd,
      after2s: rssAfter,
      samples: samples.length,
    },
    rssSeries: samples.filter((_, i) => i % 4 === 0).map((s) => ({ t: +s.t.toFixed(2), done: s.done, rss: +s.rss.toFixed(1) })),
    tensorCheck: await tensorCheck(modelDir),
    images: images.length,
    cpus: os.cpus().length,
    node: process.version,
  };
  const outDir = path.join(root, 'runs', 'bench');
  await mkdir(outDir, { recursive: true });
  const modelTag = savedModel ? `model-${path.basename(path.dirname(modelDir))}` : backbone === 'mobilenet_v2' ? '' : backbone;
  const name = ['serve', modelTag, cam ?? '', workers ? `w${workers}` : '', TOTAL === 200 ? '' : `n${TOTAL}`].filter(Boolean).join('-');
  await writeFile(path.join(outDir, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
  const { rssSeries: _s, ...summary } = result;
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  if (result.ok !== TOTAL) process.exitCode = 1;
} finally {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await rm(tmp, { recursive: true, force: true });
}
