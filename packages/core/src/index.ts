export { stableStringify, hashBytes, hashString, hashObject } from './hash.ts';
export { createRng, deriveSeed, type Rng } from './rng.ts';
export { UserError, isUserFacingError } from './errors.ts';
export { createProgress, formatProgress, type Progress, type ProgressOptions } from './progress.ts';
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
  type StageResult,
  type RunStageOptions,
} from './stage.ts';
export {
  verifyStageDir,
  describeProblems,
  autoHashLimitBytes,
  hashFile,
  type VerifyMode,
  type VerifyReport,
  type VerifyProblem,
  type StageFileRecord,
} from './stage-verify.ts';
export {
  nxOutputDir,
  nxOutputRoot,
  publishNxOutput,
  adoptFromNxOutput,
  restoreFromNxOutput,
  type PublishNxOutputOptions,
} from './nx-output.ts';
export {
  ImageSetWriter,
  openImageSet,
  shardStream,
  IMAGESET_FILE,
  type ImageSet,
  type ImageSetHeader,
  type ImageSetShape,
  type ImageRecord,
  type ShardInfo,
  type Split,
} from './imageset.ts';
export { writeArray, readArray, type ArrayData, type ArrayDType, type TypedArray } from './array-file.ts';
export { parseArgs, stringFlag, runMain, type ParsedArgs } from './cli.ts';
export {
  composeExperimentSchema,
  EXPERIMENT_SECTIONS,
  type SchemaPart,
  type JSONSchema,
  type ExperimentSection,
} from './experiment/schema.ts';
export {
  loadExperiment,
  parseExperiment,
  defaultExperimentFile,
  section,
  experimentPath,
  formatIssues,
  ExperimentError,
  type Experiment,
  type ExperimentConfig,
  type ExperimentIssue,
} from './experiment/load.ts';
export {
  PIPELINE,
  stageDecl,
  stageChain,
  downstreamOf,
  codeHash,
  packageClosure,
  ensurePipeline,
  type StageName,
  type StageDecl,
  type StageRunner,
  type StageOutputRef,
  type PipelineContext,
} from './pipeline.ts';
export { WorkerPool, mapOrdered, defaultWorkerCount, transferablesOf, serveWorker } from './worker-pool.ts';
export { parseFlags, type FlagSpec, type FlagKind } from './args.ts';
export {
  corruptionSummary,
  mcnemarExact,
  pairedComparison,
  levelAtDrop,
  type CorruptionAccuracy,
  type CorruptionSummary,
  type PairedComparison,
} from './robustness.ts';
