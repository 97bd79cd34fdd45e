/**
 * Where report:build gets the CE baseline of a sweep: the experiment stored with the sweep, parsed
 * with the schema parts of the stages (so their defaults are filled in as when it ran), handed to the
 * model package's `ensureBaseline` — a cache hit once the baseline has been trained for that
 * experiment's data, else it embeds and trains it (minutes). Only when the experiment has corrupted
 * test sets (`noise.eval.benchmark` or `noise.eval.kinds`): without them there is nothing to normalise.
 */
import { parseExperiment, type Experiment, type SchemaPart } from '@mri-robust/core';
import { augmentSchemaPart } from '@mri-robust/augment';
import { dataSchemaPart } from '@mri-robust/data';
import { ensureBaseline, modelSchemaParts } from '@mri-robust/model';
import { benchmarkOf, noiseSchemaPart, noiseSettingsOf } from '@mri-robust/noise';
import type { BaselineProvider } from './build.ts';
import type { BaselineScores, SweepInfo } from './types.ts';

const STAGE_PARTS: readonly SchemaPart[] = [dataSchemaPart, noiseSchemaPart, augmentSchemaPart, ...modelSchemaParts];

/** The experiment stored with the sweep (null when none is stored); an invalid one throws its ExperimentError. */
function sweepExperiment(sweep: SweepInfo): Experiment | null {
  if (!sweep.experimentYaml) return null;
  return parseExperiment(sweep.experimentYaml, sweep.experimentPath ?? 'experiment.yaml', STAGE_PARTS);
}

/** Whether the experiment evaluates corrupted test sets (the mri-c benchmark or ad-hoc `noise.eval` kinds). */
function hasCorruptedSets(experiment: Experiment): boolean {
  return benchmarkOf(experiment) !== 'none' || (noiseSettingsOf(experiment).eval?.kinds ?? []).length > 0;
}

/** The provider report:build uses: `ensure` (default the model package's ensureBaseline) on the sweep's experiment. */
export function experimentBaseline(ensure: (experiment: Experiment) => Promise<BaselineScores> = ensureBaseline): BaselineProvider {
  return async (sweep) => {
    const experiment = sweepExperiment(sweep);
    if (!experiment || !hasCorruptedSets(experiment)) return null;
    return ensure(experiment);
  };
}
