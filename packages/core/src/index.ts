export { stableStringify, hashBytes, hashString, hashObject } from './hash.ts';
export { createRng, deriveSeed, type Rng } from './rng.ts';
export { UserError, isUserFacingError } from './errors.ts';
export { createProgress, formatProgress, type Progress } from './progress.ts';
export { median } from './stats.ts';
export { workspaceRoot, resolveFrom, sharedDir, gitCommit } from './paths.ts';
export {
  runStage,
  stageKey,
  stageDir,
  isStageComplete,
  readStageMeta,
  STAGE_MARKER,
  damagedDirOf,
  type StageMeta,
} from './stage.ts';
export {
  verifyStageDir,
  describeProblems,
  autoHashLimitBytes,
  hashFile,
  type VerifyMode,
  type VerifyReport,
} from './stage-verify.ts';
export { nxOutputDir, publishNxOutput } from './nx-output.ts';
export {
  ImageSetWriter,
  openImageSet,
  IMAGESET_FILE,
  type ImageSet,
  type ImageRecord,
  type Split,
} from './imageset.ts';
export { writeArray, readArray } from './array-file.ts';
export { parseArgs, stringFlag, runMain, type ParsedArgs } from './cli.ts';
export {
  schemaPart,
  StringEnum,
  IntegerEnum,
  Pair,
  type SchemaPart,
  type SectionIssue,
} from './experiment/schema.ts';
export {
  loadExperiment,
  parseExperiment,
  defaultExperimentFile,
  sectionOf,
  experimentPath,
  ExperimentError,
  type Experiment,
  type ExperimentIssue,
} from './experiment/load.ts';
export { codeHash, ensurePipeline, type StageRunner } from './pipeline.ts';
export { WorkerPool, mapOrdered, defaultWorkerCount } from './worker-pool.ts';
export { parseFlags, type FlagSpec } from './args.ts';
export {
  corruptionSummary,
  mcnemarExact,
  pairedComparison,
  levelAtDrop,
  type CorruptionSummary,
  type PairedComparison,
} from './robustness.ts';
