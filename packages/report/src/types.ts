/** The report's view of one sweep, read from the tracking database (camelCase, numbers as numbers). */

export type Direction = 'maximize' | 'minimize';

export interface StageRef {
  key?: string;
  dir?: string;
}

export interface SweepInfo {
  sweepId: string;
  name: string;
  experimentPath: string | null;
  experimentYaml: string | null;
  strategy: string | null;
  objective: string | null;
  direction: Direction;
  seed: number | null;
  status: string | null;
  gitCommit: string | null;
  backend: string | null;
  createdAt: string | null;
  finishedAt: string | null;
  nTrials: number | null;
  dataSummary: unknown;
  noiseSettings: unknown;
  stages: Record<string, StageRef>;
}

export interface TrialInfo {
  trialId: string;
  trialIndex: number;
  learningRate: number | null;
  dropout: number | null;
  batchSize: number | null;
  status: string;
  error: string | null;
  backend: string | null;
  seed: number | null;
  bestEpoch: number | null;
  objective: number | null;
  startedAt: string | null;
  endedAt: string | null;
  gitCommit: string | null;
}

export interface EpochInfo {
  trialId: string;
  epoch: number;
  trainLoss: number | null;
  trainAccuracy: number | null;
  valLoss: number | null;
  valAccuracy: number | null;
  valNoisyAccuracy: number | null;
  objective: number | null;
  learningRate: number | null;
  seconds: number | null;
}

export interface EvaluationInfo {
  trialId: string;
  testSet: string;
  /** 'none' for a clean set. */
  noiseKind: string;
  /** 0 for a clean set. */
  severity: number;
  n: number;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  macroF1: number | null;
  ece: number | null;
  eceCalibrated: number | null;
  /** Per-class recall and support (from the evaluation's per-class metrics), when recorded. */
  perClass?: ClassRecall[];
}

export interface ClassRecall {
  label: string;
  recall: number;
  support: number | null;
}

/** Scores of the fixed baseline model CE is normalised by (the model package's `ensureBaseline(experiment)`). */
export type { BaselineScores } from '@mri-robust/model';

export interface ConfusionCell {
  testSet: string;
  trueLabel: string;
  predLabel: string;
  count: number;
}

export interface SweepData {
  sweep: SweepInfo;
  trials: TrialInfo[];
  epochs: EpochInfo[];
  evaluations: EvaluationInfo[];
  /** Trial ids with a finite objective, best first (finished trials before others). */
  ranked: string[];
  /** Confusion cells of the best trial (every test set it has), empty when there is none. */
  bestConfusion: ConfusionCell[];
}

/** A short line per sweep for the index page. */
export interface SweepSummary {
  sweep: SweepInfo;
  trials: number;
  finished: number;
  best: { trialId: string; objective: number; cleanAccuracy: number | null; worstNoisyAccuracy: number | null } | null;
}
