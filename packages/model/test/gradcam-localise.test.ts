/**
 * Does the class-activation map point at the brain? On real tumour scans from ../shared (sartaj
 * Testing: glioma, meningioma, pituitary), the peak of the map (read inside the scan's extent) must
 * fall inside the brain for most of them: Layer-CAM at block_12_add (14×14 for MobileNetV2 at 224 px,
 * `--cam layer-cam`, the gallery's map) for ≥ 75 %, and the default Grad-CAM at out_relu (7×7, one
 * ONNX Runtime pass: what serve and model:predict draw unless asked) for ≥ 60 % (27 and 21 of 30 when
 * this was written: the finer map localises better, at ~5× the CPU time per answer). "Inside the brain" is defined from the image alone: the Otsu foreground at half the Otsu
 * threshold (so dark brain tissue inside a bright scalp counts), its largest 4-connected component
 * with holes filled (the head), eroded by a disc of 12 % of the head's equivalent radius (which
 * removes the skull rim and scalp) — the same mask is drawn over the scans in the report below.
 * Also: the pure parts (extent after `fit: pad` against sharp, map resampling, Layer-CAM weights).
 */
import { readdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/backend/select.ts';
import { camFromGradients, layerCamFromGradients } from '../src/gradcam/cam.ts';
import { explainImage } from '../src/gradcam/explain.ts';
import { contentExtent, displaySize, mapOverExtent, peakOf } from '../src/gradcam/extent.ts';
import { defaultCamLayer } from '../src/gradcam/layers.ts';
import { loadModel, type ModelMetadata } from '../src/save.ts';
import { trainTinyModel } from '../src/testing/tiny-model.ts';

const shared = sharedDir();

/** Otsu's threshold of 8-bit values (maximum between-class variance). */
function otsu(values: ArrayLike<number>): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < values.length; i++) hist[values[i]]++;
  let sum = 0;
  for (let t = 0; t < 256; t++) sum += t * hist[t];
  let sumB = 0;
  let wB = 0;
  let best = -1;
  let bestT = 0;
  for (let t = 0; t < 256; t++) {
    wB += hist[t];
    const wF = values.length - wB;
    if (wB === 0) continue;
    if (wF === 0) break;
    sumB += t * hist[t];
    const v = wB * wF * (sumB / wB - (sum - sumB) / wF) ** 2;
    if (v > best) [best, bestT] = [v, t];
  }
  return bestT;
}

const neighbours = (p: number, w: number, h: number): number[] => {
  const x = p % w;
  const y = (p - x) / w;
  return [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1].filter((q) => q >= 0);
};

/** The largest 4-connected component of `mask` with its holes filled. */
function largestFilled(mask: Uint8Array, w: number, h: number): Uint8Array {
  const label = new Int32Array(w * h).fill(-1);
  let best = -1;
  let bestSize = 0;
  for (let s = 0, id = 0; s < w * h; s++) {
    if (!mask[s] || label[s] >= 0) continue;
    const stack = [s];
    label[s] = id;
    let size = 0;
    while (stack.length) {
      const p = stack.pop()!;
      size++;
      for (const q of neighbours(p, w, h)) if (mask[q] && label[q] < 0) stack.push(q), (label[q] = id);
    }
    if (size > bestSize) [best, bestSize] = [id, size];
    id++;
  }
  // Holes: background not reachable from the border.
  const outside = new Uint8Array(w * h);
  const stack: number[] = [];
  for (let p = 0; p < w * h; p++) {
    const x = p % w;
    const y = (p - x) / w;
    if ((x === 0 || y === 0 || x === w - 1 || y === h - 1) && label[p] !== best) stack.push(p), (outside[p] = 1);
  }
  while (stack.length) for (const q of neighbours(stack.pop()!, w, h)) if (!outside[q] && label[q] !== best) stack.push(q), (outside[q] = 1);
  return Uint8Array.from(outside, (o) => 1 - o);
}

/** Pixels whose disc of radius r lies inside `mask` (outside the image counts as background). */
function erode(mask: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const out = new Uint8Array(w * h);
  const R = Math.ceil(r);
  const offsets: [number, number][] = [];
  for (let dy = -R; dy <= R; dy++) for (let dx = -R; dx <= R; dx++) if (dx * dx + dy * dy <= r * r) offsets.push([dx, dy]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      out[y * w + x] = offsets.every(([dx, dy]) => x + dx >= 0 && y + dy >= 0 && x + dx < w && y + dy < h && mask[(y + dy) * w + x + dx] === 1) ? 1 : 0;
    }
  }
  return out;
}

/** The brain mask of a grey scan (see the header). */
function brainMask(grey: Uint8Array, w: number, h: number): Uint8Array {
  const t = Math.max(8, otsu(grey) / 2);
  const head = largestFilled(
    Uint8Array.from(grey, (v) => (v > t ? 1 : 0)),
    w,
    h,
  );
  const area = head.reduce((a, b) => a + b, 0);
  return erode(head, w, h, 0.12 * Math.sqrt(area / Math.PI));
}

describe('extent, resampling and Layer-CAM (pure)', () => {
  it('contentExtent matches where sharp (fit: pad = contain, centred) puts the image', async () => {
    for (const size of [48, 128, 224]) {
      for (const [w, h] of [
        [256, 162],
        [244, 256],
        [205, 256],
        [300, 113],
        [150, 150],
        [101, 257],
      ]) {
        const out = await sharp(Buffer.alloc(w * h, 255), { raw: { width: w, height: h, channels: 1 } })
          .resize(size, size, { fit: 'contain', position: 'centre', background: { r: 0, g: 0, b: 0 } })
          .toColourspace('b-w')
          .raw()
          .toBuffer();
        let [x0, y0, x1, y1] = [size, size, -1, -1];
        for (let y = 0; y < size; y++)
          for (let x = 0; x < size; x++) if (out[y * size + x] > 127) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
        expect(contentExtent(w, h, size, 'pad')).toEqual({ x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1, size });
      }
    }
    expect(contentExtent(256, 162, 224, 'crop')).toEqual({ x: 0, y: 0, width: 224, height: 224, size: 224 });
    expect(displaySize(contentExtent(256, 162, 128, 'pad'), 256, 162, 'pad', 224)).toEqual({ width: 224, height: 142 });
    // fill: the stretched square is shown back at the upload's aspect.
    expect(displaySize(contentExtent(256, 162, 128, 'fill'), 256, 162, 'fill', 224)).toEqual({ width: 224, height: 142 });
  });

  it('mapOverExtent: the whole square at grid size is the map itself (normalised); a sub-extent reads only its cells', () => {
    const map = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const full = mapOverExtent(map, 4, 4, { x: 0, y: 0, width: 8, height: 8, size: 8 }, 4, 4);
    full.map.forEach((v, i) => {
      expect(v).toBeCloseTo(map[i] / 15, 6);
    });
    // The top half of the square at 4×2 = rows 0 and 1 of the map; its maximum (7) sets the scale.
    const top = mapOverExtent(map, 4, 4, { x: 0, y: 0, width: 8, height: 4, size: 8 }, 4, 2);
    expect(top.max).toBe(7);
    top.map.forEach((v, i) => {
      expect(v).toBeCloseTo(i / 7, 6);
    });
    expect(peakOf(top.map, 4)).toMatchObject({ index: 7, x: 3, y: 1 });
  });

  it('Layer-CAM weights each location by its own positive gradients (hand-computed); Grad-CAM by the channel mean', () => {
    // 1×2 map, 2 channels: A = [(1, 2), (3, 4)], ∂y/∂A = [(1, −1), (−2, 0.5)].
    const acts = [1, 2, 3, 4];
    const grads = [1, -1, -2, 0.5];
    expect(Array.from(layerCamFromGradients(acts, grads, 1, 2, 2))).toEqual([1, 2]);
    // Grad-CAM: α = (−0.5, −0.25) → both locations negative → 0.
    expect(Array.from(camFromGradients(acts, grads, 1, 2, 2))).toEqual([0, 0]);
  });

  it('the brain mask: Otsu foreground, largest component with holes filled, eroded', () => {
    // A 60×60 disc of 100 (radius 25) with a dark hole (a ventricle) and a far bright speck.
    const w = 60;
    const img = new Uint8Array(w * w);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) if ((x - 30) ** 2 + (y - 30) ** 2 <= 625) img[y * w + x] = 100;
    img[30 * w + 30] = 0;
    img[0] = 255;
    const head = largestFilled(
      Uint8Array.from(img, (v) => (v > 50 ? 1 : 0)),
      w,
      w,
    );
    expect(head[30 * w + 30]).toBe(1); // hole filled
    expect(head[0]).toBe(0); // the speck is another component
    const m = brainMask(img, w, w); // eroded by 0.12 · 25 = 3 px
    expect(m[30 * w + 30]).toBe(1);
    expect(m[30 * w + 6]).toBe(0); // 24 px from the centre: within 3 px of the rim
    expect(m[30 * w + 9]).toBe(1); // 21 px from the centre
  });
});

describe('the default map localises: peak inside the brain on real tumour scans', () => {
  let dir: string;
  let mobilenet: { model: LayersModel; metadata: ModelMetadata };

  beforeAll(async () => {
    await selectBackend('auto');
    dir = mkdtempSync(path.join(tmpdir(), 'gradcam-localise-'));
    await trainTinyModel({ outDir: path.join(dir, 'mobilenet'), sharedDir: shared, backbone: 'mobilenet_v2', perClass: 8 });
    mobilenet = await loadModel(path.join(dir, 'mobilenet'));
  });
  afterAll(() => {
    mobilenet?.model.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('MobileNetV2 at 224 px: peaks in the eroded head mask for ≥ 75 % (Layer-CAM 14×14) and ≥ 60 % (default Grad-CAM 7×7) of 30 tumour scans', async () => {
    expect(defaultCamLayer([mobilenet.model], 224).layer.name).toBe('block_12_add');
    const root = path.join(shared, 'datasets', 'sartaj', 'Testing');
    let inside = 0;
    let insideGradCam7 = 0;
    let total = 0;
    const misses: string[] = [];
    for (const cls of ['glioma_tumor', 'meningioma_tumor', 'pituitary_tumor']) {
      // Ten scans per class, by sorted name (the first 12 were looked at while choosing the layer).
      for (const name of readdirSync(path.join(root, cls)).sort().slice(12, 22)) {
        const bytes = readFileSync(path.join(root, cls, name));
        const e = await explainImage(mobilenet, bytes, { maxPixels: 50_000_000, method: 'layer-cam' });
        expect([e.cam.height, e.cam.width]).toEqual([14, 14]);
        const { width: w, height: h, pixels } = e.display;
        const mask = brainMask(pixels, w, h);
        total++;
        if (mask[e.cam.peak.y * w + e.cam.peak.x]) inside++;
        else misses.push(`${cls}/${name}`);
        // The default (serve, model:predict --gradcam): Grad-CAM at out_relu (7×7), read the same way.
        const g = await explainImage(mobilenet, bytes, { maxPixels: 50_000_000 });
        expect([g.cam.height, g.cam.width]).toEqual([7, 7]);
        if (mask[g.cam.peak.y * w + g.cam.peak.x]) insideGradCam7++;
      }
    }
    process.stderr.write(
      `[gradcam-localise] peak inside the brain: Layer-CAM block_12_add 14×14 ${inside}/${total}; Grad-CAM out_relu 7×7 ${insideGradCam7}/${total}; misses: ${misses.join(', ') || 'none'}\n`,
    );
    expect(total).toBe(30);
    expect(inside / total).toBeGreaterThanOrEqual(0.75);
    expect(insideGradCam7 / total).toBeGreaterThanOrEqual(0.6);
  });
});
