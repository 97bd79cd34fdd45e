/**
 * What a sweep comparison shows, read from the tracking database and the trial folders: the best
 * trial of each sweep with its test evaluations, the experiment settings that differ, whether two
 * sweeps' test sets are the same images, and the per-image predictions where a trial saved them.
 *
 * Identical test sets: the clean test split is the same images when the ingest stage keys are equal
 * (same sources, settings, seed and code); a noisy set additionally needs the same `noise.eval`
 * section and experiment seed (its images are drawn per record from those). When both trials saved
 * per-image predictions, their image ids must also match.
 *
 * Per-image predictions: `<runs>/trials/<sweep>/<trial>/predictions.json` =
 * `{ classes: string[], sets: { <test set>: { ids: string[], labels: number[], predicted: number[] } } }`.
 * The paired test (McNemar, paired bootstrap) needs them; without them the comparison falls back to
 * an unpaired interval from each model's own bootstrap interval.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseExperiment, stableStringify, UserError } from '@mri-robust/core';
import { noiseSettingsOf } from '@mri-robust/noise';
import type { Tracking } from '@mri-robust/tracking';
import { readSweepData, resolveSweep } from '../data.ts';
import { byTrial, testEvaluations } from '../rows.ts';
import type { EvaluationInfo, SweepData } from '../types.ts';

const PREDICTIONS_FILE = 'predictions.json';

interface SetPredictions {
  ids: string[];
  labels: number[];
  predicted: number[];
}

interface TrialPredictions {
  file: string;
  classes: string[];
  sets: Record<string, SetPredictions>;
}

export interface ComparedSweep {
  data: SweepData;
  /** The best trial, or null when the sweep has none with an objective. */
  best: string | null;
  /** The best trial's test evaluations. */
  evaluations: EvaluationInfo[];
  /** Experiment seed and `noise.eval`, from the YAML stored with the sweep (null when unreadable). */
  seed: number | null;
  noiseEval: string | null;
  ingestKey: string | null;
  /** Flattened experiment config (dotted paths → JSON values), for the list of differences. */
  settings: Record<string, string>;
  predictions: TrialPredictions | null;
  /** Why there are no predictions (the file looked for). */
  predictionsNote: string;
}

/** Pure: `{a: {b: 1}, c: [1]}` → `{ 'a.b': '1', c: '[1]' }` (arrays are leaves). */
export function flattenSettings(v: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flattenSettings(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = stableStringify(v ?? null);
  }
  return out;
}

/** Pure: the dotted settings whose values differ between the sweeps (or exist in only some). */
export function settingDifferences(sweeps: readonly Pick<ComparedSweep, 'settings'>[]): { key: string; values: (string | null)[] }[] {
  const keys = [...new Set(sweeps.flatMap((s) => Object.keys(s.settings)))].sort();
  return keys.map((key) => ({ key, values: sweeps.map((s) => s.settings[key] ?? null) })).filter((d) => new Set(d.values).size > 1);
}

function readPredictions(file: string): { predictions: TrialPredictions | null; note: string } {
  if (!fs.existsSync(file)) return { predictions: null, note: `no ${file}` };
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { classes?: unknown; sets?: Record<string, Partial<SetPredictions>> };
    const sets: Record<string, SetPredictions> = {};
    for (const [name, s] of Object.entries(json.sets ?? {})) {
      if (
        !Array.isArray(s.ids) ||
        !Array.isArray(s.labels) ||
        !Array.isArray(s.predicted) ||
        s.ids.length !== s.labels.length ||
        s.ids.length !== s.predicted.length
      ) {
        return { predictions: null, note: `${file}: set ${name} does not have ids, labels and predicted of one length` };
      }
      sets[name] = { ids: s.ids.map(String), labels: s.labels.map(Number), predicted: s.predicted.map(Number) };
    }
    return { predictions: { file, classes: Array.isArray(json.classes) ? json.classes.map(String) : [], sets }, note: '' };
  } catch (e) {
    return { predictions: null, note: `${file}: ${(e as Error).message.split('\n')[0]}` };
  }
}

async function readComparedSweep(db: Tracking, sweepId: string, runsDir: string): Promise<ComparedSweep> {
  const sweep = await resolveSweep(db, sweepId);
  const data = await readSweepData(db, sweep);
  const best = data.ranked[0] ?? null;
  const evaluations = best === null ? [] : (byTrial(testEvaluations(data.evaluations)).get(best) ?? []);
  let seed: number | null = null;
  let noiseEval: string | null = null;
  let settings: Record<string, string> = {};
  if (sweep.experimentYaml) {
    try {
      const exp = parseExperiment(sweep.experimentYaml, sweep.experimentPath ?? 'experiment.yaml', []);
      seed = exp.seed;
      noiseEval = stableStringify(noiseSettingsOf(exp).eval ?? null);
      settings = flattenSettings(exp.config);
    } catch {
      // an unreadable stored experiment: no seed, so noisy sets are not taken as identical
    }
  }
  const predFile = best === null ? '' : path.join(runsDir, 'trials', sweep.sweepId, best, PREDICTIONS_FILE);
  const { predictions, note } = best === null ? { predictions: null, note: 'no best trial' } : readPredictions(predFile);
  return { data, best, evaluations, seed, noiseEval, ingestKey: sweep.stages.ingest?.key ?? null, settings, predictions, predictionsNote: note };
}

/** Reads every sweep named (at least two, no repeats); a UserError naming the bad id otherwise. */
export async function readComparison(db: Tracking, sweepIds: readonly string[], runsDir: string): Promise<ComparedSweep[]> {
  if (sweepIds.length < 2)
    throw new UserError(`--sweeps: give at least two sweep ids separated by commas (got ${sweepIds.length ? sweepIds.join(',') : 'none'})`);
  const dup = sweepIds.find((s, i) => sweepIds.indexOf(s) !== i);
  if (dup) throw new UserError(`--sweeps: ${dup} is named twice`);
  const out: ComparedSweep[] = [];
  for (const id of sweepIds) {
    try {
      out.push(await readComparedSweep(db, id, runsDir));
    } catch (e) {
      if (e instanceof UserError) throw new UserError(e.message.replace(/^--sweep /, '--sweeps: '));
      throw e;
    }
  }
  return out;
}

/** Pure: whether test set `set` holds the same images in both sweeps, and why not when it does not. */
export function sameTestImages(a: ComparedSweep, b: ComparedSweep, set: string, clean: boolean): { same: boolean; why: string } {
  if (!a.ingestKey || a.ingestKey !== b.ingestKey) return { same: false, why: 'different ingest outputs (sources, image settings, split or seed)' };
  if (!clean && (a.seed === null || a.seed !== b.seed)) return { same: false, why: 'different experiment seeds (noisy images are drawn per seed)' };
  if (!clean && a.noiseEval !== b.noiseEval) return { same: false, why: 'different noise.eval settings' };
  const pa = a.predictions?.sets[set];
  const pb = b.predictions?.sets[set];
  if (pa && pb && (pa.ids.length !== pb.ids.length || pa.ids.some((id, i) => id !== pb.ids[i]) || pa.labels.some((l, i) => l !== pb.labels[i]))) {
    return { same: false, why: 'the saved predictions list different images' };
  }
  return { same: true, why: clean ? 'same ingest output' : 'same ingest output, seed and noise.eval' };
}
