/**
 * Samplers (pure): turn a search space into the ordered list of trial parameters.
 * Grid enumerates every combination (learning rate slowest, batch size fastest); random draws
 * `trials` points, trial i from its own generator seeded by (seed, i), so the same seed gives the
 * same trials in the same order, and a longer run begins with the trials of a shorter one.
 */
import { createRng, deriveSeed, type Rng } from '@mri-robust/core';
import type { Dimension, SweepSettings } from './schema.ts';

export interface TrialParams {
  learningRate: number;
  dropout: number;
  batchSize: number;
}

function values(d: Dimension, name: string): number[] {
  if (!('values' in d)) throw new Error(`grid search needs a list of values for ${name}, got a range`);
  return d.values;
}

export function gridTrials(space: SweepSettings['space']): TrialParams[] {
  const out: TrialParams[] = [];
  for (const learningRate of values(space.learningRate, 'learning_rate')) {
    for (const dropout of values(space.dropout, 'dropout')) {
      for (const batchSize of values(space.batchSize, 'batch_size')) out.push({ learningRate, dropout, batchSize });
    }
  }
  return out;
}

function draw(d: Dimension, rng: Rng): number {
  if ('values' in d) return rng.pick(d.values);
  if ('logUniform' in d) {
    const [lo, hi] = d.logUniform;
    return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
  }
  return rng.uniform(d.uniform[0], d.uniform[1]);
}

/** Rounds a sampled float to 6 significant digits so it prints and hashes the same everywhere. */
function tidy(x: number): number {
  return Number(x.toPrecision(6));
}

function drawTrial(space: SweepSettings['space'], seed: number, i: number): TrialParams {
  const rng = createRng(deriveSeed(seed, 'sweep-random', i));
  return {
    learningRate: tidy(draw(space.learningRate, rng)),
    dropout: tidy(draw(space.dropout, rng)),
    batchSize: Math.round(draw(space.batchSize, rng)),
  };
}

export function randomTrials(space: SweepSettings['space'], trials: number, seed: number): TrialParams[] {
  return Array.from({ length: trials }, (_, i) => drawTrial(space, seed, i));
}

type Sampling = Pick<SweepSettings, 'strategy' | 'space' | 'trials' | 'seed'>;

const sizeOf = (d: Dimension): number => ('values' in d ? d.values.length : 1);

/** The number of trials of a sweep, computed without listing them. */
export function trialCount(settings: Sampling): number {
  if (settings.strategy === 'random') return settings.trials ?? 1;
  const { learningRate, dropout, batchSize } = settings.space;
  return sizeOf(learningRate) * sizeOf(dropout) * sizeOf(batchSize);
}

/** The parameters of trial `index` alone (equal to element `index` of sampleTrials). */
export function trialParamsAt(settings: Sampling, index: number): TrialParams {
  const s = settings.space;
  if (settings.strategy === 'random') return drawTrial(s, settings.seed, index);
  const lr = values(s.learningRate, 'learning_rate');
  const dr = values(s.dropout, 'dropout');
  const bs = values(s.batchSize, 'batch_size');
  return {
    learningRate: lr[Math.floor(index / (dr.length * bs.length))],
    dropout: dr[Math.floor(index / bs.length) % dr.length],
    batchSize: bs[index % bs.length],
  };
}

export function sampleTrials(settings: Sampling): TrialParams[] {
  return settings.strategy === 'grid' ? gridTrials(settings.space) : randomTrials(settings.space, settings.trials ?? 1, settings.seed);
}
