/**
 * Issue 16 item 4: `sweep.objective: mean_corruption_val_accuracy` — the mri-c benchmark applied to the
 * validation split, and per epoch the mean over its sets of each set's accuracy. A real phantom sweep;
 * the objective recorded at each trial's best epoch is recomputed from the saved model on the 60
 * validation sets of the benchmark (the model keeps the best epoch's weights).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, openEmbedOutput, selectBackend, tf } from '@mri-robust/model';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { listTrials, openTracking } from '@mri-robust/tracking';
import { phantomExperiment } from './phantom-experiment.ts';
import { runSweep } from '../src/sweep.ts';
import { readEvents, trialRecordFile, type TrialEvent } from '../src/trial-record.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-corruption-objective-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sweep.objective mean_corruption_val_accuracy (issue 16 item 4)', () => {
  it('is the per-epoch mean accuracy over the benchmark validation sets', async () => {
    const file = path.join(dir, 'corruption.yaml');
    fs.writeFileSync(
      file,
      phantomExperiment({
        name: 'corruption-objective',
        seed: 5,
        runs: './runs',
        perClass: 10,
        epochs: 3,
        bootstrap: 10,
        evalSplits: ['test', 'val'],
        benchmark: 'mri-c',
        sweep:
          '  strategy: grid\n  space: { learning_rate: [0.01, 0.003], dropout: [0.2], batch_size: [16] }\n  objective: mean_corruption_val_accuracy\n  max_parallel: 2\n',
      }),
    );
    const r = await runSweep({ experimentFile: file, log: () => undefined, out: () => undefined, gallery: false });
    expect(r.finished + r.pruned).toBe(2);
    const t = await openTracking(r.trackingFile, { readOnly: true });
    const trials = await listTrials(t, r.sweepId);
    await t.close();
    await selectBackend('wasm');
    const trialsDir = path.join(dir, 'runs', 'trials', r.sweepId);
    for (const tr of trials) {
      const epochs = readEvents<TrialEvent>(trialRecordFile(trialsDir, tr.trial_id)).events.flatMap((e) => (e.type === 'epoch' ? [e] : []));
      expect(epochs.length).toBe(tr.epochs_run);
      for (const e of epochs) {
        const rec = e.record as typeof e.record & { valCorruptionAccuracy?: number };
        expect(rec.valCorruptionAccuracy).toBeGreaterThanOrEqual(0);
        expect(e.objective).toBe(rec.valCorruptionAccuracy);
      }
      // Recomputed from the saved model (best epoch's weights) on the benchmark's validation sets.
      const evaluation = JSON.parse(fs.readFileSync(path.join(trialsDir, tr.trial_id, 'evaluation.json'), 'utf8')) as { embed: string; bestEpoch: number };
      const features = await openEmbedOutput(evaluation.embed);
      const valSets = features.evalSets().filter((s) => s.split === 'val' && s.benchmark === 'mri-c');
      expect(valSets.length).toBe(60);
      // The ad-hoc noisy val set is not part of it.
      expect(features.evalSets().some((s) => s.split === 'val' && !s.benchmark)).toBe(true);
      const { model } = await loadModel(path.join(trialsDir, tr.trial_id, 'model'));
      const clf = model.getLayer('classifier') as unknown as LayersModel;
      const accs: number[] = [];
      for (const s of valSets) {
        const d = await features.load(s.name);
        const probs = (
          clf.predict(tf.tensor(d.features, [d.info.n, ...features.manifest.sampleShape])) as import('@tensorflow/tfjs-core').Tensor
        ).arraySync() as number[][];
        const correct = probs.filter((p, i) => p.indexOf(Math.max(...p)) === d.labels[i]).length;
        accs.push(correct / d.info.n);
      }
      model.dispose();
      const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
      expect(tr.objective).toBeCloseTo(mean, 9);
      expect(epochs.find((e) => e.record.epoch === evaluation.bestEpoch)?.objective).toBeCloseTo(mean, 9);
    }
  }, 1_200_000);
});
