/**
 * Sweep and trial identities (pure). The sweep id comes from the experiment's hash, so running
 * the same experiment again resumes the same sweep; settings that do not change results
 * (max_parallel, trial_timeout_s, and `runs`: where the output folder is, so a moved or copied
 * runs folder resumes its sweeps) are left out of the hash. A trial's config hash covers
 * everything that determines its result: the experiment without the sweep section (with the
 * epochs override applied), its parameters and its seed.
 *
 * A trial's training key (what decides whether a saved model can be reused, see reuse.ts) covers
 * what its training depends on and nothing its test evaluation alone reads: the experiment without
 * the noisy test sets, the evaluate and report sections, name and description; the embed output's
 * training-side key (clean splits and noisy validation sets); the sweep section (the pruner decides
 * where a trial stops); the parameters, the seed and the tuning code.
 */
import { deriveSeed, hashObject } from '@mri-robust/core';
import { trialCount, trialParamsAt, type TrialParams } from './sampler.ts';
import type { SweepSettings } from './schema.ts';

export interface PlannedTrial {
  trialId: string;
  index: number;
  params: TrialParams;
  seed: number;
  configHash: string;
  /** Training key (set once the embed stage is known; absent in records of older code). */
  trainingKey?: string;
}

type Json = Record<string, unknown>;

function slug(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'sweep'
  );
}

/** The experiment as hashed for the sweep id (without fields that do not change results). */
function sweepIdentity(experiment: Json): Json {
  const sweep = { ...((experiment.sweep as Json | undefined) ?? {}) };
  delete sweep.max_parallel;
  delete sweep.trial_timeout_s;
  delete sweep.queue;
  const out: Json = { ...experiment, sweep };
  // Bookkeeping fields a loader may add (where the file lives) and where the runs folder is are not
  // part of the experiment.
  for (const k of ['file', 'path', 'dir', 'source', '__file', 'runs']) delete out[k];
  return out;
}

export function experimentHash(experiment: Json): string {
  return hashObject(sweepIdentity(experiment));
}

export function sweepIdOf(name: string, expHash: string): string {
  return `${slug(name)}-${expHash.slice(0, 10)}`;
}

/** The experiment a trial trains with: the sweep section removed, epochs overridden when set. */
export function trialExperiment(experiment: Json, epochs: number | null): Json {
  const out: Json = { ...experiment };
  delete out.sweep;
  if (epochs !== null) out.train = { ...((out.train as Json | undefined) ?? {}), epochs };
  return out;
}

export function planTrials(experiment: Json, settings: SweepSettings): PlannedTrial[] {
  const base = sweepIdentity(trialExperiment(experiment, settings.epochs));
  const width = Math.max(3, String(Math.max(0, (settings.trials ?? 0) - 1)).length);
  return Array.from({ length: trialCount(settings) }, (_, index) => {
    const params = trialParamsAt(settings, index);
    const seed = deriveSeed(settings.seed, 'trial', index);
    const configHash = hashObject({ experiment: base, params, seed });
    return { trialId: `t${String(index).padStart(width, '0')}-${configHash.slice(0, 8)}`, index, params, seed, configHash };
  });
}

/** The experiment as hashed for a training key: `sweepIdentity` without what only test evaluation reads. */
function trainingIdentity(experiment: Json): Json {
  const out: Json = { ...sweepIdentity(experiment) };
  for (const k of ['name', 'description', 'evaluate', 'report']) delete out[k];
  if (out.noise && typeof out.noise === 'object') {
    // noise.eval: the noisy validation sets among them are in the embed training key.
    const noise: Json = { ...(out.noise as Json) };
    delete noise.eval;
    out.noise = noise;
  }
  return out;
}

/** The trials with their training keys (`embedTrainingKey`: the embed output's, `code`: the tuning code's hash). */
export function withTrainingKeys(
  trials: readonly PlannedTrial[],
  experiment: Json,
  settings: SweepSettings,
  embedTrainingKey: string,
  code: string,
): PlannedTrial[] {
  const identity = trainingIdentity({ ...trialExperiment(experiment, settings.epochs), sweep: experiment.sweep });
  return trials.map((t) => ({ ...t, trainingKey: hashObject({ identity, embed: embedTrainingKey, params: t.params, seed: t.seed, code }).slice(0, 16) }));
}
