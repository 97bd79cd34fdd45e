/**
 * Several saved model folders answering as one model, and test-time augmentation:
 * - members must agree on classes and preprocessing (refused otherwise, one line naming both folders);
 * - each member's probabilities are calibrated with its own temperature (softmax(log p / T_m)) and
 *   the ensemble's answer is the mean of those calibrated probabilities (members fitted on the same
 *   validation split, so each is already on a comparable confidence scale); the mean of the raw
 *   probabilities is kept beside it for the uncalibrated ECE;
 * - `tta: 'hflip'`: a member's raw probabilities are the mean over the network input and its
 *   horizontal mirror (flipped after preprocessing: exactly the mirrored image the network would see),
 *   then calibrated.
 * Forward passes run each folder's model.onnx on ONNX Runtime (the whole network, image → probabilities),
 * tfjs where ONNX Runtime is unavailable.
 */
import { existsSync } from 'node:fs';
import { UserError } from '@mri-robust/core';
import { selectInference, type InferencePreference, type InferenceRecord } from './backend/inference.ts';
import { currentBackend, selectBackend } from './backend/select.ts';
import { logitsFromProbabilities, softmaxRows } from './metrics/calibration.ts';
import { createForward, type Forward } from './onnx/forward.ts';
import { preprocessingDiffs } from './predict.ts';
import { loadModel, type ModelMetadata, type Preprocessing } from './save.ts';

export const TTA_MODES = ['none', 'hflip'] as const;
export type Tta = (typeof TTA_MODES)[number];

interface EnsembleMember {
  dir: string;
  metadata: ModelMetadata;
  forward: Forward;
}

export interface Ensemble {
  members: EnsembleMember[];
  classes: string[];
  preprocessing: Preprocessing;
  inference: InferenceRecord;
  dispose(): Promise<void>;
}

export interface EnsembleOptions {
  inference?: InferencePreference;
  threads?: number;
  log?: (line: string) => void;
}

/** Why `other` cannot join an ensemble whose first member is `first` (empty: it can). */
export function memberMismatch(first: Pick<ModelMetadata, 'classes' | 'preprocessing'>, other: Pick<ModelMetadata, 'classes' | 'preprocessing'>): string[] {
  const out: string[] = [];
  if (first.classes.join('\u0000') !== other.classes.join('\u0000')) out.push(`classes [${other.classes.join(', ')}] ≠ [${first.classes.join(', ')}]`);
  out.push(
    ...preprocessingDiffs(other.preprocessing, first.preprocessing).map((d) => d.replace(' in the model, ', ' here, ').replace(/ expected$/, ' in the first')),
  );
  return out;
}

/** Parses `A[,B,C]` (a comma-separated list of folders) into distinct, non-empty entries. */
export function parseModelList(value: string, flag = '--model'): string[] {
  const dirs = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!dirs.length) throw new UserError(`${flag}: no model folder given`);
  return dirs;
}

/** Loads the folders as one ensemble (each on the selected engine; model.onnx where the folder has one). */
export async function loadEnsemble(dirs: readonly string[], opts: EnsembleOptions = {}): Promise<Ensemble> {
  if (!dirs.length) throw new UserError('an ensemble needs at least one model folder');
  if (!currentBackend()) await selectBackend('auto');
  const engine = await selectInference(opts.inference ?? 'auto', opts.threads, opts.log);
  const members: EnsembleMember[] = [];
  const disposers: (() => void)[] = [];
  const disposeAll = async () => {
    for (const m of members) await m.forward.dispose();
    for (const d of disposers) d();
  };
  try {
    for (const dir of dirs) {
      if (!existsSync(dir)) throw new UserError(`model folder ${dir} does not exist`);
      const { model, metadata, onnx } = await loadModel(dir);
      disposers.push(() => model.dispose());
      if (members.length) {
        const diffs = memberMismatch(members[0].metadata, metadata);
        if (diffs.length) throw new UserError(`${dir}: cannot join an ensemble with ${members[0].dir}: ${diffs.join('; ')}`);
      }
      // Only the probabilities: no Grad-CAM output.
      const forward = await createForward(model, engine, onnx ? { onnx, outputs: ['output'] } : {});
      members.push({ dir, metadata, forward });
    }
  } catch (e) {
    await disposeAll();
    throw e;
  }
  const first = members[0];
  return {
    members,
    classes: [...first.metadata.classes],
    preprocessing: first.metadata.preprocessing,
    inference: { engine: first.forward.engine, threads: first.forward.threads },
    dispose: disposeAll,
  };
}

/** `n` NHWC images mirrored left–right (row-major [n, h, w, c]). */
export function flipHorizontal(input: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  if (input.length !== n * h * w * c) throw new RangeError(`flipHorizontal: ${input.length} values for [${n}, ${h}, ${w}, ${c}]`);
  const out = new Float32Array(input.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      const row = (i * h + y) * w * c;
      for (let x = 0; x < w; x++) {
        const from = row + x * c;
        const to = row + (w - 1 - x) * c;
        for (let ch = 0; ch < c; ch++) out[to + ch] = input[from + ch];
      }
    }
  }
  return out;
}

/** Element-wise mean of equally long arrays. */
export function meanArrays(arrays: readonly Float32Array[]): Float32Array {
  if (!arrays.length) throw new RangeError('meanArrays: nothing to average');
  const out = new Float32Array(arrays[0].length);
  for (const a of arrays) {
    if (a.length !== out.length) throw new RangeError(`meanArrays: lengths ${a.length} and ${out.length}`);
    for (let i = 0; i < a.length; i++) out[i] += a[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= arrays.length;
  return out;
}

export interface EnsembleOutput {
  /** Mean of the members' calibrated probabilities: the ensemble's answer, row-major [n, k]. */
  calibrated: Float32Array;
  /** Mean of the members' raw (uncalibrated) probabilities. */
  raw: Float32Array;
}

/**
 * Probabilities of `n` preprocessed network inputs (row-major [n, s, s, c], as imagesToTensor gives)
 * under every member, with test-time augmentation `tta`.
 */
export async function ensembleProbabilities(ens: Ensemble, input: Float32Array, n: number, tta: Tta): Promise<EnsembleOutput> {
  const p = ens.preprocessing;
  const flipped = tta === 'hflip' ? flipHorizontal(input, n, p.inputSize, p.inputSize, p.inputChannels) : null;
  const k = ens.classes.length;
  const raws: Float32Array[] = [];
  const cals: Float32Array[] = [];
  for (const m of ens.members) {
    const [y] = await m.forward.run(input, n);
    let raw: Float32Array = Float32Array.from(y.data);
    if (flipped) {
      const [yf] = await m.forward.run(flipped, n);
      raw = meanArrays([raw, Float32Array.from(yf.data)]);
    }
    if (raw.length !== n * k) throw new Error(`${m.dir}: the network gives ${raw.length / n} outputs per image, metadata.json lists ${k} classes`);
    raws.push(raw);
    cals.push(softmaxRows(logitsFromProbabilities(raw), k, m.metadata.temperature));
  }
  return { calibrated: meanArrays(cals), raw: meanArrays(raws) };
}
