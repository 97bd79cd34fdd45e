/** Messages between the sweep orchestrator and its trial workers (Node IPC, JSON serialization). */
import type { Experiment } from '@mri-robust/core';
import type { EpochRecord, EvaluationRecord } from '@mri-robust/model';
import type { TrialParams } from './sampler.ts';

/** One trial as a worker runs it. */
export interface TrialJob {
  trialId: string;
  index: number;
  params: TrialParams;
  seed: number;
  /** The trial's folder: trainTrial saves `model/` and `evaluation.json` there; the log is `trial.log`. */
  outDir: string;
  /** Written into the model's metadata.json (`provenance`), checked by serve against the pointer it followed. */
  provenance?: { sweep: string; trial: string; experimentHash: string };
}

/** Upstream stage outputs, as returned by the stage functions. */
export interface StageRef {
  key: string;
  dir: string;
  hit: boolean;
}

export type ToWorker =
  | {
      type: 'init';
      /** The validated experiment as trials train with it (sweep section removed, epochs override applied). */
      experiment: Experiment;
      stages: Record<string, StageRef>;
    }
  | { type: 'trial'; job: TrialJob }
  | { type: 'decision'; trialId: string; epoch: number; action: 'continue' | 'stop' }
  | { type: 'shutdown' };

/** Epoch and evaluation records exactly as the model package's trainTrial produces them. */
export type EpochMessageRecord = EpochRecord;
export type EvaluationMessageRecord = EvaluationRecord;

export interface TrialResultMessage {
  bestEpoch: number;
  epochs: EpochMessageRecord[];
  modelDir: string;
  backend: string;
  evaluations: EvaluationMessageRecord[];
  temperature: number;
  /** Seconds spent inside trainTrial (training + evaluation + saving). */
  seconds: number;
}

export type FromWorker =
  | { type: 'ready'; pid: number; seconds: number }
  | { type: 'init-error'; message: string }
  | { type: 'epoch'; trialId: string; record: EpochMessageRecord }
  | { type: 'result'; trialId: string; result: TrialResultMessage }
  | { type: 'error'; trialId: string; message: string };
