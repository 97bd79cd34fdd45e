/**
 * Bench (not a test): a 27-trial grid (3 learning rates × 3 dropouts × 3 batch sizes, up to 30
 * epochs each, early stopping as in the experiment) in `head` mode on the cached embeddings of
 * experiments/brain-mri.yaml, max_parallel 2, no pruning. The grid is one for a dense head on
 * 1280-d embeddings (lr 0.01/0.003/0.001, batch 64/128/256), not the partial-mode grid of the file. Upstream stages are ensured first and timed apart
 * (a cold cache builds them: ingest, noise, augment and a MobileNetV2 pass over every image).
 * Each run is a fresh sweep (own tracking file); BENCH_REPEATS runs (default 3), medians and every run in
 * runs/bench/sweep.json.
 *
 * Overhead figures:
 * - perTrialDispatchS: mean over trials of (dispatch → result as seen by the orchestrator) minus
 *   the seconds spent inside trainTrial: IPC, epoch decisions, DuckDB writes of the trial.
 * - workerStartS: process start + imports + backend + feature loading, paid once per worker.
 * - overheadPerTrialS: (sweep wall × lanes − Σ trainTrial seconds) / trials — everything that is
 *   not training, including worker starts, DB open/close, summary, and lanes idle at the tail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { median, resolveFrom, workspaceRoot } from '@mri-robust/core';
import { ensureStages, loadSweep, runSweep } from '../src/sweep.ts';

const root = workspaceRoot();
const source = path.join(root, 'experiments', 'brain-mri.yaml');
const doc = parseDocument(fs.readFileSync(source, 'utf8'));
const cfg = doc.toJS() as Record<string, any>;
// Same experiment in head mode, paths made absolute so the file can live elsewhere.
if (cfg.data?.root) cfg.data.root = resolveFrom(source, cfg.data.root);
if (cfg.model?.weights) cfg.model.weights = resolveFrom(source, cfg.model.weights);
cfg.runs = path.join(root, 'runs');
cfg.model = { ...cfg.model, mode: 'head' };
delete cfg.model.cut_layer;
cfg.sweep = {
  strategy: 'grid',
  space: { learning_rate: [0.01, 0.003, 0.001], dropout: [0.0, 0.2, 0.4], batch_size: [64, 128, 256] },
  epochs: 30,
  max_parallel: 2,
  objective: 'val_accuracy',
  pruner: { kind: 'none' },
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sweep-'));
const file = path.join(tmp, 'brain-mri-head.yaml');
fs.writeFileSync(file, JSON.stringify(cfg, null, 2));

const plan = await loadSweep(file);
const t0 = performance.now();
const stages = await ensureStages(plan.experiment);
const stageSeconds = (performance.now() - t0) / 1000;
process.stderr.write(
  `stages in ${stageSeconds.toFixed(1)} s (${Object.entries(stages)
    .map(([k, v]) => `${k}:${v.hit ? 'hit' : 'built'}`)
    .join(' ')})\n`,
);

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const runs = [];
for (let rep = 0; rep < REPEATS; rep++) {
  // A fresh sweep each time: own tracking file and trials folder.
  const tSweep = performance.now();
  const r = await runSweep({
    experimentFile: file,
    stages,
    trackingFile: path.join(tmp, `tracking-${rep}.duckdb`),
    trialsDir: path.join(tmp, `trials-${rep}`),
  });
  const wall = (performance.now() - tSweep) / 1000;
  const lanes = Math.min(2, r.ran);
  runs.push({
    trials: r.total,
    ran: r.ran,
    finished: r.finished,
    failed: r.failed,
    sweepWallSeconds: wall,
    trainSecondsSum: r.trainSeconds,
    trialWallSecondsSum: r.trialWallSeconds,
    workersStarted: r.pool.workersStarted,
    workerStartS: r.pool.workerStartSeconds,
    perTrialDispatchS: r.ran ? (r.trialWallSeconds - r.trainSeconds) / r.ran : null,
    overheadPerTrialS: r.ran ? (wall * lanes - r.trainSeconds) / r.ran : null,
    best: r.best,
    loadAverage1m: os.loadavg()[0],
  });
  process.stderr.write(`run ${rep + 1}/${REPEATS}: ${wall.toFixed(1)} s wall, overhead ${runs.at(-1)!.overheadPerTrialS?.toFixed(3)} s/trial\n`);
}
const out = {
  what: '27-trial grid (3 lr × 3 dropout × 3 batch, ≤30 epochs, early stopping), head mode, brain-mri cached embeddings, max_parallel 2',
  machine: { cores: os.availableParallelism(), loadavg: os.loadavg(), node: process.version },
  repeats: REPEATS,
  stagesSeconds: stageSeconds,
  stagesHit: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, v.hit])),
  median: {
    sweepWallSeconds: median(runs.map((r) => r.sweepWallSeconds)),
    overheadPerTrialS: median(runs.map((r) => r.overheadPerTrialS ?? Number.NaN)),
    perTrialDispatchS: median(runs.map((r) => r.perTrialDispatchS ?? Number.NaN)),
    trainSecondsSum: median(runs.map((r) => r.trainSecondsSum)),
  },
  runs,
  under3Minutes: median(runs.map((r) => r.sweepWallSeconds)) < 180,
};
fs.mkdirSync(path.join(root, 'runs', 'bench'), { recursive: true });
fs.writeFileSync(path.join(root, 'runs', 'bench', 'sweep.json'), JSON.stringify(out, null, 2) + '\n');
process.stderr.write(`${JSON.stringify(out, null, 2)}\n`);
fs.rmSync(tmp, { recursive: true, force: true });
