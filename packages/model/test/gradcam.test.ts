import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSetWriter, sharedDir, workspaceRoot } from '@mri-robust/core';
import { decodeImage } from '@mri-robust/data';
import { applyNoise, fromUint8, toUint8 } from '@mri-robust/noise';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { blendRgb, toRgb } from '../src/gradcam/blend.ts';
import { camFromGradients, normalizeMap, resizeBilinear } from '../src/gradcam/cam.ts';
import { colorize, jet, turbo } from '../src/gradcam/colormap.ts';
import { mapOverExtent } from '../src/gradcam/extent.ts';
import { gradCam } from '../src/gradcam/compute.ts';
import { explainImage } from '../src/gradcam/explain.ts';
import { writeGradCamGallery } from '../src/gradcam/gallery.ts';
import { findFeatureLayer } from '../src/gradcam/layers.ts';
import { overlayMapPixels, overlayMapPng, scanPng } from '../src/gradcam/overlay.ts';
import { loadModel, type ModelMetadata } from '../src/save.ts';
import { prepareImage } from '../src/prepare-image.ts';
import { trainTinyModel } from '../src/testing/tiny-model.ts';

const shared = sharedDir();

/** The (nested) model whose own layers include `name`. */
function containerOf(model: LayersModel, name: string): LayersModel {
  if (model.layers.some((l) => l.name === name)) return model;
  for (const l of model.layers) {
    if ((l as unknown as LayersModel).layers) {
      const inner = containerOf(l as unknown as LayersModel, name);
      if (inner) return inner;
    }
  }
  return null as unknown as LayersModel;
}
const testImage = (cls: string, name: string) => path.join(shared, 'datasets', 'sartaj', 'Testing', cls, name);

describe('colormaps (pure)', () => {
  it('jet runs blue → green → red and clamps', () => {
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(0.5)).toEqual([128, 255, 128]);
    expect(jet(1)).toEqual([128, 0, 0]);
    expect(jet(-3)).toEqual(jet(0));
    expect(jet(7)).toEqual(jet(1));
    expect(jet(Number.NaN)).toEqual(jet(0));
  });
  it('turbo matches its polynomial at the ends (dark blue-black → dark red)', () => {
    expect(turbo(0)).toEqual([35, 23, 27]);
    const [r, g, b] = turbo(1);
    expect(r).toBeGreaterThan(120);
    expect(g).toBeLessThan(30);
    expect(b).toBeLessThan(30);
  });
  it('colorize = the colormap per value (8-bit quantised), 3 bytes per value', () => {
    const vals = [0, 0.25, 0.5, 0.75, 1];
    const rgb = colorize(vals, 'jet');
    expect(rgb.length).toBe(15);
    vals.forEach((v, i) => {
      expect(Array.from(rgb.subarray(i * 3, i * 3 + 3))).toEqual(jet(Math.round(v * 255) / 255));
    });
    expect(Array.from(colorize([0.5], 'turbo'))).toEqual(turbo(128 / 255));
  });
});

describe('Grad-CAM numeric core (pure)', () => {
  it('weights channels by the mean gradient and applies ReLU (hand-computed)', () => {
    // 1×2 map, 2 channels, HWC: pixel0 = (1, 2), pixel1 = (3, 4).
    const acts = [1, 2, 3, 4];
    // α0 = mean(1, 3) = 2, α1 = mean(-1, 1) = 0 → cam = (2·1, 2·3) = (2, 6).
    expect(Array.from(camFromGradients(acts, [1, -1, 3, 1], 1, 2, 2))).toEqual([2, 6]);
    // α0 = -1, α1 = 0.5 → (-1 + 1, -3 + 2) = (0, -1) → ReLU → (0, 0).
    expect(Array.from(camFromGradients(acts, [-1, 0.5, -1, 0.5], 1, 2, 2))).toEqual([0, 0]);
    expect(() => camFromGradients(acts, [1, 2], 1, 2, 2)).toThrow(/1×2×2/);
  });
  it('normalises to [0, 1] by the maximum and flags constant maps', () => {
    const n = normalizeMap([0, 2, -1, 4]);
    expect(Array.from(n.map)).toEqual([0, 0.5, 0, 1]);
    expect(n.max).toBe(4);
    expect(n.constant).toBe(false);
    const z = normalizeMap([0, -2, 0, Number.NaN]);
    expect(Array.from(z.map)).toEqual([0, 0, 0, 0]);
    expect(z.constant).toBe(true);
  });
  it('resizes bilinearly with half-pixel centres and clamped edges', () => {
    const up = resizeBilinear([0, 1, 2, 3], 2, 2, 4, 4);
    expect(up[0]).toBe(0);
    expect(up[3]).toBe(1);
    expect(up[12]).toBe(2);
    expect(up[15]).toBe(3);
    // (1, 1) samples (0.25, 0.25): 0·.5625 + 1·.1875 + 2·.1875 + 3·.0625 = 0.75
    expect(up[5]).toBeCloseTo(0.75, 6);
    expect(Array.from(resizeBilinear([5, 6, 7, 8, 9, 10], 2, 3, 2, 3))).toEqual([5, 6, 7, 8, 9, 10]);
  });
  it('blends heat over the scan, optionally weighted per pixel', () => {
    const scan = new Uint8Array([100, 100, 100, 10, 20, 30]);
    const heat = new Uint8Array([200, 0, 0, 0, 0, 255]);
    expect(Array.from(blendRgb(scan, heat, { alpha: 0.5 }))).toEqual([150, 50, 50, 5, 10, 143]);
    // weight 0 with minWeight 0 leaves the scan; weight 1 gives the full alpha.
    expect(Array.from(blendRgb(scan, heat, { alpha: 0.5, weights: [0, 1], minWeight: 0 }))).toEqual([100, 100, 100, 5, 10, 143]);
    expect(() => blendRgb(scan, heat, { alpha: 2 })).toThrow(/alpha/);
    expect(Array.from(toRgb(new Uint8Array([7, 9]), 2, 1, 1))).toEqual([7, 7, 7, 9, 9, 9]);
  });
});

describe('overlay of a real scan', () => {
  // A real upload decoded as the models see it (grey and RGB), and a smooth map over it.
  const decoded = (channels: 1 | 3) =>
    decodeImage(readFileSync(testImage('glioma_tumor', 'image(3).jpg')), { size: 224, channels, fit: 'fill', maxPixels: 50_000_000 });
  const grid = Float32Array.from({ length: 49 }, (_, i) => Math.max(0, Math.sin(i * 0.7) + 0.3 * Math.cos(i * 1.3)));
  const map = mapOverExtent(grid, 7, 7, { x: 0, y: 0, width: 224, height: 224, size: 224 }, 224, 224).map;

  it('the one-pass blend gives the bytes of blendRgb(toRgb(scan), colorize(map)) with per-pixel weights', async () => {
    for (const channels of [1, 3] as const) {
      const d = await decoded(channels);
      const scan = { pixels: d.pixels, width: 224, height: 224, channels };
      const rgb = toRgb(scan.pixels, 224, 224, channels);
      for (const opts of [{}, { alpha: 0.7, colormap: 'turbo' as const }, { alpha: 0.4, weighted: false }]) {
        const weights = opts.weighted === false ? undefined : map;
        const reference = blendRgb(rgb, colorize(map, opts.colormap ?? 'jet'), { alpha: opts.alpha ?? 0.5, weights });
        expect(Buffer.from(overlayMapPixels(scan, map, opts)).equals(Buffer.from(reference))).toBe(true);
      }
    }
    const d = await decoded(1);
    expect(() => overlayMapPixels({ pixels: d.pixels, width: 224, height: 224, channels: 1 }, map, { alpha: 1.5 })).toThrow(/alpha/);
    expect(() => overlayMapPixels({ pixels: d.pixels, width: 224, height: 224, channels: 1 }, map.subarray(1))).toThrow(/map of/);
  });

  it('PNGs at any zlib level hold the same pixels (the server writes level 1)', async () => {
    const d = await decoded(1);
    const scan = { pixels: d.pixels, width: 224, height: 224, channels: 1 };
    const pixels = (png: Buffer, channels: 1 | 3) => (channels === 1 ? sharp(png).extractChannel(0) : sharp(png)).raw().toBuffer();
    const [fast, slow] = [await overlayMapPng(scan, map, {}, 1), await overlayMapPng(scan, map)];
    expect(fast.equals(slow)).toBe(false);
    const blended = Buffer.from(overlayMapPixels(scan, map));
    expect((await pixels(fast, 3)).equals(blended)).toBe(true);
    expect((await pixels(slow, 3)).equals(blended)).toBe(true);
    expect((await sharp(await scanPng(scan, 1)).metadata()).channels).toBe(1);
    expect((await pixels(await scanPng(scan, 1), 1)).equals(Buffer.from(d.pixels))).toBe(true);
  });
});

describe('Grad-CAM on real models and real scans', () => {
  let dir: string;
  let mobilenet: { model: LayersModel; metadata: ModelMetadata };
  let cnn: { model: LayersModel; metadata: ModelMetadata };

  beforeAll(async () => {
    await selectBackend('auto');
    dir = mkdtempSync(path.join(tmpdir(), 'gradcam-test-'));
    await trainTinyModel({ outDir: path.join(dir, 'mobilenet'), sharedDir: shared, backbone: 'mobilenet_v2', perClass: 8 });
    await trainTinyModel({ outDir: path.join(dir, 'cnn'), sharedDir: shared, backbone: 'cnn', epochs: 6 });
    mobilenet = await loadModel(path.join(dir, 'mobilenet'));
    cnn = await loadModel(path.join(dir, 'cnn'));
  });
  afterAll(() => {
    mobilenet?.model.dispose();
    cnn?.model.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('mobilenet_v2: a 14×14 Layer-CAM map at block_12_add in [0, 1], zero in the padding, overlay at the upload aspect ratio', async () => {
    // image(1).jpg is 244×256: padded to 224 it fills x ∈ [5, 219) (214 px wide).
    const bytes = readFileSync(testImage('pituitary_tumor', 'image(1).jpg'));
    const e = await explainImage(mobilenet, bytes, { maxPixels: 50_000_000, method: 'layer-cam' });
    expect(e.cam.layerName).toBe('block_12_add');
    expect(e.cam.method).toBe('layer-cam');
    expect([e.cam.height, e.cam.width]).toEqual([14, 14]);
    expect(e.cam.cam.length).toBe(196);
    expect(e.cam.extent).toEqual({ x: 5, y: 0, width: 214, height: 224, size: 224 });
    expect(Math.min(...e.cam.cam)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...e.cam.cam)).toBe(1);
    expect(e.cam.constant).toBe(false);
    expect(new Set(Array.from(e.cam.cam, (v) => v.toFixed(3))).size).toBeGreaterThan(20);
    // The map shown covers only the extent, at the upload's aspect ratio (214 × 224).
    expect([e.display.width, e.display.height]).toEqual([214, 224]);
    // The scan under the overlay is the extent of the decoded upload, as sharp's extract + resize gives it.
    const prepared = await prepareImage(bytes, mobilenet.metadata.preprocessing, 50_000_000);
    prepared.input.dispose();
    const viaSharp = await sharp(prepared.scan.pixels, { raw: { width: 224, height: 224, channels: 1 } })
      .extract({ left: 5, top: 0, width: 214, height: 224 })
      .resize(214, 224, { fit: 'fill', kernel: 'cubic' })
      .extractChannel(0)
      .raw()
      .toBuffer();
    expect(e.display.channels).toBe(1);
    expect(Buffer.from(e.display.pixels).equals(viaSharp)).toBe(true);
    expect(e.cam.map.length).toBe(214 * 224);
    expect(e.cam.map[e.cam.peak.y * 214 + e.cam.peak.x]).toBe(1);
    expect(e.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(e.classIndex).toBe(e.probabilities.indexOf(Math.max(...e.probabilities)));
    const meta = await sharp(e.overlayPng).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 214, 224, 3]);
    // The overlay is coloured: a grey scan alone would have r = g = b everywhere.
    const { data } = await sharp(e.overlayPng).raw().toBuffer({ resolveWithObject: true });
    let coloured = 0;
    for (let i = 0; i < data.length; i += 3) if (Math.abs(data[i] - data[i + 2]) > 30) coloured++;
    expect(coloured).toBeGreaterThan(224 * 5);
    // A wide scan (256×162 → rows 41..182 of 224): the 16 px grid rows centred in the padding (centres 8, 24, 40 and 184, 200, 216) are zero.
    const wide = await explainImage(mobilenet, readFileSync(testImage('meningioma_tumor', 'image(1).jpg')), { maxPixels: 50_000_000, method: 'layer-cam' });
    expect(wide.cam.extent).toEqual({ x: 0, y: 41, width: 224, height: 142, size: 224 });
    for (const row of [0, 1, 2, 11, 12, 13]) expect(Array.from(wide.cam.cam.subarray(row * 14, row * 14 + 14))).toEqual(new Array(14).fill(0));
    expect([wide.display.width, wide.display.height]).toEqual([224, 142]);
    expect(await sharp(wide.overlayPng).metadata()).toMatchObject({ width: 224, height: 142 });
  });

  it('Grad-CAM by default: without a layer the classic 7×7 out_relu map; Layer-CAM and other layers on request', async () => {
    const bytes = readFileSync(testImage('pituitary_tumor', 'image(1).jpg'));
    const e = await explainImage(mobilenet, bytes, { maxPixels: 50_000_000 });
    expect([e.cam.layerName, e.cam.method, e.cam.height, e.cam.width]).toEqual(['out_relu', 'grad-cam', 7, 7]);
    const g = await explainImage(mobilenet, bytes, { maxPixels: 50_000_000, layerName: 'block_13_expand_relu' });
    expect([g.cam.layerName, g.cam.method, g.cam.height]).toEqual(['block_13_expand_relu', 'grad-cam', 14]);
    const l = await explainImage(mobilenet, bytes, { maxPixels: 50_000_000, layerName: 'block_13_expand_relu', method: 'layer-cam' });
    expect([l.cam.layerName, l.cam.method, l.cam.height]).toEqual(['block_13_expand_relu', 'layer-cam', 14]);
    expect(Array.from(l.cam.cam)).not.toEqual(Array.from(g.cam.cam));
  });

  it('mobilenet_v2: equals ReLU(Σ_k W[k, c] · A_k) computed independently (GAP → Dense above out_relu)', async () => {
    const bytes = readFileSync(testImage('glioma_tumor', 'image(1).jpg'));
    const prepared = await prepareImage(bytes, mobilenet.metadata.preprocessing, 50_000_000);
    const r = gradCam({ stages: [mobilenet.model], input: prepared.input });
    // Independent path: activations of out_relu from a sub-model, Dense kernel of the head.
    const backbone = containerOf(mobilenet.model, 'out_relu');
    const head = containerOf(mobilenet.model, 'head_dense');
    const sub = tf.model({ inputs: backbone.inputs, outputs: backbone.getLayer('out_relu').output });
    const acts = sub.predict(prepared.input) as Tensor;
    const a = acts.dataSync();
    const w = head.getLayer('head_dense').getWeights()[0].dataSync();
    const k = mobilenet.metadata.classes.length;
    const [, h, wd, c] = acts.shape as number[];
    const raw = new Float32Array(h * wd);
    for (let p = 0; p < h * wd; p++) {
      let s = 0;
      for (let j = 0; j < c; j++) s += w[j * k + r.classIndex] * a[p * c + j];
      raw[p] = Math.max(0, s);
    }
    const max = Math.max(...raw);
    expect(max).toBeGreaterThan(0);
    for (let p = 0; p < raw.length; p++) expect(Math.abs(r.cam[p] - raw[p] / max)).toBeLessThan(1e-4);
    // The model is left as it was: predictions are still softmax probabilities.
    const probs = (mobilenet.model.predict(prepared.input) as Tensor).dataSync();
    expect(Array.from(probs).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    for (let j = 0; j < k; j++) expect(probs[j]).toBeCloseTo(r.probabilities[j], 4);
    tf.dispose([acts, prepared.input]);
  });

  it('cnn: the last conv block (nested trunk) gives a 24×24 map in [0, 1]; some class has a non-constant map', async () => {
    expect(findFeatureLayer([cnn.model]).layer.name).toBe('block2_relu');
    const bytes = readFileSync(testImage('meningioma_tumor', 'image(1).jpg'));
    const prepared = await prepareImage(bytes, cnn.metadata.preprocessing, 50_000_000);
    const maps = cnn.metadata.classes.map((_, classIndex) => gradCam({ stages: [cnn.model], input: prepared.input, classIndex }));
    for (const m of maps) {
      expect([m.height, m.width, m.cam.length]).toEqual([24, 24, 576]);
      for (const v of m.cam) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(maps.some((m) => !m.constant && m.rawMax > 0)).toBe(true);
    expect(() => gradCam({ stages: [cnn.model], input: prepared.input, layerName: 'no_such_layer' })).toThrow(/no layer named/);
    const early = gradCam({ stages: [cnn.model], input: prepared.input, layerName: 'block1_relu' });
    expect([early.height, early.width]).toEqual([48, 48]);
    prepared.input.dispose();
  });

  /** `model:predict` on the cnn and a real scan, as a child process. */
  const predictCli = (extra: string[]) =>
    promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'packages/model/src/cli.ts', 'predict', '--model', path.join(dir, 'cnn'), '--image', testImage('no_tumor', 'image(1).jpg'), ...extra],
      { cwd: workspaceRoot() },
    );

  it('`model:predict --gradcam` writes the overlay (real CLI child process)', async () => {
    const out = path.join(dir, 'cli-overlay.png');
    const { stdout, stderr } = await predictCli(['--gradcam', out]);
    expect(stdout).toMatch(/class: (glioma|meningioma|notumor|pituitary)/);
    // Grad-CAM, as serve:start draws by default (the cnn's max pooling head has no ONNX map: the tfjs gradient pass).
    expect(stderr).toMatch(/grad-cam of '\w+' \(grad-cam, layer block2_relu, 24×24, shown \d+×\d+\)/);
    // Shown at the upload's aspect ratio, longer side 224.
    const src = await sharp(testImage('no_tumor', 'image(1).jpg')).metadata();
    const meta = await sharp(out).metadata();
    expect(meta.format).toBe('png');
    expect(Math.max(meta.width!, meta.height!)).toBe(224);
    expect(Math.abs(meta.width! / meta.height! - src.width! / src.height!)).toBeLessThan(0.03);
  });

  it('`model:predict --gradcam --cam layer-cam` draws Layer-CAM; a bad --cam or --cam alone is one line', async () => {
    const out = path.join(dir, 'cli-layercam.png');
    const { stderr } = await predictCli(['--gradcam', out, '--cam', 'layer-cam']);
    expect(stderr).toMatch(/grad-cam of '\w+' \(layer-cam, layer \w+, \d+×\d+, shown \d+×\d+\)/);
    expect((await sharp(out).metadata()).format).toBe('png');
    for (const [extra, message] of [
      [['--gradcam', out, '--cam', 'scorecam'], /--cam scorecam: expected layer-cam or grad-cam/],
      [['--cam', 'layer-cam'], /--cam chooses the map of --gradcam/],
    ] as const) {
      const err = (await predictCli([...extra]).catch((e: { stderr: string; code: number }) => e)) as { stderr: string; code: number };
      expect(err.code).toBe(1);
      expect(err.stderr.trim().split('\n')).toHaveLength(1);
      expect(err.stderr).toMatch(message);
    }
  });

  it('gallery: the same test scans per class, clean and noisy (a real noise-stage layout), with predictions', async () => {
    // A noise-stage output in miniature: train/ (clean test split) and one noisy eval set.
    const noiseDir = path.join(dir, 'noise');
    const size = cnn.metadata.preprocessing.decode.size;
    const shape = { height: size, width: size, channels: 1, classes: cnn.metadata.classes };
    const clean = await ImageSetWriter.create(path.join(noiseDir, 'train'), shape);
    const noisy = await ImageSetWriter.create(path.join(noiseDir, 'eval', 'test-rician-snr5'), shape);
    const folders: Record<string, string> = { glioma: 'glioma_tumor', meningioma: 'meningioma_tumor', notumor: 'no_tumor', pituitary: 'pituitary_tumor' };
    for (const label of cnn.metadata.classes) {
      for (const name of ['image(1).jpg', 'image(2).jpg', 'image(3).jpg']) {
        const { pixels } = await decodeImage(readFileSync(testImage(folders[label], name)), { size, channels: 1, fit: 'pad', maxPixels: 50_000_000 });
        const rec = { id: `${label}/${name}`, label, split: 'test' as const, source: 'sartaj', path: name, noise: null };
        await clean.add(pixels, rec);
        const n = toUint8(applyNoise(fromUint8(pixels, size, size, 1), { kind: 'rician', snr: 5 }, rec.id));
        await noisy.add(n, { ...rec, noise: { kind: 'rician', snr: 5 } });
      }
    }
    await clean.close();
    await noisy.close();
    mkdirSync(noiseDir, { recursive: true });
    writeFileSync(
      path.join(noiseDir, 'sets.json'),
      JSON.stringify({
        eval: [{ id: 'test-rician-snr5', split: 'test', kind: 'rician', severity: 4, snr: 5, params: { snr: 5 }, dir: 'eval/test-rician-snr5', count: 12 }],
      }),
    );
    const out = path.join(dir, 'gallery');
    const g = await writeGradCamGallery({ modelDir: path.join(dir, 'cnn'), noiseDir, outDir: out, perClass: 2 });
    expect(g.sets.map((x) => x.id)).toEqual(['clean', 'test-rician-snr5']);
    expect(g.items.length).toBe(16);
    const ids = (set: string) => g.items.filter((i) => i.set === set).map((i) => i.id);
    expect(ids('clean')).toEqual(ids('test-rician-snr5'));
    for (const label of cnn.metadata.classes) expect(g.items.filter((i) => i.set === 'clean' && i.label === label).length).toBe(2);
    for (const item of g.items) {
      expect(cnn.metadata.classes).toContain(item.predicted);
      expect(item.correct).toBe(item.predicted === item.label);
      const meta = await sharp(path.join(out, item.file)).metadata();
      expect([meta.format, meta.width]).toEqual(['jpeg', 224]);
    }
    // Clean and noisy overlays of the same scan differ (the noise changes scan and map).
    const a = readFileSync(path.join(out, g.items[0].file));
    const b = readFileSync(path.join(out, g.items.find((i) => i.set !== 'clean' && i.id === g.items[0].id)!.file));
    expect(Buffer.compare(a, b)).not.toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'gallery.json'), 'utf8')).items.length).toBe(16);
    await expect(writeGradCamGallery({ modelDir: path.join(dir, 'cnn'), noiseDir, outDir: out, sets: ['test-blur-s9'] })).rejects.toThrow(
      /no test set test-blur-s9/,
    );
  });
});
