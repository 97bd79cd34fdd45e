/**
 * Evaluation of predicted probabilities on one test set: accuracy with a seeded 95 % bootstrap
 * interval, per-class precision/recall/F1, macro-F1, confusion matrix and ECE before and after
 * temperature scaling. Pure: probabilities in, record out.
 */
import { createRng } from '@mri-robust/core';
import {
  argmaxRows,
  bootstrapMeanInterval,
  confusionMatrix,
  expectedCalibrationError,
  logitsFromProbabilities,
  macroF1,
  perClassMetrics,
  softmaxRows,
  type ClassMetrics,
} from './metrics/index.ts';

export interface EvaluationRecord {
  testSet: string;
  /** 'none' for the clean test set. */
  noiseKind: string;
  /** 0 for the clean test set. */
  severity: number;
  n: number;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  macroF1: number;
  ece: number;
  eceCalibrated: number;
  perClass: ClassMetrics[];
  confusion: number[][];
  classes: string[];
}

export interface EvaluateInput {
  testSet: string;
  noiseKind: string;
  severity: number;
  /** Uncalibrated class probabilities, row-major [n, classes]. */
  probs: Float32Array;
  /**
   * Calibrated probabilities when they are not softmax(log probs / temperature) — an ensemble's
   * mean of its members' calibrated probabilities (`probs` then the mean of their raw ones). When
   * given, the decisions (accuracy, F1, confusion) are their argmax and `temperature` is unused.
   */
  calibrated?: Float32Array;
  labels: Int32Array;
  classes: string[];
  /** Temperature fitted on validation (1 = none). */
  temperature: number;
  bootstrapSamples: number;
  eceBins: number;
  /** Seed of the bootstrap resampling. */
  seed: number;
}

export function evaluateProbabilities(input: EvaluateInput): EvaluationRecord {
  const k = input.classes.length;
  const { probs, labels } = input;
  if (probs.length !== labels.length * k) {
    throw new Error(`${input.testSet}: ${probs.length} probabilities for ${labels.length} samples × ${k} classes`);
  }
  if (input.calibrated && input.calibrated.length !== probs.length) {
    throw new Error(`${input.testSet}: ${input.calibrated.length} calibrated probabilities for ${probs.length} raw ones`);
  }
  const calibrated = input.calibrated ?? softmaxRows(logitsFromProbabilities(probs), k, input.temperature);
  const pred = argmaxRows(input.calibrated ?? probs, k);
  const confusion = confusionMatrix(labels, pred, k);
  const correct = Float64Array.from(labels, (y, i) => (pred[i] === y ? 1 : 0));
  const acc = labels.length ? correct.reduce((a, b) => a + b, 0) / labels.length : Number.NaN;
  const ci = bootstrapMeanInterval(correct, input.bootstrapSamples, createRng(input.seed));
  const perClass = perClassMetrics(confusion, input.classes);
  return {
    testSet: input.testSet,
    noiseKind: input.noiseKind,
    severity: input.severity,
    n: labels.length,
    accuracy: acc,
    ciLow: ci.low,
    ciHigh: ci.high,
    macroF1: macroF1(perClass),
    ece: expectedCalibrationError(probs, labels, k, input.eceBins).ece,
    eceCalibrated: expectedCalibrationError(calibrated, labels, k, input.eceBins).ece,
    perClass,
    confusion,
    classes: [...input.classes],
  };
}
