// Leave-one-kind-out study of the training noise on experiments/brain-mri.yaml (issue #16): writes one
// experiment per variant beside this file (head mode, one trial, scored on the 60 mri-c test sets).
// Run: node --import tsx experiments/studies/noise-loko/gen.mjs, then for each file
//   npx nx run tuning:sweep --experiment=experiments/studies/noise-loko/<variant>.yaml
// and DB=runs/tracking.duckdb MD=1 node --import tsx experiments/studies/noise-loko/matrix.mjs for the table.
import { readFileSync, writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { NOISE_KINDS } from '../../../packages/noise/src/models/types.ts';
const KINDS = NOISE_KINDS;
const base = YAML.parse(readFileSync(new URL('../../brain-mri.yaml', import.meta.url), 'utf8'));
// The training noise brain-mri.yaml shipped before this study (the published protocol: noise on the
// second data set only): the `former` variant.
const shippedTrain = {
  sources: ['sartaj'],
  splits: ['train'],
  fraction: 1.0,
  mode: 'copies',
  kinds: [
    { kind: 'rician', probability: 2, severity: [1, 5] },
    { kind: 'gaussian', probability: 1, severity: [1, 4] },
    { kind: 'kspace_motion', probability: 1, severity: [1, 3] },
  ],
};
function make(name, train) {
  const e = structuredClone(base);
  e.name = `hm-${name}`;
  e.description = `head-mode noise study: ${name}`;
  e.data.root = '../../../../shared/datasets';
  e.model.weights = '../../../../shared/weights/mobilenet_v2_0.35_224';
  e.model.mode = 'head';
  delete e.model.cut_layer;
  e.noise.train = train;
  e.noise.eval = { splits: ['test'], seed: 1, kinds: [], benchmark: 'mri-c' };
  e.train = { ...e.train, epochs: 40, early_stopping: { monitor: 'val_accuracy', patience: 6, restore_best: true } };
  e.sweep = {
    strategy: 'grid',
    space: { learning_rate: [0.001], dropout: [0.2], batch_size: [32] },
    objective: 'val_accuracy',
    pruner: { kind: 'none' },
    trial_timeout_s: 7200,
  };
  writeFileSync(new URL(`${name}.yaml`, import.meta.url), YAML.stringify(e));
}
const all = (kinds, extra = {}) => ({
  sources: [],
  splits: ['train'],
  fraction: 0.5,
  mode: 'copies',
  kinds: kinds.map((k) => ({ kind: k, probability: 1, severity: [1, 5] })),
  ...extra,
});
make('none', { ...shippedTrain, fraction: 0 });
// `former`: the noise of the published protocol (sartaj's duplicate groups, 77 % of training);
// `shipped`: brain-mri.yaml's noise.train as it is now (every training image, since 2026-12-02).
make('former', shippedTrain);
make('shipped', base.noise.train);
make('all12', all(KINDS));
make('all12-chain', all(KINDS, { chain: [1, 3] }));
for (const k of KINDS) make(`loko-${k}`, all(KINDS.filter((x) => x !== k)));
