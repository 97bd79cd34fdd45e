/**
 * Backend selection. Order for 'auto': tfjs-node-gpu, tfjs-node (optional dependencies, usually
 * absent: dynamic import, fall through cleanly), wasm (SIMD; Node gives no threads), cpu.
 * `MRI_BACKEND` in the environment overrides the requested preference. One backend per process:
 * a second call with a different explicit preference is an error; `currentBackend()` reports
 * what was chosen, for recording with every result.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { tf, type Tf } from './tf.ts';
import { registerWasmTrainingKernels } from '../kernels/wasm-training.ts';

export type BackendPreference = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export type BackendName = Exclude<BackendPreference, 'auto'>;
const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
const AUTO_ORDER: readonly BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

export interface SelectedBackend {
  /** Project name of the backend ('wasm', 'cpu', 'tfjs-node', 'tfjs-node-gpu'). */
  name: BackendName;
  /** tfjs engine backend name ('wasm', 'cpu', 'tensorflow'). */
  engineName: string;
  /** Extra facts worth recording (wasm SIMD/threads, why preferred backends were skipped). */
  details: Record<string, string | number | boolean>;
  tf: Tf;
}

let selected: SelectedBackend | null = null;
let pending: Promise<SelectedBackend> | null = null;

/** The backend this process selected, or null before `selectBackend` ran. */
export function currentBackend(): SelectedBackend | null {
  return selected;
}

function isPreference(s: string): s is BackendPreference {
  return (BACKEND_PREFERENCES as readonly string[]).includes(s);
}

/** Resolve the effective preference: `MRI_BACKEND` (if set) wins over the argument. */
function effectivePreference(preference: BackendPreference = 'auto'): BackendPreference {
  const env = process.env.MRI_BACKEND?.trim();
  if (env) {
    if (!isPreference(env)) {
      throw new Error(`MRI_BACKEND=${env} is not a backend; use one of ${BACKEND_PREFERENCES.join(', ')}`);
    }
    return env;
  }
  return preference;
}

async function tryNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<string | null> {
  try {
    // Optional dependency: absent on most machines. The import registers the 'tensorflow' backend.
    await import(/* @vite-ignore */ pkg);
  } catch (err) {
    return `${pkg} not available (${(err as Error).message.split('\n')[0]})`;
  }
  const ok = await tf.setBackend('tensorflow');
  return ok ? null : `${pkg} imported but setBackend('tensorflow') returned false`;
}

/** Directory holding the wasm binaries, ending with '/' (setWasmPaths requires the slash). */
function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkgJson), 'dist') + path.sep;
}

let wasmPrepared = false;
/**
 * Import the wasm backend, point it at its binaries and register the project's training kernels
 * (after the import, or the backend's own registrations would win). Does not switch backend.
 */
export async function prepareWasm(): Promise<void> {
  if (wasmPrepared) return;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmBinaryDir());
  registerWasmTrainingKernels();
  wasmPrepared = true;
}

async function tryWasm(details: SelectedBackend['details']): Promise<string | null> {
  try {
    await prepareWasm();
  } catch (err) {
    return `wasm backend failed to load (${(err as Error).message})`;
  }
  const ok = await tf.setBackend('wasm');
  if (!ok) return "setBackend('wasm') returned false";
  details.wasmSimd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  details.wasmThreads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  return null;
}

async function tryCpu(): Promise<string | null> {
  await import('@tensorflow/tfjs-backend-cpu');
  const ok = await tf.setBackend('cpu');
  return ok ? null : "setBackend('cpu') returned false";
}

async function attempt(name: BackendName, details: SelectedBackend['details']): Promise<string | null> {
  switch (name) {
    case 'tfjs-node-gpu':
      return tryNative('@tensorflow/tfjs-node-gpu');
    case 'tfjs-node':
      return tryNative('@tensorflow/tfjs-node');
    case 'wasm':
      return tryWasm(details);
    case 'cpu':
      return tryCpu();
  }
}

async function doSelect(pref: BackendPreference): Promise<SelectedBackend> {
  const details: SelectedBackend['details'] = { requested: pref };
  const order = pref === 'auto' ? AUTO_ORDER : [pref];
  const skipped: string[] = [];
  for (const name of order) {
    const why = await attempt(name, details);
    if (why === null) {
      await tf.ready();
      if (skipped.length) details.skipped = skipped.join('; ');
      return { name, engineName: tf.getBackend(), details, tf };
    }
    skipped.push(why);
  }
  throw new Error(`no TensorFlow.js backend could be set for '${pref}': ${skipped.join('; ')}`);
}

/**
 * Select and initialise the process's TensorFlow.js backend. Idempotent for the same effective
 * preference (or 'auto' after any selection); a conflicting explicit request throws.
 */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<SelectedBackend> {
  const pref = effectivePreference(preference);
  if (selected) {
    if (pref !== 'auto' && pref !== selected.name) {
      throw new Error(`backend already selected as '${selected.name}' in this process; cannot switch to '${pref}'`);
    }
    return selected;
  }
  if (!pending) {
    pending = doSelect(pref).then(
      (s) => (selected = s),
      (e) => {
        pending = null;
        throw e;
      },
    );
  }
  const s = await pending;
  if (pref !== 'auto' && pref !== s.name) {
    throw new Error(`backend already selected as '${s.name}' in this process; cannot switch to '${pref}'`);
  }
  return s;
}
