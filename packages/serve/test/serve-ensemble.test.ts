/**
 * An ensemble served as "the model": two real tiny models (the project's cnn, two seeds) behind one
 * server on 127.0.0.1; each answer is the mean of the members' calibrated probabilities (checked
 * against each member served alone, same scan), the page lists the members, a member with other
 * preprocessing is refused with one line, and `serve start --model A,B` starts in a real child process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { selectBackend, trainTinyModel, TINY_CLASSES } from '@mri-robust/model';
import { loadPredictHandler, type ModelHandler } from '../src/predictor.ts';
import { runServe } from '../src/run.ts';
import { startServer, type RunningServer } from '../src/server.ts';

const shared = sharedDir();
const scan = (cls: string, name = 'image(2).jpg') => readFileSync(path.join(shared, 'datasets', 'sartaj', 'Testing', cls, name));

async function predict(url: string, bytes: Uint8Array): Promise<Record<string, unknown>> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)]), 'scan.jpg');
  const res = await fetch(new URL('predict', url), { method: 'POST', body: form });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe('serve: an ensemble as the model', () => {
  let root: string;
  let dirs: { a: string; b: string; other: string };
  const handlers: ModelHandler[] = [];
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    await selectBackend('auto');
    root = mkdtempSync(path.join(tmpdir(), 'serve-ensemble-'));
    dirs = { a: path.join(root, 'a'), b: path.join(root, 'b'), other: path.join(root, 'other') };
    await trainTinyModel({ outDir: dirs.a, sharedDir: shared, perClass: 6, epochs: 3, seed: 1 });
    await trainTinyModel({ outDir: dirs.b, sharedDir: shared, perClass: 6, epochs: 3, seed: 2 });
    await trainTinyModel({ outDir: dirs.other, sharedDir: shared, perClass: 4, epochs: 1, size: 40 });
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const h of handlers) h.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function serve(models: string | string[]): Promise<{ url: string; handler: ModelHandler }> {
    const handler = await loadPredictHandler(models);
    handlers.push(handler);
    const s = await startServer(handler, { port: 0 });
    servers.push(s);
    return { url: s.url, handler };
  }

  it("answers with the mean of the members' calibrated probabilities; the page lists the members", async () => {
    const ens = await serve([dirs.a, dirs.b]);
    const a = await serve(dirs.a);
    const b = await serve(dirs.b);
    expect(ens.handler.members?.map((m) => m.dir)).toEqual([dirs.a, dirs.b]);
    expect(a.handler.members).toBeUndefined();
    for (const cls of ['glioma_tumor', 'no_tumor', 'pituitary_tumor']) {
      const bytes = scan(cls);
      const [e, pa, pb] = [await predict(ens.url, bytes), await predict(a.url, bytes), await predict(b.url, bytes)];
      const probs = e.probabilities as Record<string, number>;
      const [qa, qb] = [pa.probabilities as Record<string, number>, pb.probabilities as Record<string, number>];
      for (const c of TINY_CLASSES) expect(probs[c]).toBeCloseTo((qa[c] + qb[c]) / 2, 6);
      const best = TINY_CLASSES.reduce((x, c) => (probs[c] > probs[x] ? c : x), TINY_CLASSES[0]);
      expect(e.class).toBe(best);
      // The map is the first member's, of its own class.
      expect(e.gradcamClass).toBe(pa.class);
      expect(e.gradcam).toBe(pa.gradcam);
      const members = (e.ensemble as { members: { dir: string; probabilities: Record<string, number> }[] }).members;
      expect(members.map((m) => m.dir)).toEqual([dirs.a, dirs.b]);
      for (const c of TINY_CLASSES) {
        expect(members[0].probabilities[c]).toBeCloseTo(qa[c], 6);
        expect(members[1].probabilities[c]).toBeCloseTo(qb[c], 6);
      }
    }
    const html = await (await fetch(ens.url)).text();
    expect(html).toContain('<h2>Ensemble of 2 models</h2>');
    expect(html).toContain(`<tr data-member="1"><td>1</td><td>${dirs.a}</td><td>tiny-model</td>`);
    expect(html).toContain(`<tr data-member="2"><td>2</td><td>${dirs.b}</td>`);
    expect(html).toContain('mean of the members&#39; calibrated probabilities');
    expect(html).toMatch(/Model: ensemble of 2 models/);
    expect(await (await fetch(a.url)).text()).not.toContain('id="ensemble"');
  });

  it('--cam chooses the map of each answer: grad-cam by default, layer-cam on request, anything else refused', async () => {
    const grad = await serve(dirs.a);
    const l = await loadPredictHandler(dirs.a, { method: 'layer-cam' });
    handlers.push(l);
    const ls = await startServer(l, { port: 0 });
    servers.push(ls);
    const bytes = scan('glioma_tumor');
    const [pl, pg] = [await predict(ls.url, bytes), await predict(grad.url, bytes)];
    expect(pl.gradcamMethod).toBe('layer-cam');
    expect(pg.gradcamMethod).toBe('grad-cam');
    expect(pg.probabilities).toEqual(pl.probabilities);
    await expect(runServe({ model: dirs.a, port: '0', cam: 'bogus' })).rejects.toThrow('--cam bogus: expected layer-cam or grad-cam');
  });

  it('refuses a member with other preprocessing, naming both folders', async () => {
    await expect(loadPredictHandler([dirs.a, dirs.other])).rejects.toThrow(
      new RegExp(
        `^${dirs.other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot join an ensemble with .*/a: decode.size is 40 here, 48 in the first; inputSize is 40 here, 48 in the first$`,
      ),
    );
  });

  it('serve start --model A,B runs the ensemble in a real child process', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'packages/serve/src/cli.ts', 'start', `--model=${dirs.a},${dirs.b}`, '--port=0'], {
      cwd: workspaceRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const m = /serving (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
      });
      expect(err).toMatch(/ensemble of 2 models \(--model .*\/a,.*\/b\)/);
      const r = await predict(url.endsWith('/') ? url : `${url}/`, scan('meningioma_tumor'));
      expect((r.ensemble as { members: unknown[] }).members).toHaveLength(2);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
