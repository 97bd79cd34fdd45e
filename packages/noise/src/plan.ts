import { createRng, deriveSeed, UserError, type ImageRecord } from '@mri-robust/core';
import { MAX_SEVERITY, noiseModels, resolveNoiseParams } from './models/registry.ts';
import { NOISE_KINDS, type NoiseKind, type NoiseParams } from './models/types.ts';
import type { EvalNoiseSettings, NoiseSettings, TrainNoiseSettings } from './schema.ts';

/** What a record's `noise` field holds. */
export interface NoiseTag {
  kind: NoiseKind;
  severity: number;
  params: NoiseParams;
  /** Every corruption of a chained image, in the order applied (absent for one kind per image). */
  chain?: { kind: NoiseKind; severity: number; params: NoiseParams }[];
}

export interface PlannedNoise extends NoiseTag {
  seed: number;
  /** With `chain` > 1: every corruption applied, in order (the first is the tag's kind/severity/params). */
  chain?: { kind: NoiseKind; severity: number; params: NoiseParams; seed: number }[];
}

/** Checks what the schema cannot: SNR only for rician, non-empty eval entries, ranges, sources. */
export function checkNoiseSettings(s: NoiseSettings, sourceNames: readonly string[] | null, file = 'experiment'): void {
  const fail = (pointer: string, msg: string) => {
    throw new UserError(`${file}: /noise/${pointer}: ${msg}`);
  };
  s.train.kinds.forEach((k, i) => {
    if (Array.isArray(k.severity) && k.severity[0] > k.severity[1]) fail(`train/kinds/${i}/severity`, `[min, max] with min > max: [${k.severity.join(', ')}]`);
  });
  if (sourceNames) {
    s.train.sources.forEach((name, i) => {
      if (!sourceNames.includes(name)) fail(`train/sources/${i}`, `unknown source "${name}" (data.sources: ${sourceNames.join(', ')})`);
    });
  }
  if (s.train.fraction > 0 && s.train.kinds.length === 0) fail('train/kinds', 'fraction > 0 needs at least one kind');
  const chain = s.train.chain ?? [1, 1];
  if (chain[0] > chain[1]) fail('train/chain', `[min, max] with min > max: [${chain.join(', ')}]`);
  if (s.train.fraction > 0 && chain[1] > s.train.kinds.length) {
    fail('train/chain', `up to ${chain[1]} corruptions per image need at least that many kinds (${s.train.kinds.length} listed)`);
  }
  s.eval.kinds.forEach((k, i) => {
    if (k.snr.length > 0 && k.kind !== 'rician') fail(`eval/kinds/${i}/snr`, `snr applies to rician only, not ${k.kind}`);
    if (k.snr.length === 0 && k.severities.length === 0) fail(`eval/kinds/${i}`, 'give severities: [...] (or, for rician, snr: [...])');
  });
}

/**
 * Whether a record belongs to one of `sources` (empty = all). After de-duplication one kept image
 * stands for copies found in several sources; when ingest lists them (`groupSources`, or `sources`)
 * the image counts as part of every one of them, so "noise on the second data set" also reaches the
 * images that set shares with the first.
 */
function inSources(r: ImageRecord, sources: readonly string[]): boolean {
  if (sources.length === 0 || sources.includes(r.source)) return true;
  const group = Array.isArray(r.groupSources) ? r.groupSources : Array.isArray(r.sources) ? r.sources : [];
  return group.some((g) => sources.includes(String(g)));
}

/**
 * Which records get training noise, and how. Eligible records (listed splits and sources) are
 * shuffled with the training-noise seed and the first round(fraction · n) are chosen; each gets one
 * kind (weighted by `probability`), a severity (uniform integer in its range), and its own seed
 * derived from the record id. Returns a map from record index to plan.
 */
export function planTrainNoise(records: readonly ImageRecord[], s: TrainNoiseSettings, experimentSeed: number): Map<number, PlannedNoise> {
  const out = new Map<number, PlannedNoise>();
  if (s.fraction <= 0 || s.kinds.length === 0) return out;
  const base = deriveSeed(experimentSeed + s.seed_offset, 'noise-train');
  const rng = createRng(base);
  const eligible = records
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => s.splits.includes(r.split) && inSources(r, s.sources))
    .map(({ i }) => i);
  rng.shuffle(eligible);
  const chosen = eligible.slice(0, Math.round(s.fraction * eligible.length)).sort((a, b) => a - b);
  const total = s.kinds.reduce((a, k) => a + k.probability, 0);
  const [cmin, cmax] = s.chain ?? [1, 1];
  type KindEntry = TrainNoiseSettings['kinds'][number];
  const draw = (pool: readonly KindEntry[], sum: number): KindEntry => {
    let u = rng.next() * sum;
    let pick = pool[pool.length - 1];
    for (const k of pool) {
      if (u < k.probability) {
        pick = k;
        break;
      }
      u -= k.probability;
    }
    return pick;
  };
  const severityOf = (k: KindEntry): number => {
    const [lo, hi] = Array.isArray(k.severity) ? k.severity : [k.severity, k.severity];
    return lo + rng.int(hi - lo + 1);
  };
  for (const i of chosen) {
    // One kind per image draws exactly as before chains existed (same outputs for the same settings).
    const first = draw(s.kinds, total);
    const severity = severityOf(first);
    const seed = deriveSeed(base, records[i].id);
    const plan: PlannedNoise = { kind: first.kind, severity, params: resolveNoiseParams({ kind: first.kind, severity }), seed };
    const length = cmax > cmin ? cmin + rng.int(cmax - cmin + 1) : cmin;
    if (length > 1) {
      const steps = [{ kind: first.kind, severity, params: plan.params, seed }];
      let pool = s.kinds.filter((k) => k !== first);
      for (let c = 1; c < length; c++) {
        const k = draw(
          pool,
          pool.reduce((a, x) => a + x.probability, 0),
        );
        pool = pool.filter((x) => x !== k);
        const sv = severityOf(k);
        steps.push({
          kind: k.kind,
          severity: sv,
          params: resolveNoiseParams({ kind: k.kind, severity: sv }),
          seed: deriveSeed(base, records[i].id, 'chain', c),
        });
      }
      plan.chain = steps;
    }
    out.set(i, plan);
  }
  return out;
}

/** One noisy evaluation set. */
export interface EvalSetSpec {
  id: string;
  split: 'train' | 'val' | 'test';
  kind: NoiseKind;
  /** Named severity 1–5; for an SNR set, the rician level with the nearest SNR (log scale). */
  severity: number;
  snr: number | null;
  params: NoiseParams;
  /** The benchmark this set belongs to (`mri-c`), or null for an ad-hoc set of `noise.eval.kinds`. */
  benchmark: string | null;
}

/** Benchmarks an experiment can opt into with `noise.eval.benchmark`. */
export const BENCHMARKS = ['none', 'mri-c'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

/**
 * Seed of every mri-c image: a constant, independent of the experiment's seeds, so two experiments
 * with the same test images are scored on byte-identical corrupted copies (compare across sweeps).
 */
export const MRI_C_SEED = deriveSeed('mri-c', 1);

/**
 * The `mri-c` benchmark: every noise kind of this package at severities 1–5 (Rician as its SNR
 * levels 30/20/10/5/3), applied to each listed split with the fixed MRI_C_SEED — ImageNet-C's
 * protocol (fixed corruptions × 5 severities) for brain MRI. Set ids: `<split>-mri-c-<kind>-s<k>`.
 */
export function benchmarkSetSpecs(benchmark: BenchmarkName, splits: readonly ('train' | 'val' | 'test')[]): EvalSetSpec[] {
  if (benchmark === 'none') return [];
  const out: EvalSetSpec[] = [];
  for (const split of splits) {
    for (const kind of NOISE_KINDS) {
      for (let severity = 1; severity <= MAX_SEVERITY; severity++) {
        const params = resolveNoiseParams({ kind, severity });
        const snr = kind === 'rician' ? (noiseModels.rician.levels[severity].snr as number) : null;
        out.push({ id: `${split}-${benchmark}-${kind}-s${severity}`, split, kind, severity, snr, params, benchmark });
      }
    }
  }
  return out;
}

/** Severity level whose rician SNR is nearest (in log) to `snr`. */
export function ricianSeverityForSnr(snr: number): number {
  let best = 1;
  let bestD = Infinity;
  for (let s = 1; s <= MAX_SEVERITY; s++) {
    const d = Math.abs(Math.log(noiseModels.rician.levels[s].snr as number) - Math.log(snr));
    if (d < bestD) {
      bestD = d;
      best = s;
    }
  }
  return best;
}

export function evalSetSpecs(s: EvalNoiseSettings, benchmark: BenchmarkName = 'none'): EvalSetSpec[] {
  const out: EvalSetSpec[] = [];
  for (const split of s.splits) {
    for (const k of s.kinds) {
      for (const snr of k.snr) {
        out.push({
          id: `${split}-${k.kind}-snr${snr}`,
          split,
          kind: k.kind,
          severity: ricianSeverityForSnr(snr),
          snr,
          params: resolveNoiseParams({ kind: k.kind, snr }),
          benchmark: null,
        });
      }
      for (const severity of k.severities) {
        out.push({
          id: `${split}-${k.kind}-s${severity}`,
          split,
          kind: k.kind,
          severity,
          snr: null,
          params: resolveNoiseParams({ kind: k.kind, severity }),
          benchmark: null,
        });
      }
    }
  }
  out.push(...benchmarkSetSpecs(benchmark, s.splits));
  const ids = new Set<string>();
  for (const e of out) {
    if (ids.has(e.id)) throw new UserError(`noise.eval: the set ${e.id} is listed twice`);
    ids.add(e.id);
  }
  return out;
}

/** Seed of one image of an evaluation set: fixed by the eval seed, the set and the record. */
export function evalImageSeed(evalSeed: number, setId: string, recordId: string): number {
  return deriveSeed(evalSeed, 'noise-eval', setId, recordId);
}
