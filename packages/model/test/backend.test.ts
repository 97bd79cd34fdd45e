/** Backend selection, each case in its own process (one backend per process). */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const selectModule = path.resolve(here, '../src/backend/select.ts');

async function select(pref: string, env: Record<string, string> = {}) {
  const code = `
    const { selectBackend, currentBackend } = await import(${JSON.stringify(selectModule)});
    try {
      const s = await selectBackend(${JSON.stringify(pref)});
      const x = s.tf.tensor([1, 2, 3]);
      const sum = s.tf.sum(x).dataSync()[0];
      let second = 'ok';
      try { await selectBackend(s.name === 'cpu' ? 'wasm' : 'cpu'); } catch (e) { second = e.message; }
      console.log(JSON.stringify({ name: s.name, engine: s.tf.getBackend(), details: s.details, sum, current: currentBackend()?.name, second }));
    } catch (e) { console.log(JSON.stringify({ error: e.message })); }
  `;
  const r = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, MRI_BACKEND: '', ...env },
    cwd: path.resolve(here, '../../..'),
  });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

describe('selectBackend', () => {
  it('auto falls through the absent native backends to wasm with SIMD', async () => {
    const r = await select('auto');
    expect(r.name).toBe('wasm');
    expect(r.engine).toBe('wasm');
    expect(r.sum).toBe(6);
    expect(r.details.wasmSimd).toBe(true);
    expect(String(r.details.skipped)).toMatch(/tfjs-node-gpu not available.*tfjs-node not available/);
    expect(r.current).toBe('wasm');
    expect(r.second).toMatch(/already selected as 'wasm'/);
  });

  it('MRI_BACKEND overrides the requested backend', async () => {
    const r = await select('wasm', { MRI_BACKEND: 'cpu' });
    expect(r.name).toBe('cpu');
    expect(r.engine).toBe('cpu');
    expect(r.sum).toBe(6);
  });

  it('an absent explicit backend and a bad MRI_BACKEND are clear errors', async () => {
    expect((await select('tfjs-node')).error).toMatch(/no TensorFlow.js backend could be set for 'tfjs-node'/);
    expect((await select('auto', { MRI_BACKEND: 'gpu' })).error).toMatch(/MRI_BACKEND=gpu is not a backend/);
  });
});
