/**
 * Inference engine selection: every forward pass (embed stage, evaluation, predict, Grad-CAM,
 * serve) runs on ONNX Runtime (onnxruntime-node) or on TensorFlow.js, which stays the training API.
 *   model.inference: auto (default) | onnxruntime | tfjs   — env MRI_INFERENCE overrides;
 *   model.threads: intra-op threads of ONNX Runtime      — env MRI_THREADS overrides (a sweep
 *   running N trials at once gives each cores/N); default: the cores available to the process.
 * 'auto' uses onnxruntime where it loads and otherwise tfjs, saying so once on stderr. The choice
 * is recorded with every result (`{ engine, threads }`), like the tfjs backend.
 */
import os from 'node:os';
import { UserError } from '@mri-robust/core';
import { loadOrt, type Ort } from '../onnx/runtime.ts';

export type InferencePreference = 'auto' | 'onnxruntime' | 'tfjs';
export type InferenceEngineName = Exclude<InferencePreference, 'auto'>;
const INFERENCE_PREFERENCES: readonly InferencePreference[] = ['auto', 'onnxruntime', 'tfjs'];

export interface InferenceEngine {
  engine: InferenceEngineName;
  /** Intra-op threads of ONNX Runtime (tfjs: 1; its wasm backend has no threads in Node). */
  threads: number;
  /** Loaded onnxruntime-node (engine 'onnxruntime' only). */
  ort: Ort | null;
  /** Why onnxruntime was not used, when 'auto' fell back. */
  fallback?: string;
  /** 'onnxruntime' when asked for explicitly: a network the exporter cannot convert is then an error, not a fallback. */
  strict?: boolean;
}

/** What results record about the engine. */
export interface InferenceRecord {
  engine: InferenceEngineName;
  threads: number;
}

function positiveInt(raw: string, what: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${what}=${raw}: expected an integer ≥ 1`);
  return n;
}

/** Threads for inference: MRI_THREADS, else the setting, else the cores available to the process. */
export function resolveThreads(setting?: number | null): number {
  const env = process.env.MRI_THREADS?.trim();
  if (env) return positiveInt(env, 'MRI_THREADS');
  if (setting != null) return setting;
  return Math.max(1, os.availableParallelism());
}

/** The effective preference: MRI_INFERENCE (if set) wins over the setting. */
function effectiveInference(preference: InferencePreference = 'auto'): InferencePreference {
  const env = process.env.MRI_INFERENCE?.trim();
  if (!env) return preference;
  if (!(INFERENCE_PREFERENCES as readonly string[]).includes(env)) {
    throw new UserError(`MRI_INFERENCE=${env} is not an inference engine; use one of ${INFERENCE_PREFERENCES.join(', ')}`);
  }
  return env as InferencePreference;
}

let warned = false;

/**
 * Resolves the engine for this process's forward passes. 'onnxruntime' that cannot load is an
 * error; 'auto' then falls back to tfjs and says so once per process on stderr.
 */
export async function selectInference(
  preference: InferencePreference = 'auto',
  threadsSetting?: number | null,
  log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<InferenceEngine> {
  const pref = effectiveInference(preference);
  if (pref === 'tfjs') return { engine: 'tfjs', threads: 1, ort: null };
  const threads = resolveThreads(threadsSetting);
  try {
    return { engine: 'onnxruntime', threads, ort: await loadOrt(), strict: pref === 'onnxruntime' };
  } catch (e) {
    const why = `onnxruntime-node cannot be loaded (${(e as Error).message.split('\n')[0]})`;
    if (pref === 'onnxruntime') throw new UserError(`model.inference is onnxruntime but ${why}; use model.inference: auto or tfjs`);
    if (!warned) {
      warned = true;
      log(`[inference] ${why}: forward passes run on TensorFlow.js instead`);
    }
    return { engine: 'tfjs', threads: 1, ort: null, fallback: why };
  }
}
