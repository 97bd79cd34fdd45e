/**
 * Multi-layer frozen features (`model.features`): one model, one forward pass, image → the
 * concatenated global average pools of several layers. Checked on real scans with the real ImageNet
 * weights against pools computed separately (plain loops over activations of separately built
 * models), for MobileNetV1 (built in code, against the model.json loaded as is) and the nested
 * MobileNetV2 of ../shared (inner layers and the outer avg_pool).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { sharedDir } from '@mri-robust/core';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { loadBackbone } from '../src/nets/backbones.ts';
import { multiLayerFeatures } from '../src/nets/features.ts';
import { loadMobileNetV2 } from '../src/nets/mobilenet.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { gap, map3, maxAbsDiff } from './nets-reference.ts';

const SHARED = process.env.MRI_SHARED ?? sharedDir();
const SIZE = 96;

let x: Tensor4D;
beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
  const chunks: Uint8Array[] = [];
  for (const c of ['glioma', 'notumor', 'pituitary']) {
    const folder = path.join(SHARED, 'datasets', 'nickparvar', 'Training', c);
    const f = readdirSync(folder).sort()[3];
    chunks.push(new Uint8Array(await sharp(path.join(folder, f)).greyscale().resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer()));
  }
  const pixels = new Uint8Array(chunks.length * SIZE * SIZE);
  chunks.forEach((ch, i) => {
    pixels.set(ch, i * SIZE * SIZE);
  });
  x = imagesToTensor(pixels, chunks.length, { height: SIZE, width: SIZE, channels: 1 }, { inputSize: SIZE, inputChannels: 3 });
});

/** Pools of `layer` computed apart: its activations from `model` (a separate sub-model), averaged in loops. */
function separatePools(model: LayersModel, layer: string): Float32Array[] {
  const out = model.getLayer(layer).output as SymbolicTensor;
  const act = tf.model({ inputs: model.inputs, outputs: out }).predict(x) as Tensor;
  const data = act.dataSync() as Float32Array;
  if (act.shape.length === 2) return [0, 1, 2].map((n) => data.slice(n * act.shape[1]!, (n + 1) * act.shape[1]!));
  const [, h, w, c] = act.shape as number[];
  return [0, 1, 2].map((n) => gap(map3(h, w, c, data.slice(n * h * w * c, (n + 1) * h * w * c))));
}

function expectConcatenation(got: Float32Array, feats: ReturnType<typeof multiLayerFeatures>, pools: Map<string, Float32Array[]>): void {
  for (let n = 0; n < 3; n++) {
    for (const info of feats.layers) {
      const slice = got.slice(n * feats.size + info.offset, n * feats.size + info.offset + info.size);
      expect(maxAbsDiff(slice, pools.get(info.layer)![n]), `${info.layer} image ${n}`).toBeLessThan(1e-5);
    }
  }
}

describe('multi-layer features', () => {
  it('MobileNetV1: concat of pooled conv_pw_5/11/13 equals separate pools of the model.json loaded as is', async () => {
    const weights = path.join(SHARED, 'weights', 'mobilenet_v1_0.75_224');
    const backbone = await loadBackbone('mobilenet_v1', weights, { inputSize: SIZE });
    const layers = ['conv_pw_5_relu', 'conv_pw_11_relu', 'conv_pw_13_relu'];
    const feats = multiLayerFeatures(backbone.model, layers);
    expect(feats.layers.map((l) => [l.layer, l.size, l.offset])).toEqual([
      ['conv_pw_5_relu', 192, 0],
      ['conv_pw_11_relu', 384, 192],
      ['conv_pw_13_relu', 768, 576],
    ]);
    expect(feats.model.outputs[0].shape).toEqual([null, 1344]);
    const got = (feats.model.predict(x) as Tensor).dataSync() as Float32Array;
    // the model.json as it is (tf.loadLayersModel; only its input layer's size rewritten to SIZE)
    const asIs = (await loadMobileNetV2(weights, { inputSize: SIZE })).model;
    expect(asIs.outputs[0].shape).toEqual([null, 1000]);
    expectConcatenation(got, feats, new Map(layers.map((l) => [l, separatePools(asIs, l)])));
    expect(maxAbsDiff(got.slice(576, 1344), (backbone.model.predict(x) as Tensor).dataSync().slice(0, 768))).toBeLessThan(1e-5);
  });

  it('MobileNetV2 (nested model): inner layers and the outer avg_pool', async () => {
    const backbone = await loadBackbone('mobilenet_v2', path.join(SHARED, 'weights', 'mobilenet_v2_0.35_224'), { inputSize: SIZE });
    const layers = ['block_6_expand_relu', 'block_12_add', 'out_relu', 'avg_pool'];
    const feats = multiLayerFeatures(backbone.model, layers);
    const got = (feats.model.predict(x) as Tensor).dataSync() as Float32Array;
    const inner = backbone.model.layers.find((l) => l instanceof tf.LayersModel) as LayersModel;
    const pools = new Map(layers.slice(0, 3).map((l) => [l, separatePools(inner, l)]));
    const direct = (backbone.model.predict(x) as Tensor).dataSync() as Float32Array;
    pools.set(
      'avg_pool',
      [0, 1, 2].map((n) => direct.slice(n * 1280, (n + 1) * 1280)),
    );
    expectConcatenation(got, feats, pools);
    expect(() => multiLayerFeatures(backbone.model, ['nope'])).toThrow(/'nope' is not a layer of the backbone/);
    expect(() => multiLayerFeatures(backbone.model, ['out_relu', 'out_relu'])).toThrow(/listed twice/);
  });
});
