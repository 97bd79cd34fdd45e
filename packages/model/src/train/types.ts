/** Types shared by the training loop and trials (contract: ARCHITECTURE.md, "Model API used by tuning"). */

export interface TrialParams {
  learningRate: number;
  dropout: number;
  batchSize: number;
}

export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  /** Accuracy on the noisy validation set(s), when the embed output has any. */
  valNoisyAccuracy?: number;
  /** Learning rate used during this epoch. */
  learningRate: number;
  /** Wall-clock seconds of the epoch (training + validation). */
  seconds: number;
}

type EpochDecision = 'continue' | 'stop';
export type OnEpoch = (e: EpochRecord) => Promise<EpochDecision> | EpochDecision;
