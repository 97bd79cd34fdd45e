/** The sweep objective computed from one epoch record (pure). */
import type { ObjectiveKind } from './schema.ts';

export interface EpochMetrics {
  valLoss: number;
  valAccuracy: number;
  valNoisyAccuracy?: number;
  /** Mean accuracy over the benchmark's validation sets (mri-c on the val split). */
  valCorruptionAccuracy?: number;
}

export type Direction = 'maximize' | 'minimize';

export function objectiveDirection(kind: ObjectiveKind): Direction {
  return kind === 'val_loss' ? 'minimize' : 'maximize';
}

/** The objective of one epoch; NaN when the epoch lacks what the objective needs. */
export function objectiveValue(kind: ObjectiveKind, e: EpochMetrics): number {
  switch (kind) {
    case 'val_accuracy':
      return e.valAccuracy;
    case 'val_loss':
      return e.valLoss;
    case 'mean_clean_noisy_val_accuracy':
      return e.valNoisyAccuracy === undefined || e.valNoisyAccuracy === null ? Number.NaN : (e.valAccuracy + e.valNoisyAccuracy) / 2;
    case 'mean_corruption_val_accuracy':
      return e.valCorruptionAccuracy === undefined || e.valCorruptionAccuracy === null ? Number.NaN : e.valCorruptionAccuracy;
  }
}

/** Maps an objective to "higher is better". */
export function oriented(direction: Direction, value: number): number {
  return direction === 'maximize' ? value : -value;
}

/** True when a is strictly better than b (NaN is never better). */
export function isBetter(direction: Direction, a: number, b: number | null | undefined): boolean {
  if (!Number.isFinite(a)) return false;
  if (b === null || b === undefined || !Number.isFinite(b)) return true;
  return direction === 'maximize' ? a > b : a < b;
}
