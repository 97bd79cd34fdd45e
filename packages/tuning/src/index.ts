// Public API of @mri-robust/tuning.
export {
  sweepSchemaPart,
  sweepSchema,
  resolveSweepSettings,
  checkSweepSection,
  OBJECTIVES,
  PRUNERS,
  type SweepSection,
  type SweepSettings,
  type PrunerSettings,
  type ObjectiveKind,
  type PrunerKind,
  type Dimension,
} from './schema.ts';
export { gridTrials, randomTrials, sampleTrials, type TrialParams } from './sampler.ts';
export {
  createPruner,
  createMedianPruner,
  createSuccessiveHalvingPruner,
  createNoPruner,
  rungOf,
  type Pruner,
  type Decision,
} from './pruner.ts';
export { objectiveValue, objectiveDirection, isBetter, type Direction } from './objective.ts';
export { planTrials, experimentHash, sweepIdOf, trialExperiment, type PlannedTrial } from './plan.ts';
export { summaryTable, bestTrialReport } from './summary.ts';
export { runSweep, loadSweep, ensureStages, type SweepOptions, type SweepResult, type LoadedSweep } from './sweep.ts';
export { writeSweepPointers, writeBestGallery, LATEST_POINTER, BEST_POINTER, GALLERY_DIR } from './pointers.ts';
