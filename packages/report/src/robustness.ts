/**
 * Robustness figures of a trial from its test evaluations (pure): the kind × severity grid of noisy
 * test accuracy, CE / mCE / relative mCE against a baseline model (core's `corruptionSummary`), the
 * noise level where accuracy falls 5 points below clean (core's `levelAtDrop`) per kind, and per-class
 * robustness (which class's recall collapses first).
 *
 * The grid holds one noisy test set per (kind, severity): the `mri-c` benchmark set where there is
 * one (`test-mri-c-<kind>-s<k>`), else an ad-hoc set at a named severity (`test-<kind>-s<k>`). Rician
 * sets given by a target SNR (`…-snr<N>`) are left out: their recorded severity is only the nearest
 * level, so they are neither a grid cell nor comparable with the baseline at a severity.
 */
import { corruptionSummary, levelAtDrop, type CorruptionSummary } from '@mri-robust/core';
import { cleanOf, isClean, noiseLevel } from './rows.ts';
import type { BaselineScores, EvaluationInfo } from './types.ts';

/** Accuracy drop (absolute) at which a kind or class counts as collapsed. */
export const DROP_POINTS = 0.05;

export interface GridCell {
  kind: string;
  severity: number;
  testSet: string;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  n: number;
  /** From the `mri-c` benchmark (else an ad-hoc set of the experiment's `noise.eval`). */
  benchmark: boolean;
}

const isBenchmarkSet = (testSet: string): boolean => /-mri-c-/i.test(testSet);

/** Pure: one noisy set per (kind, severity) at a named severity 1–5, the mri-c set preferred; sorted by kind, severity. */
export function corruptionGrid(
  evals: readonly Pick<EvaluationInfo, 'testSet' | 'noiseKind' | 'severity' | 'accuracy' | 'ciLow' | 'ciHigh' | 'n'>[],
): GridCell[] {
  const cells = new Map<string, GridCell>();
  for (const e of evals) {
    if (isClean(e) || !Number.isFinite(e.accuracy)) continue;
    if (noiseLevel(e).scale !== 'severity' || !Number.isInteger(e.severity) || e.severity < 1) continue;
    const cell: GridCell = {
      kind: e.noiseKind,
      severity: e.severity,
      testSet: e.testSet,
      accuracy: e.accuracy,
      ciLow: e.ciLow,
      ciHigh: e.ciHigh,
      n: e.n,
      benchmark: isBenchmarkSet(e.testSet),
    };
    const key = `${cell.kind}\0${cell.severity}`;
    const had = cells.get(key);
    if (!had || (cell.benchmark && !had.benchmark) || (cell.benchmark === had.benchmark && cell.testSet < had.testSet)) cells.set(key, cell);
  }
  return [...cells.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.severity - b.severity);
}

export interface TrialRobustness {
  summary: CorruptionSummary;
  /** Kinds with a CE (the baseline scored every severity the trial has). */
  kinds: string[];
  /** Grid cells that entered the summary. */
  cells: number;
  /** 'mri-c' when every cell used is a benchmark set, 'ad hoc' when none is, else 'mixed'. */
  source: 'mri-c' | 'ad hoc' | 'mixed';
}

/**
 * Pure: CE per kind, mCE and relative mCE of a trial's test evaluations against the baseline, over
 * the grid cells (above) whose (kind, severity) the baseline also scored — the baseline's value of
 * the same test set when it has it, else of the same (kind, severity) chosen by the same rule. Null
 * when the trial has no clean test accuracy or no kind is left to compare.
 */
export function trialRobustness(evals: readonly EvaluationInfo[], baseline: BaselineScores): TrialRobustness | null {
  const clean = cleanOf(evals);
  if (!clean || !Number.isFinite(clean.accuracy)) return null;
  const grid = corruptionGrid(evals);
  const baseRows = baseline.corrupted.map((c) => ({
    testSet: c.testSet,
    noiseKind: c.kind,
    severity: c.severity,
    accuracy: c.accuracy,
    ciLow: 0,
    ciHigh: 0,
    n: 0,
  }));
  const bySet = new Map(baseline.corrupted.map((c) => [c.testSet, c]));
  const byLevel = new Map(corruptionGrid(baseRows).map((c) => [`${c.kind}\0${c.severity}`, c.accuracy]));
  const model: { kind: string; severity: number; accuracy: number }[] = [];
  const base: { kind: string; severity: number; accuracy: number }[] = [];
  const used: GridCell[] = [];
  for (const c of grid) {
    const same = bySet.get(c.testSet);
    const acc = same && same.kind === c.kind && same.severity === c.severity ? same.accuracy : byLevel.get(`${c.kind}\0${c.severity}`);
    if (acc === undefined || !Number.isFinite(acc)) continue;
    model.push({ kind: c.kind, severity: c.severity, accuracy: c.accuracy });
    base.push({ kind: c.kind, severity: c.severity, accuracy: acc });
    used.push(c);
  }
  if (model.length === 0) return null;
  const summary = corruptionSummary({ clean: clean.accuracy, corrupted: model }, { clean: baseline.clean, corrupted: base });
  const kinds = Object.keys(summary.ce).sort();
  if (kinds.length === 0) return null;
  const inKinds = used.filter((c) => kinds.includes(c.kind));
  const bench = inKinds.filter((c) => c.benchmark).length;
  return { summary, kinds, cells: inKinds.length, source: bench === inKinds.length ? 'mri-c' : bench === 0 ? 'ad hoc' : 'mixed' };
}

export interface KindDrop {
  /** The panel of core's noiseLevel: the kind, or "<kind> (SNR)" for Rician sets given by SNR. */
  panel: string;
  scale: 'snr' | 'severity';
  /** Accuracy at each measured level, mild to severe. */
  levels: { level: number; accuracy: number; testSet: string }[];
  /** The level where accuracy first falls DROP_POINTS below clean (interpolated), or null. */
  levelAtDrop: number | null;
}

/**
 * Pure: per noise panel (kind, or Rician by SNR), the accuracy at each level from mild to severe
 * (severity ascending, SNR descending) and the level at which it first falls `points` below clean.
 * A level measured twice (an mri-c and an ad-hoc set at one severity) counts once, the mri-c set.
 */
export function kindDrops(evals: readonly EvaluationInfo[], points = DROP_POINTS): KindDrop[] {
  const clean = cleanOf(evals);
  if (!clean || !Number.isFinite(clean.accuracy)) return [];
  const panels = new Map<string, { scale: 'snr' | 'severity'; levels: Map<number, { accuracy: number; testSet: string; benchmark: boolean }> }>();
  for (const e of evals) {
    if (isClean(e) || !Number.isFinite(e.accuracy)) continue;
    const l = noiseLevel(e);
    const p = panels.get(l.panel) ?? { scale: l.scale, levels: new Map() };
    panels.set(l.panel, p);
    const had = p.levels.get(l.x);
    const benchmark = isBenchmarkSet(e.testSet);
    if (!had || (benchmark && !had.benchmark)) p.levels.set(l.x, { accuracy: e.accuracy, testSet: e.testSet, benchmark });
  }
  return [...panels.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([panel, p]) => {
      const levels = [...p.levels.entries()]
        .sort(([a], [b]) => (p.scale === 'snr' ? b - a : a - b))
        .map(([level, v]) => ({ level, accuracy: v.accuracy, testSet: v.testSet }));
      return { panel, scale: p.scale, levels, levelAtDrop: levelAtDrop(clean.accuracy, levels, points) };
    });
}

export interface ClassRobustness {
  label: string;
  /** Recall on the clean test set. */
  clean: number;
  /** Mean recall over the grid's kinds at each severity present (1–5). */
  bySeverity: { severity: number; recall: number }[];
  /** Mean recall over every grid cell. */
  meanCorrupted: number;
  /** The severity where the mean recall first falls DROP_POINTS below clean (interpolated), or null. */
  severityAtDrop: number | null;
}

/**
 * Pure: per class, its clean recall and its recall under the grid's corruptions (mean over kinds at
 * each severity, from the evaluations' per-class metrics), sorted by which collapses first: the lowest
 * severity at which recall falls `points` below clean (never last), then the largest mean drop.
 * Empty when the evaluations carry no per-class metrics.
 */
export function classRobustness(evals: readonly EvaluationInfo[], points = DROP_POINTS): ClassRobustness[] {
  const clean = cleanOf(evals);
  if (!clean?.perClass?.length) return [];
  const grid = corruptionGrid(evals);
  const evalOf = new Map(evals.map((e) => [e.testSet, e]));
  const out: ClassRobustness[] = [];
  for (const c of clean.perClass) {
    if (!Number.isFinite(c.recall)) continue;
    const sums = new Map<number, { sum: number; n: number }>();
    let total = 0;
    let count = 0;
    for (const cell of grid) {
      const r = evalOf.get(cell.testSet)?.perClass?.find((x) => x.label === c.label)?.recall;
      if (r === undefined || !Number.isFinite(r)) continue;
      const s = sums.get(cell.severity) ?? { sum: 0, n: 0 };
      sums.set(cell.severity, { sum: s.sum + r, n: s.n + 1 });
      total += r;
      count++;
    }
    if (count === 0) continue;
    const bySeverity = [...sums.entries()].sort(([a], [b]) => a - b).map(([severity, s]) => ({ severity, recall: s.sum / s.n }));
    const severityAtDrop = levelAtDrop(
      c.recall,
      bySeverity.map((s) => ({ level: s.severity, accuracy: s.recall })),
      points,
    );
    out.push({ label: c.label, clean: c.recall, bySeverity, meanCorrupted: total / count, severityAtDrop });
  }
  const at = (x: ClassRobustness) => x.severityAtDrop ?? Number.POSITIVE_INFINITY;
  return out.sort((a, b) => at(a) - at(b) || b.clean - b.meanCorrupted - (a.clean - a.meanCorrupted) || a.label.localeCompare(b.label));
}
