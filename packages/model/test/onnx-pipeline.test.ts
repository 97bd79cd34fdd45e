/**
 * The inference engines through the project's paths: predicted classes identical on the whole test
 * split of experiments/default.yaml (real ingest of its phantoms, saved predictor folder); a trial
 * trained with tfjs and evaluated by ONNX Runtime gives the same accuracy to the image; Grad-CAM
 * from one ONNX pass equals the tfjs gradient map; with onnxruntime-node hidden from a child
 * process everything still runs on tfjs and says so once.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment, openImageSet, sharedDir, workspaceRoot } from '@mri-robust/core';
import { runIngest } from '@mri-robust/data';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { selectInference } from '../src/backend/inference.ts';
import { tf } from '../src/backend/tf.ts';
import { explainImage } from '../src/gradcam/explain.ts';
import { openEmbedOutput } from '../src/io/embed-output.ts';
import { loadMobileNetV2 } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { createForward } from '../src/onnx/forward.ts';
import { loadPredictor } from '../src/predict.ts';
import { saveModel } from '../src/save.ts';
import { EMBED_SCHEMA_PARTS } from '../src/stage-embed.ts';
import { trainTinyModel } from '../src/testing/tiny-model.ts';
import { arraySource } from '../src/train/data.ts';
import { buildClassifier } from '../src/train/classifier.ts';
import { trainLoop } from '../src/train/loop.ts';
import { evaluateModelDir, trainTrial } from '../src/trial.ts';
import { tinyEmbed, tinyExperiment, tinyImages, type TinyImages } from './trial-fixture.ts';

const SHARED = process.env.MRI_SHARED ?? sharedDir();
let root: string;

beforeAll(async () => {
  await selectBackend('wasm');
  root = await mkdtemp(path.join(os.tmpdir(), 'mri-onnx-pipeline-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

function argmax(p: Float32Array, k: number): number[] {
  return Array.from({ length: p.length / k }, (_, i) => {
    let b = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + b]) b = j;
    return b;
  });
}

describe('experiments/default.yaml, whole test split', () => {
  it('a saved head-mode predictor gives identical classes (and probabilities within 1e-4) on tfjs and ONNX Runtime', async () => {
    const loaded = loadExperiment(path.join(workspaceRoot(), 'experiments', 'default.yaml'), EMBED_SCHEMA_PARTS);
    const experiment = { ...loaded, runsDir: path.join(root, 'runs') };
    const ingest = await runIngest(experiment, { log: () => {} });
    const set = await openImageSet(ingest.dir);
    const { height, width, channels, classes } = set.header;
    const split = (s: string) => set.indicesWhere((r) => r.split === s);
    const test = split('test');
    expect(test.length).toBeGreaterThan(80);
    const inputSize = 128;
    const toInput = (idx: number[]) => imagesToTensor(set.batch(idx), idx.length, { height, width, channels }, { inputSize, inputChannels: 3 });

    // The quick start's network: frozen MobileNetV2 at 128 px, Dropout → Dense trained on its embeddings.
    const backbone = await loadMobileNetV2(path.join(SHARED, 'weights', 'mobilenet_v2_0.35_224'), { inputSize });
    const ort = await selectInference('onnxruntime', 1);
    const embedFwd = await createForward(backbone.model, ort);
    const train = split('train');
    const emb = new Float32Array(train.length * 1280);
    for (let s = 0; s < train.length; s += 64) {
      const x = toInput(train.slice(s, s + 64));
      emb.set((await embedFwd.run(x.dataSync() as Float32Array, x.shape[0]))[0].data, s * 1280);
      x.dispose();
    }
    await embedFwd.dispose();
    const labels = Int32Array.from(train, (i) => classes.indexOf(set.records[i].label));
    const clf = buildClassifier({ inputShape: [1280], numClasses: classes.length, dropout: 0.2, seed: 4 });
    const src = arraySource(emb, [train.length, 1280], labels);
    await trainLoop(clf, src, src, {
      epochs: 8,
      learningRate: 0.003,
      batchSize: 32,
      earlyStopping: { monitor: 'val_accuracy', patience: 100, restoreBest: false },
      reduceLr: { factor: 0.5, patience: 100, minLr: 1e-5 },
      seed: 4,
    });
    const image = tf.input({ shape: [inputSize, inputSize, 3] });
    const predictor = tf.model({ inputs: image, outputs: clf.model.apply(backbone.model.apply(image) as SymbolicTensor) as SymbolicTensor });
    const modelDir = path.join(root, 'default-head');
    const meta = await saveModel(modelDir, predictor, {
      classes,
      preprocessing: { decode: { size: height, channels: channels as 1, fit: 'pad' }, inputSize, inputChannels: 3, scaling: 'scale_-1_1' },
      backbone: { name: 'mobilenet_v2', mode: 'head', cutLayer: null, weights: { location: 'shared', hash: backbone.hash } },
      temperature: 1,
      experiment: { name: 'default', hash: loaded.hash, file: loaded.file },
      backend: 'wasm',
      seed: 4,
      createdAt: new Date(0).toISOString(),
    });
    expect(meta.onnx?.cam?.layer).toBe('out_relu');

    const probs: Record<string, Float32Array> = {};
    for (const inference of ['tfjs', 'onnxruntime'] as const) {
      const p = await loadPredictor(modelDir, { inference, threads: 1 });
      expect(p.inference.engine).toBe(inference);
      const out = new Float32Array(test.length * classes.length);
      for (let s = 0; s < test.length; s += 32) {
        const x = toInput(test.slice(s, s + 32));
        out.set((await p.forward.run(x.dataSync() as Float32Array, x.shape[0]))[0].data, s * classes.length);
        x.dispose();
      }
      probs[inference] = out;
      await p.dispose();
    }
    let maxAbsDiff = 0;
    for (let i = 0; i < probs.tfjs.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(probs.tfjs[i] - probs.onnxruntime[i]));
    expect(maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const a = argmax(probs.tfjs, classes.length);
    expect(argmax(probs.onnxruntime, classes.length)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(1); // a trained head, not a constant answer
    set.close();
    backbone.model.dispose();
  });
});

describe('trained with tfjs, evaluated with ONNX Runtime', () => {
  let imgs: TinyImages;
  beforeAll(async () => {
    imgs = await tinyImages(root, 64, [6, 2, 3]);
  });

  it.each([
    ['head', 'embedding', undefined],
    ['partial', 'activation', 'block_12_add'],
  ] as const)('%s mode: the same accuracy, per-class counts and confusion on every test set', async (mode, kind, cut) => {
    const embedDir = await tinyEmbed(root, imgs, { kind, backbone: 'mobilenet_v2', inputSize: 64, cutLayer: cut });
    const model = { mode, input_size: 64, backend: 'wasm', ...(cut ? { cut_layer: cut } : {}) };
    const features = await openEmbedOutput(embedDir);
    const trained = await trainTrial({
      experiment: tinyExperiment(root, 64, { ...model, inference: 'tfjs' }),
      features,
      params: { learningRate: 0.003, dropout: 0.2, batchSize: 8 },
      seed: 2,
      outDir: path.join(root, `eval-${mode}`),
    });
    expect(trained.inference).toEqual({ engine: 'tfjs', threads: 1 });
    const onOrt = await evaluateModelDir({
      modelDir: trained.modelDir,
      features,
      experiment: tinyExperiment(root, 64, { ...model, inference: 'onnxruntime', threads: 1 }),
    });
    expect(onOrt.inference).toEqual({ engine: 'onnxruntime', threads: 1 });
    expect(onOrt.evaluations.map((e) => e.testSet)).toEqual(['test', 'test-gaussian-s3']);
    onOrt.evaluations.forEach((e, i) => {
      const t = trained.evaluations[i];
      expect(e.accuracy).toBe(t.accuracy);
      expect(e.confusion).toEqual(t.confusion);
      expect(e.ece).toBeCloseTo(t.ece, 4);
    });
    const saved = JSON.parse(await readFile(path.join(root, `eval-${mode}`, 'evaluation.json'), 'utf8'));
    expect(saved.inference).toEqual({ engine: 'tfjs', threads: 1 });
  });
});

describe('Grad-CAM', () => {
  let models: { mobilenet: string; cnn: string };
  beforeAll(async () => {
    models = { mobilenet: path.join(root, 'tiny-mobilenet'), cnn: path.join(root, 'tiny-cnn') };
    await trainTinyModel({ outDir: models.mobilenet, sharedDir: SHARED, backbone: 'mobilenet_v2', perClass: 6, epochs: 8 });
    await trainTinyModel({ outDir: models.cnn, sharedDir: SHARED, backbone: 'cnn', perClass: 6, epochs: 3 });
  });

  it('GAP → Dense head: one ONNX pass gives the map of the tfjs gradient path (same class, |Δ| ≤ 1e-4)', async () => {
    const p = await loadPredictor(models.mobilenet, { inference: 'onnxruntime', threads: 1 });
    expect(p.metadata.onnx?.cam).toMatchObject({ layer: 'out_relu', height: 7, width: 7, classes: 4 });
    expect(p.forward.outputNames).toEqual(['output', 'cam']);
    for (const file of ['glioma_tumor/image(2).jpg', 'no_tumor/image(3).jpg']) {
      const bytes = new Uint8Array(await readFile(path.join(SHARED, 'datasets', 'sartaj', 'Testing', file)));
      // Grad-CAM at out_relu (the layer of model.onnx's `cam` output), the default map.
      const fast = await explainImage(p, bytes, { maxPixels: 1e7, method: 'grad-cam' });
      const slow = await explainImage({ model: p.model, metadata: p.metadata }, bytes, { maxPixels: 1e7, method: 'grad-cam' });
      expect(fast.engine).toBe('onnxruntime');
      expect(slow.engine).toBe('tfjs');
      expect(fast.classIndex).toBe(slow.classIndex);
      expect(fast.cam.layerName).toBe(slow.cam.layerName);
      expect(fast.cam.constant).toBe(false);
      let m = 0;
      for (let i = 0; i < slow.cam.cam.length; i++) m = Math.max(m, Math.abs(fast.cam.cam[i] - slow.cam.cam[i]));
      expect(m).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(fast.cam.rawMax - slow.cam.rawMax)).toBeLessThanOrEqual(1e-4 * Math.max(1, slow.cam.rawMax));
      fast.probabilities.forEach((v, j) => {
        expect(v).toBeCloseTo(slow.probabilities[j], 4);
      });
    }
    await p.dispose();
  });

  it('cnn (max pooling after the last conv): no cam output, the map comes from the tfjs gradient path', async () => {
    const p = await loadPredictor(models.cnn, { inference: 'onnxruntime', threads: 1 });
    expect(p.metadata.onnx?.cam).toBeNull();
    expect(p.forward.engine).toBe('onnxruntime');
    const bytes = new Uint8Array(await readFile(path.join(SHARED, 'datasets', 'sartaj', 'Testing', 'pituitary_tumor', 'image(1).jpg')));
    const e = await explainImage(p, bytes, { maxPixels: 1e7 });
    expect(e.engine).toBe('tfjs');
    const input = (await import('../src/prepare-image.ts')).prepareImage;
    const prepared = await input(bytes, p.metadata.preprocessing, 1e7);
    const [y] = await p.forward.run((await prepared.input.data()) as Float32Array, 1);
    prepared.input.dispose();
    e.rawProbabilities.forEach((v, j) => {
      expect(v).toBeCloseTo(y.data[j], 4);
    });
    await p.dispose();
  });

  it('with onnxruntime-node hidden (child process), predict and --gradcam run on tfjs and say so once', async () => {
    const cli = path.join(workspaceRoot(), 'packages/model/src/cli.ts');
    const hide = path.join(workspaceRoot(), 'packages/model/test/fixtures/hide-onnxruntime.mjs');
    const image = path.join(SHARED, 'datasets', 'sartaj', 'Testing', 'glioma_tumor', 'image(1).jpg');
    const run = (hidden: boolean) =>
      execa(
        'node',
        [
          '--import',
          'tsx',
          ...(hidden ? ['--import', hide] : []),
          cli,
          'predict',
          `--model=${models.mobilenet}`,
          `--image=${image}`,
          '--json',
          `--gradcam=${path.join(root, `cam-${hidden}.png`)}`,
        ],
        {
          cwd: workspaceRoot(),
          env: { MRI_BACKEND: 'wasm', MRI_THREADS: '1' },
        },
      );
    const hidden = await run(true);
    expect(JSON.parse(hidden.stdout).inference).toEqual({ engine: 'tfjs', threads: 1 });
    expect(
      hidden.stderr.match(/\[inference\] onnxruntime-node cannot be loaded \(.*hidden by the test.*\): forward passes run on TensorFlow\.js instead/g),
    ).toHaveLength(1);
    expect(hidden.stderr).toMatch(/grad-cam of/);
    const normal = await run(false);
    const a = JSON.parse(normal.stdout);
    const b = JSON.parse(hidden.stdout);
    expect(a.inference).toEqual({ engine: 'onnxruntime', threads: 1 });
    expect(normal.stderr).not.toMatch(/\[inference\]/);
    expect(a.class).toBe(b.class);
    for (const c of Object.keys(a.probabilities)) expect(a.probabilities[c]).toBeCloseTo(b.probabilities[c], 4);
  });
});
