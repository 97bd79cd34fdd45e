// Training-noise comparison in the shipped (partial) mode of experiments/brain-mri.yaml (issue #16):
// one trial per variant at fixed hyper-parameters (the best trial of the brain-mri.yaml sweep), each
// with its own runs folder whose stage cache is shared (runs-<variant>/cache → ../../../runs/cache), so
// two variants can train at once (each sweep holds its own DuckDB) without re-running ingest.
// Also writes `mri-c.yaml`: brain-mri.yaml with `noise.eval.benchmark: mri-c`, the experiment that
// `model evaluate` scores every variant's model with (identical test images, paired verdicts).
// Run: node --import tsx experiments/studies/full-noise/gen.mjs LR DROPOUT BATCH [EPOCHS] (as run: 0.0005 0.4 32;
// then 0.001 0.2 64; the hybrid variants 0.001 0.2 64 12; shipped / no-denoise 0.0005 0.2 32)
//   then node --import tsx packages/tuning/src/cli.ts sweep --experiment=experiments/studies/full-noise/<variant>.yaml
import { mkdirSync, readFileSync, symlinkSync, existsSync, writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { NOISE_KINDS } from '../../../packages/noise/src/models/types.ts';

const [lr, dropout, batch, epochs] = process.argv.slice(2).map(Number);
if (![lr, dropout, batch].every(Number.isFinite) || (epochs !== undefined && !(epochs >= 1))) {
  console.error('usage: gen.mjs LEARNING_RATE DROPOUT BATCH_SIZE [EPOCHS]');
  process.exit(2);
}
const here = new URL('.', import.meta.url);
const base = YAML.parse(readFileSync(new URL('../../brain-mri.yaml', import.meta.url), 'utf8'));
const former = {
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
const chain = {
  sources: [],
  splits: ['train'],
  fraction: 0.25,
  mode: 'copies',
  chain: [1, 3],
  kinds: NOISE_KINDS.map((k) => ({ kind: k, probability: k === 'rician' ? 3 : 1, severity: [1, 5] })),
};
function relocate(e, name) {
  e.name = `fn-${name}`;
  e.data.root = '../../../../shared/datasets';
  e.model.weights = '../../../../shared/weights/mobilenet_v2_0.35_224';
  e.runs = `../../../runs-${name}`;
  const runs = new URL(`../../../runs-${name}/`, import.meta.url);
  mkdirSync(runs, { recursive: true });
  if (!existsSync(new URL('cache', runs))) {
    mkdirSync(new URL('../../../runs/cache', import.meta.url), { recursive: true });
    symlinkSync('../runs/cache', new URL('cache', runs));
  }
  return e;
}
function make(name, train, trainSettings = {}, modelSettings = {}) {
  const e = relocate(structuredClone(base), name);
  e.description = `full-mode training-noise comparison: ${name}`;
  if (train) e.noise.train = train;
  if (epochs) e.train = { ...e.train, epochs };
  e.train = { ...e.train, ...trainSettings };
  e.model = { ...e.model, ...modelSettings };
  e.sweep = { ...e.sweep, space: { learning_rate: [lr], dropout: [dropout], batch_size: [batch] }, pruner: { kind: 'none' } };
  writeFileSync(new URL(`${name}.yaml`, here), YAML.stringify(e));
}
make('shipped', null);
make('former', former);
make('chain', chain);
// Chains on every training image (the shipped coverage), run after the study above showed coverage matters.
make('chain-all', { ...chain, fraction: 1.0 });
// Hybrids (2026-12-03): chains over all 12 kinds that keep the shipped three kinds most likely, so the
// noisy copies stay closer to the file's targets (Rician SNR 5) and to clean scans.
const shippedFirst = (extraSeverity, weight) =>
  NOISE_KINDS.map((k) => {
    const own = base.noise.train.kinds.find((x) => x.kind === k);
    return own ? { ...own, probability: own.probability * weight } : { kind: k, probability: 1, severity: extraSeverity };
  });
// a: chains of 1–2, the shipped kinds at 3× their weights (rician 6, gaussian 3, kspace_motion 3), the 9 others 1 each.
make('hybrid-a', { ...chain, fraction: 1.0, chain: [1, 2], kinds: shippedFirst([1, 5], 3) });
// b: chains of 1–3, the shipped kinds at 2× (rician 4, gaussian 2, kspace_motion 2), the 9 others at severities 1–3.
make('hybrid-b', { ...chain, fraction: 1.0, chain: [1, 3], kinds: shippedFirst([1, 3], 2) });
// The shipped three kinds with Rician twice as likely (rician 4, gaussian 1, kspace_motion 1): aimed at Rician SNR 5.
make('rician-heavy', { ...base.noise.train, kinds: base.noise.train.kinds.map((k) => (k.kind === 'rician' ? { ...k, probability: 4 } : k)) });
// The shipped noise with an exponential moving average of the weights (train.ema, 2026-12-03).
make('shipped-ema', null, { ema: 0.998 });
make('hybrid-b-ema', { ...chain, fraction: 1.0, chain: [1, 3], kinds: shippedFirst([1, 3], 2) }, { ema: 0.998 });
// The shipped file plus the clean/noisy consistency term (train.consistency λ, 2026-12-03, issue #13's SNR 5 bar).
make('cons-1', null, { consistency: 1 });
make('cons-5', null, { consistency: 5 });
// The shipped file without its Wiener denoiser (model.denoise, 2026-12-03): `shipped` against this pair isolates it.
make('no-denoise', null, {}, { denoise: 'none' });
const m = structuredClone(base);
m.data.root = '../../../../shared/datasets';
m.model.weights = '../../../../shared/weights/mobilenet_v2_0.35_224';
m.runs = '../../../runs';
m.noise.eval = { ...m.noise.eval, splits: ['test'], benchmark: 'mri-c' };
writeFileSync(new URL('mri-c.yaml', here), YAML.stringify(m));
// Then score each variant's model on mri-c, paired against another on the same images, e.g.
//   node --import tsx packages/model/src/cli.ts evaluate --experiment=experiments/studies/full-noise/mri-c.yaml \
//     --model=runs-chain/trials/<sweep>/<trial>/model --compare-to=runs-former/trials/<sweep>/<trial>/model
