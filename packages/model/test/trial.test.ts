import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { openEmbedOutput } from '../src/io/embed-output.ts';
import { trainTrial, type TrialResult } from '../src/trial.ts';
import { CLASSES, tinyEmbed, tinyExperiment, tinyImages, type TinyImages } from './trial-fixture.ts';

let root: string;
let imgs: TinyImages;

beforeAll(async () => {
  await selectBackend('wasm');
  root = await mkdtemp(path.join(os.tmpdir(), 'mri-trial-'));
  imgs = await tinyImages(root, 64);
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

function checkResult(r: TrialResult, epochs: number) {
  expect(r.epochs).toHaveLength(epochs);
  expect(r.epochs.at(-1)!.trainLoss).toBeLessThan(r.epochs[0].trainLoss);
  expect(r.backend).toBe('wasm');
  expect(r.temperature).toBeGreaterThan(0);
  expect(r.bestEpoch).toBeGreaterThanOrEqual(1);
  expect(r.evaluations.map((e) => [e.testSet, e.noiseKind, e.severity, e.n])).toEqual([
    ['test', 'none', 0, 12],
    ['test-gaussian-s3', 'gaussian', 3, 12],
  ]);
  for (const e of r.evaluations) {
    expect(e.classes).toEqual(CLASSES);
    expect(e.confusion.flat().reduce((a, b) => a + b, 0)).toBe(12);
    expect(e.ciLow).toBeLessThanOrEqual(e.accuracy);
    expect(e.ciHigh).toBeGreaterThanOrEqual(e.accuracy);
  }
  expect(existsSync(path.join(r.modelDir, 'model.json'))).toBe(true);
  const meta = JSON.parse(readFileSync(path.join(r.modelDir, 'metadata.json'), 'utf8'));
  expect(meta.temperature).toBe(r.temperature);
  expect(meta.classes).toEqual(CLASSES);
  const saved = JSON.parse(readFileSync(path.join(path.dirname(r.modelDir), 'evaluation.json'), 'utf8'));
  expect(saved.evaluations).toHaveLength(2);
  // per-image predictions for paired comparisons: the same correct count as each evaluation's accuracy
  const preds = JSON.parse(readFileSync(path.join(path.dirname(r.modelDir), 'predictions.json'), 'utf8'));
  expect(preds.classes).toEqual(CLASSES);
  for (const e of r.evaluations) {
    const p = preds.sets[e.testSet] as { ids: string[]; labels: number[]; predicted: number[] };
    expect(p.ids).toHaveLength(e.n);
    expect(p.predicted.filter((y, i) => y === p.labels[i]).length / e.n).toBeCloseTo(e.accuracy, 12);
  }
}

describe('trainTrial on tiny real inputs', () => {
  it('head mode: trains Dropout+Dense on cached MobileNetV2 embeddings, the loss falls', async () => {
    const features = await openEmbedOutput(await tinyEmbed(root, imgs, { kind: 'embedding', backbone: 'mobilenet_v2', inputSize: 64 }));
    const experiment = tinyExperiment(root, 64, { mode: 'head', input_size: 64, backend: 'wasm' }, { epochs: 5 });
    const seen: number[] = [];
    const r = await trainTrial({
      experiment,
      features,
      params: { learningRate: 0.005, dropout: 0.2, batchSize: 8 },
      seed: 3,
      outDir: path.join(root, 'trial-head'),
      onEpoch: (e) => {
        seen.push(e.epoch);
        return 'continue';
      },
    });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    checkResult(r, 5);
    expect(features.manifest.sampleShape).toEqual([1280]);
  });

  it('partial mode: trains the blocks above the cut + head on cached activations', async () => {
    const features = await openEmbedOutput(
      await tinyEmbed(root, imgs, { kind: 'activation', backbone: 'mobilenet_v2', inputSize: 64, cutLayer: 'block_12_add' }),
    );
    const experiment = tinyExperiment(root, 64, { mode: 'partial', input_size: 64, cut_layer: 'block_12_add', backend: 'wasm' });
    const r = await trainTrial({
      experiment,
      features,
      params: { learningRate: 0.001, dropout: 0.2, batchSize: 8 },
      seed: 3,
      outDir: path.join(root, 'trial-partial'),
    });
    checkResult(r, 3);
  });

  it('full mode: trains a CNN end to end from pixels', async () => {
    const features = await openEmbedOutput(await tinyEmbed(root, imgs, { kind: 'pixels', backbone: 'cnn', inputSize: 32 }));
    const experiment = tinyExperiment(root, 64, { backbone: 'cnn', mode: 'full', input_size: 32, cnn: { widths: [8, 16] }, backend: 'wasm' });
    const r = await trainTrial({
      experiment,
      features,
      params: { learningRate: 0.01, dropout: 0.1, batchSize: 8 },
      seed: 3,
      outDir: path.join(root, 'trial-cnn'),
    });
    checkResult(r, 3);
  });

  it('full mode: fine-tunes the whole MobileNetV2 end to end from pixels', async () => {
    const features = await openEmbedOutput(await tinyEmbed(root, imgs, { kind: 'pixels', backbone: 'mobilenet_v2', inputSize: 32 }));
    const experiment = tinyExperiment(root, 64, { mode: 'full', input_size: 32, backend: 'wasm' }, { epochs: 4 });
    const r = await trainTrial({
      experiment,
      features,
      params: { learningRate: 0.0002, dropout: 0.1, batchSize: 8 },
      seed: 3,
      outDir: path.join(root, 'trial-full'),
    });
    checkResult(r, 4);
  });
});
