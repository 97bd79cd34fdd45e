import { copyFile, mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { workspaceRoot } from '@mri-robust/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { openEmbedOutput } from '../src/io/embed-output.ts';
import { trainTrial } from '../src/trial.ts';
import { loadModel } from '../src/save.ts';
import { predictImage } from '../src/predict.ts';
import { CLASSES, tinyEmbed, tinyExperiment, tinyImages, type TinyImages } from './trial-fixture.ts';

let root: string;
let imgs: TinyImages;
const dirs: Record<string, { modelDir: string; embedDir: string }> = {};

async function trained(mode: 'head' | 'partial') {
  const kind = mode === 'head' ? 'embedding' : 'activation';
  const embedDir = await tinyEmbed(root, imgs, { kind, backbone: 'mobilenet_v2', inputSize: 64, cutLayer: mode === 'partial' ? 'block_12_add' : undefined });
  const experiment = tinyExperiment(root, 64, { mode, input_size: 64, backend: 'wasm', ...(mode === 'partial' ? { cut_layer: 'block_12_add' } : {}) });
  const r = await trainTrial({
    experiment,
    features: await openEmbedOutput(embedDir),
    params: { learningRate: 0.003, dropout: 0.2, batchSize: 8 },
    seed: 1,
    outDir: path.join(root, `trial-${mode}`),
  });
  return { modelDir: r.modelDir, embedDir };
}

beforeAll(async () => {
  await selectBackend('wasm');
  root = await mkdtemp(path.join(os.tmpdir(), 'mri-predict-'));
  imgs = await tinyImages(root, 64, [6, 2, 2]);
  dirs.head = await trained('head');
  dirs.partial = await trained('partial');
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('predictImage', () => {
  it.each(['head', 'partial'] as const)('%s mode: an image file gives the same probabilities as the cached features', async (mode) => {
    const { modelDir, embedDir } = dirs[mode];
    const features = await (await openEmbedOutput(embedDir)).load('test');
    const { model, metadata } = await loadModel(modelDir);
    const classifier = model.getLayer('classifier') as unknown as LayersModel;
    const d = features.features.length / features.info.n;
    const shape = (await openEmbedOutput(embedDir)).manifest.sampleShape;
    for (const i of [0, 5]) {
      const file = imgs.sets.test.files[i];
      const p = await predictImage(modelDir, file);
      const fromCache = (
        classifier.predict((await import('../src/backend/tf.ts')).tf.tensor(features.features.subarray(i * d, (i + 1) * d), [1, ...shape])) as Tensor
      ).dataSync();
      CLASSES.forEach((c, j) => {
        expect(p.uncalibrated[c]).toBeCloseTo(fromCache[j], 4);
      });
      const sum = Object.values(p.probabilities).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
      expect(CLASSES).toContain(p.class);
      expect(p.probabilities[p.class]).toBe(Math.max(...Object.values(p.probabilities)));
      expect(p.temperature).toBe(metadata.temperature);
    }
    model.dispose();
  });

  it('refuses a non-image, a corrupt image and a missing file', async () => {
    const { modelDir } = dirs.head;
    const text = path.join(root, 'notes.jpg');
    await writeFile(text, 'this is not an image\n');
    await expect(predictImage(modelDir, text)).rejects.toThrow(/notes\.jpg: cannot be used as an image: not an image/);
    const bytes = await readFile(imgs.sets.test.files[0]);
    const corrupt = path.join(root, 'half.jpg');
    await writeFile(corrupt, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(predictImage(modelDir, corrupt)).rejects.toThrow(/half\.jpg: cannot be used as an image: (truncated|corrupt)/);
    await expect(predictImage(modelDir, path.join(root, 'nope.jpg'))).rejects.toThrow(/does not exist/);
  });

  it('refuses a missing model, mixed model files and another preprocessing', async () => {
    const file = imgs.sets.test.files[0];
    await expect(predictImage(path.join(root, 'no-model'), file)).rejects.toThrow(/model folder .*no-model does not exist/);
    await expect(predictImage(root, file)).rejects.toThrow(/metadata\.json is missing/);
    // weights of the partial model under the head model's metadata
    const mixed = path.join(root, 'mixed');
    await cp(dirs.head.modelDir, mixed, { recursive: true });
    await copyFile(path.join(dirs.partial.modelDir, 'weights.bin'), path.join(mixed, 'weights.bin'));
    await expect(predictImage(mixed, file)).rejects.toThrow(/do not match this metadata/);
    // metadata claiming another network input
    const other = path.join(root, 'other-prep');
    await cp(dirs.head.modelDir, other, { recursive: true });
    const meta = JSON.parse(await readFile(path.join(other, 'metadata.json'), 'utf8'));
    meta.preprocessing.inputSize = 96;
    await writeFile(path.join(other, 'metadata.json'), JSON.stringify(meta));
    await expect(predictImage(other, file)).rejects.toThrow(/metadata\.json was edited or the folder mixes files/);
    meta.preprocessing.inputSize = 64;
    // the caller's experiment uses another decode size
    const expected = { ...meta.preprocessing, inputSize: 64, decode: { ...meta.preprocessing.decode, size: 128 } };
    await expect(predictImage(dirs.head.modelDir, file, expected)).rejects.toThrow(/another preprocessing: decode\.size is 64 in the model, 128 expected/);
    // the caller's experiment denoises (model.denoise: wiener), the model was trained without it
    const denoised = { ...meta.preprocessing, denoise: { kind: 'wiener', window: 3 } };
    await expect(predictImage(dirs.head.modelDir, file, denoised)).rejects.toThrow(/another preprocessing: denoise is none in the model, wiener 3×3 expected/);
    // a denoiser written into metadata.json afterwards, or one that does not exist
    meta.preprocessing.denoise = { kind: 'wiener', window: 3 };
    await writeFile(path.join(other, 'metadata.json'), JSON.stringify(meta));
    await expect(predictImage(other, file)).rejects.toThrow(/metadata\.json was edited or the folder mixes files/);
    meta.preprocessing.denoise = { kind: 'median', window: 3 };
    await writeFile(path.join(other, 'metadata.json'), JSON.stringify(meta));
    await expect(predictImage(other, file)).rejects.toThrow(/preprocessing\.denoise .* is not null or \{ kind: 'wiener'/);
  });

  it('refuses an edited metadata.json (classes, temperature) and a stale or unlisted model.onnx', async () => {
    const file = imgs.sets.test.files[0];
    const copy = async (name: string) => {
      const dir = path.join(root, name);
      await cp(dirs.head.modelDir, dir, { recursive: true });
      return { dir, meta: JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8')) };
    };
    const write = (dir: string, meta: unknown) => writeFile(path.join(dir, 'metadata.json'), JSON.stringify(meta));
    // Two class names swapped: every prediction of those classes would be reported as the other.
    const swapped = await copy('swapped-classes');
    swapped.meta.classes = [swapped.meta.classes[1], swapped.meta.classes[0], ...swapped.meta.classes.slice(2)];
    await write(swapped.dir, swapped.meta);
    await expect(predictImage(swapped.dir, file)).rejects.toThrow(/metadata\.json: .*do not match this metadata \(classes, preprocessing/);
    const hot = await copy('temperature');
    hot.meta.temperature = hot.meta.temperature * 2;
    await write(hot.dir, hot.meta);
    await expect(predictImage(hot.dir, file)).rejects.toThrow(/metadata\.json was edited/);
    // model.onnx of another model (the partial one) in the head model's folder
    const stale = await copy('stale-onnx');
    await copyFile(path.join(dirs.partial.modelDir, 'model.onnx'), path.join(stale.dir, 'model.onnx'));
    await expect(predictImage(stale.dir, file)).rejects.toThrow(/model\.onnx: sha256 .* model\.onnx is stale or comes from another folder/);
    // metadata that does not list the model.onnx beside it
    const unlisted = await copy('unlisted-onnx');
    unlisted.meta.onnx = null;
    await write(unlisted.dir, unlisted.meta);
    await expect(predictImage(unlisted.dir, file)).rejects.toThrow(/metadata\.json does not list this model\.onnx/);
  });

  it('works from the CLI (nx model:predict runs this command)', async () => {
    const cli = path.join(workspaceRoot(), 'packages/model/src/cli.ts');
    const ok = await execa('node', ['--import', 'tsx', cli, 'predict', `--model=${dirs.head.modelDir}`, `--image=${imgs.sets.test.files[1]}`], {
      cwd: workspaceRoot(),
      env: { MRI_BACKEND: 'wasm' },
    });
    expect(ok.stdout).toMatch(/class: (glioma|meningioma|notumor|pituitary)/);
    expect(ok.stdout.match(/^ {2}\w+ +0\.\d{4}$/gm)).toHaveLength(4);
    const bad = await execa('node', ['--import', 'tsx', cli, 'predict', `--model=${path.join(root, 'absent')}`, `--image=${imgs.sets.test.files[1]}`], {
      cwd: workspaceRoot(),
      reject: false,
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^error: model folder .*absent does not exist/);
    expect(bad.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace for a user error
  });
});
