/**
 * The small phantom experiment the real-sweep tests share (synthetic phantoms at 64 px, the shared
 * MobileNetV2-0.35 with a trained head on wasm, one Rician SNR 5 test set): only what a test varies is
 * a parameter. `sweep` is the body of the `sweep:` section, each line indented by two spaces.
 */
import path from 'node:path';
import { sharedDir } from '@mri-robust/core';

const WEIGHTS = path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

export interface PhantomExperiment {
  name: string;
  seed: number;
  runs: string;
  perClass: number;
  epochs: number;
  bootstrap: number;
  sweep: string;
  /** Noisy evaluation sets, one flow mapping each (default: Rician SNR 5). */
  evalKinds?: string[];
  /** Splits of the noisy evaluation sets (default: test). */
  evalSplits?: string[];
  /** `noise.eval.benchmark` (default: not written, i.e. none). */
  benchmark?: 'mri-c' | 'none';
}

export function phantomExperiment(o: PhantomExperiment): string {
  return `name: ${o.name}
seed: ${o.seed}
runs: ${o.runs}
data:
  sources:
    - { name: phantom, kind: phantom, count_per_class: ${o.perClass}, size: 64 }
  classes: [glioma, meningioma, notumor, pituitary]
  image: { size: 64, channels: 1, fit: pad }
  split: { mode: fractions, train: 0.6, val: 0.2, test: 0.2 }
  min_per_class: 3
noise:
  eval:
    splits: [${(o.evalSplits ?? ['test']).join(', ')}]
    kinds:
${(o.evalKinds ?? ['{ kind: rician, snr: [5] }']).map((k) => `      - ${k}`).join('\n')}
${o.benchmark ? `    benchmark: ${o.benchmark}\n` : ''}augment: { copies: 0 }
model: { backbone: mobilenet_v2, weights: ${JSON.stringify(WEIGHTS)}, input_size: 64, mode: head, backend: wasm }
train: { epochs: ${o.epochs}, early_stopping: { patience: 100 } }
evaluate: { bootstrap_samples: ${o.bootstrap} }
sweep:
${o.sweep}`;
}
