/**
 * Pure mapping from tracking-database rows (snake_case, as DuckDB returns them) to the report's
 * types, and the pure selections the charts share (ranking, clean/noisy evaluations).
 */
import type { ClassRecall, ConfusionCell, Direction, EpochInfo, EvaluationInfo, StageRef, SweepInfo, TrialInfo } from './types.ts';

type Row = Record<string, unknown>;

function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function str(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  return String(v);
}

function json(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? null;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

/** 'minimize' for loss-like objectives, unless the row says otherwise. */
function objectiveDirection(objective: string | null, stated?: unknown): Direction {
  if (stated === 'minimize' || stated === 'maximize') return stated;
  return objective !== null && /loss|error|ece/i.test(objective) ? 'minimize' : 'maximize';
}

export function toSweep(r: Row): SweepInfo {
  const objective = str(r.objective);
  const stagesRaw = json(r.stages);
  const stages: Record<string, StageRef> = {};
  if (stagesRaw && typeof stagesRaw === 'object' && !Array.isArray(stagesRaw)) {
    for (const [k, v] of Object.entries(stagesRaw as Record<string, unknown>)) {
      if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        stages[k] = { key: str(o.key) ?? undefined, dir: str(o.dir) ?? undefined };
      }
    }
  }
  return {
    sweepId: String(r.sweep_id),
    name: str(r.name) ?? String(r.sweep_id),
    experimentPath: str(r.experiment_path),
    experimentYaml: str(r.experiment_yaml),
    strategy: str(r.strategy),
    objective,
    direction: objectiveDirection(objective, r.direction),
    seed: num(r.seed),
    status: str(r.status),
    gitCommit: str(r.git_commit),
    backend: str(r.backend),
    createdAt: str(r.created_at),
    finishedAt: str(r.finished_at),
    nTrials: num(r.n_trials),
    dataSummary: json(r.data_summary),
    noiseSettings: json(r.noise_settings),
    stages,
  };
}

export function toTrial(r: Row): TrialInfo {
  const params = json(r.params) as Record<string, unknown> | null;
  return {
    trialId: String(r.trial_id),
    trialIndex: num(r.trial_index) ?? 0,
    learningRate: num(r.learning_rate) ?? num(params?.learningRate),
    dropout: num(r.dropout) ?? num(params?.dropout),
    batchSize: num(r.batch_size) ?? num(params?.batchSize),
    status: str(r.status) ?? 'unknown',
    error: str(r.error),
    backend: str(r.backend),
    seed: num(r.seed),
    bestEpoch: num(r.best_epoch),
    objective: num(r.objective),
    startedAt: str(r.started_at),
    endedAt: str(r.ended_at),
    gitCommit: str(r.git_commit),
  };
}

export function toEpoch(r: Row): EpochInfo {
  return {
    trialId: String(r.trial_id),
    epoch: num(r.epoch) ?? 0,
    trainLoss: num(r.train_loss),
    trainAccuracy: num(r.train_accuracy),
    valLoss: num(r.val_loss),
    valAccuracy: num(r.val_accuracy),
    valNoisyAccuracy: num(r.val_noisy_accuracy),
    objective: num(r.objective),
    learningRate: num(r.learning_rate),
    seconds: num(r.seconds),
  };
}

export function toEvaluation(r: Row): EvaluationInfo {
  const accuracy = num(r.accuracy) ?? Number.NaN;
  return {
    trialId: String(r.trial_id),
    testSet: String(r.test_set),
    noiseKind: str(r.noise_kind) ?? 'none',
    severity: num(r.severity) ?? 0,
    n: num(r.n) ?? 0,
    accuracy,
    ciLow: num(r.ci_low) ?? accuracy,
    ciHigh: num(r.ci_high) ?? accuracy,
    macroF1: num(r.macro_f1),
    ece: num(r.ece),
    eceCalibrated: num(r.ece_calibrated),
    perClass: toPerClass(json(r.per_class)),
  };
}

/** Per-class metrics as recorded (`[{label, recall, support, …}]`); rows without a label or a finite recall are left out. */
function toPerClass(v: unknown): ClassRecall[] {
  if (!Array.isArray(v)) return [];
  const out: ClassRecall[] = [];
  for (const x of v) {
    if (!x || typeof x !== 'object') continue;
    const o = x as Record<string, unknown>;
    const recall = num(o.recall);
    if (o.label === undefined || o.label === null || recall === null) continue;
    out.push({ label: String(o.label), recall, support: num(o.support) });
  }
  return out;
}

export function toConfusion(r: Row): ConfusionCell {
  return {
    testSet: String(r.test_set),
    trueLabel: String(r.true_label),
    predLabel: String(r.pred_label),
    count: num(r.count) ?? 0,
  };
}

/** Trial ids with a finite objective, best first; finished trials rank before pruned/failed ones. */
export function rankTrials(trials: readonly TrialInfo[], direction: Direction): string[] {
  const sign = direction === 'minimize' ? 1 : -1;
  return trials
    .filter((t) => t.objective !== null && Number.isFinite(t.objective))
    .sort(
      (a, b) =>
        Number(b.status === 'finished') - Number(a.status === 'finished') ||
        sign * ((a.objective as number) - (b.objective as number)) ||
        a.trialIndex - b.trialIndex,
    )
    .map((t) => t.trialId);
}

export function isClean(e: Pick<EvaluationInfo, 'noiseKind'>): boolean {
  return e.noiseKind === 'none' || e.noiseKind === '' || e.noiseKind === 'clean';
}

/**
 * The test-split evaluations: sets named `test…` when there are any (a sweep may also evaluate
 * validation sets), otherwise all of them.
 */
export function testEvaluations(evals: readonly EvaluationInfo[]): EvaluationInfo[] {
  const isTest = (e: EvaluationInfo): boolean => /^test(\b|[-_])/i.test(e.testSet) || e.testSet === 'test';
  return evals.some(isTest) ? evals.filter(isTest) : [...evals];
}

/** Groups evaluations by trial id. */
export function byTrial(evals: readonly EvaluationInfo[]): Map<string, EvaluationInfo[]> {
  const m = new Map<string, EvaluationInfo[]>();
  for (const e of evals) {
    const list = m.get(e.trialId) ?? [];
    m.set(e.trialId, list);
    list.push(e);
  }
  return m;
}

/** The clean test evaluation of one trial's evaluations (the set named exactly `test` first). */
export function cleanOf(evals: readonly EvaluationInfo[]): EvaluationInfo | null {
  const clean = evals.filter(isClean);
  return clean.find((e) => e.testSet === 'test') ?? clean[0] ?? null;
}

/** The noisy evaluation with the lowest accuracy, or null. */
export function worstNoisyOf(evals: readonly EvaluationInfo[]): EvaluationInfo | null {
  let worst: EvaluationInfo | null = null;
  for (const e of evals) if (!isClean(e) && Number.isFinite(e.accuracy) && (!worst || e.accuracy < worst.accuracy)) worst = e;
  return worst;
}

/** Mean accuracy over a trial's noisy sets, or null when it has none. */
export function meanNoisyOf(evals: readonly EvaluationInfo[]): number | null {
  const noisy = evals.filter((e) => !isClean(e) && Number.isFinite(e.accuracy));
  return noisy.length ? noisy.reduce((s, e) => s + e.accuracy, 0) / noisy.length : null;
}

/** Where a noisy evaluation sits on its panel's x axis: the SNR of a Rician-SNR set, else the severity. */
export interface NoiseLevel {
  /** Panel id: the noise kind, plus " (SNR)" for sets given by target SNR. */
  panel: string;
  kind: string;
  scale: 'snr' | 'severity';
  x: number;
}

/**
 * Pure: the real noise parameter of an evaluation. Set ids are `<split>-<kind>-snr<N>` (Rician at a
 * target SNR) or `<split>-<kind>-s<N>` (a documented severity 1–5, noise package README).
 */
export function noiseLevel(e: Pick<EvaluationInfo, 'testSet' | 'noiseKind' | 'severity'>): NoiseLevel {
  const snr = /-snr(\d+(?:\.\d+)?)$/i.exec(e.testSet);
  if (snr) return { panel: `${e.noiseKind} (SNR)`, kind: e.noiseKind, scale: 'snr', x: Number(snr[1]) };
  return { panel: e.noiseKind, kind: e.noiseKind, scale: 'severity', x: e.severity };
}

/** Ranked trial ids first (best first), then the others in trial order. */
export function displayOrder(trials: readonly TrialInfo[], ranked: readonly string[]): string[] {
  const rest = trials.filter((t) => !ranked.includes(t.trialId)).sort((a, b) => a.trialIndex - b.trialIndex);
  return [...ranked, ...rest.map((t) => t.trialId)];
}
