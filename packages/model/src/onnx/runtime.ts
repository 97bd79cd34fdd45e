/**
 * onnxruntime-node, loaded on first use (dynamic import: where it cannot load, the caller falls
 * back to tfjs). A session runs float32 batches: input [n, ...sample] → every output as a
 * row-major Float32Array with its dims.
 */
import type * as OrtModule from 'onnxruntime-node';

export type Ort = typeof OrtModule;

let loading: Promise<Ort> | null = null;

/** Imports onnxruntime-node once per process; rejects when the package or its binary cannot load. */
export function loadOrt(): Promise<Ort> {
  if (!loading) {
    loading = (async () => {
      const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
      const ort = (mod.InferenceSession ? mod : mod.default) as Ort;
      if (!ort?.InferenceSession) throw new Error('onnxruntime-node loaded without InferenceSession');
      return ort;
    })();
  }
  return loading;
}

export interface OutputArray {
  data: Float32Array;
  dims: number[];
}

export class OnnxSession {
  private constructor(
    private readonly ort: Ort,
    private readonly session: OrtModule.InferenceSession,
    readonly threads: number,
  ) {}

  /** A session on `bytes` with `threads` intra-op threads (one inter-op thread, sequential execution). */
  static async create(ort: Ort, bytes: Uint8Array, threads: number): Promise<OnnxSession> {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    return new OnnxSession(ort, session, threads);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs one batch; `names` picks outputs (default all). */
  async run(input: Float32Array, dims: number[], names?: readonly string[]): Promise<Record<string, OutputArray>> {
    const feeds = { [this.session.inputNames[0]]: new this.ort.Tensor('float32', input, dims) };
    const res = names ? await this.session.run(feeds, [...names]) : await this.session.run(feeds);
    const out: Record<string, OutputArray> = {};
    for (const [k, t] of Object.entries(res)) {
      out[k] = { data: t.data as Float32Array, dims: t.dims.map(Number) };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
