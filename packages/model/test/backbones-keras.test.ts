/**
 * The Keras-application backbones without their real weight files (not obtainable here):
 * - parameter counts equal Keras's published no-top counts, at the smallest and the default input;
 * - a weight file written directly with h5wasm in Keras's HDF5 layout (seeded random values; VGG16
 *   with Keras-1-style dataset names `block1_conv1_W_1:0`, InceptionV3 numbered from 1 as Keras 2.0
 *   saved it) loads by layer name, every value lands where it belongs, and writeKerasH5 → readKerasH5
 *   gives the same arrays in the same layout back;
 * - missing, extra, mis-shaped and miscounted weights are errors naming the file and the first bad
 *   weight, also through loadExperiment + loadExperimentBackbone;
 * - splitAtLayer (partial mode) at each default cut reproduces the network, and the multi-layer
 *   features model equals separately computed global average pools.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import h5wasm from 'h5wasm/node';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { createRng, hashBytes, loadExperiment, UserError } from '@mri-robust/core';
import { readFileSync } from 'node:fs';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { modelSchemaParts } from '../src/schema.ts';
import { BACKBONE_SPECS, buildBackbone, largestActivationBytes, loadBackbone, loadExperimentBackbone, type PretrainedBackbone } from '../src/nets/backbones.ts';
import { readKerasH5, writeKerasH5 } from '../src/nets/h5-weights.ts';
import { multiLayerFeatures } from '../src/nets/features.ts';
import { splitAtLayer } from '../src/nets/mobilenet.ts';
import { buildMobileNetV1 } from '../src/nets/mobilenet-v1.ts';
import { flatLayers } from '../src/nets/weights.ts';
import { gap, map3, maxAbsDiff, randomizeWeights } from './nets-reference.ts';

type Arch = Exclude<PretrainedBackbone, 'mobilenet_v2' | 'mobilenet_v1'>;

/** Keras's documented no-top parameter counts (keras.io/api/applications). */
const KERAS_PARAMS: Record<Arch, number> = {
  efficientnet_b0: 4_049_571,
  vgg16: 14_714_688,
  resnet50: 23_587_712,
  inception_v3: 21_802_784,
};
const ARCHS = Object.keys(KERAS_PARAMS) as Arch[];
const SMALL: Record<Arch, number> = { efficientnet_b0: 32, vgg16: 32, resnet50: 32, inception_v3: 75 };

let dir: string;
beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
  await h5wasm.ready;
  dir = mkdtempSync(path.join(os.tmpdir(), 'backbones-keras-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Keras-1-era dataset names of VGG16's file (`block1_conv1_W_1:0`, `block1_conv1_b_1:0`). */
const vggLegacyName = (layer: string, weight: string) => `${layer}_${weight === 'kernel' ? 'W' : 'b'}_1:0`;
/** Keras 2.0 numbered auto-named layers from 1: conv2d → conv2d_1, conv2d_5 → conv2d_6. */
const keras20Name = (layer: string) => {
  const m = /^(conv2d|batch_normalization)(?:_(\d+))?$/.exec(layer);
  return m ? `${m[1]}_${Number(m[2] ?? 0) + 1}` : layer;
};

/**
 * Write `model`'s weights with h5wasm as Keras's `save_weights` lays them out (numpy fixed-length
 * byte strings; one group per layer with `weight_names`; datasets under `<layer>/<weight name>`),
 * independently of writeKerasH5. `layerName`/`weightName` choose the names the file uses.
 */
function writeKerasLayout(
  file: string,
  model: LayersModel,
  layerName: (l: string) => string = (l) => l,
  weightName: (layer: string, w: string) => string = (layer, w) => `${layer}/${w}:0`,
): void {
  const f = new h5wasm.File(file, 'w');
  const strs = (g: InstanceType<typeof h5wasm.Group>, name: string, values: string[]) => {
    if (values.length === 0) g.create_attribute(name, new Float64Array(0), [0]);
    else g.create_attribute(name, values, [values.length], `S${Math.max(...values.map((v) => v.length))}`);
  };
  const layers = model.layers;
  strs(
    f,
    'layer_names',
    layers.map((l) => layerName(l.name)),
  );
  f.create_attribute('backend', 'tensorflow', null, 'S10');
  f.create_attribute('keras_version', '2.0.8', null, 'S5');
  for (const l of layers) {
    const name = layerName(l.name);
    const g = f.create_group(name);
    const names = l.weights.map((w) => weightName(name, w.originalName.split('/').pop()!));
    strs(g, 'weight_names', names);
    const values = l.getWeights();
    names.forEach((n, i) => {
      let parent = g;
      const parts = n.split('/');
      for (const p of parts.slice(0, -1)) parent = (parent.get(p) as InstanceType<typeof h5wasm.Group> | null) ?? parent.create_group(p);
      parent.create_dataset({ name: parts.at(-1)!, data: values[i].dataSync() as Float32Array, shape: values[i].shape, dtype: '<f4' });
    });
  }
  f.close();
}

/** Append a layer with one `<name>/kernel:0` dataset to a Keras-layout file. */
function addLayer(file: string, name: string, shape: number[]): void {
  const f = new h5wasm.File(file, 'a');
  const names = [...(f.attrs.layer_names.value as string[]), name];
  f.delete_attribute('layer_names');
  f.create_attribute('layer_names', names, [names.length], `S${Math.max(...names.map((n) => n.length))}`);
  const g = f.create_group(name);
  g.create_attribute('weight_names', [`${name}/kernel:0`], [1], `S${name.length + 9}`);
  g.create_group(name).create_dataset({ name: 'kernel:0', data: new Float32Array(shape[0] * shape[1]), shape, dtype: '<f4' });
  f.close();
}

function expectSameWeights(a: LayersModel, b: LayersModel): void {
  const la = flatLayers(a).filter((l) => l.weights.length);
  const lb = new Map(flatLayers(b).map((l) => [l.name, l]));
  for (const l of la) {
    const other = lb.get(l.name)!;
    const wa = l.getWeights();
    const wb = other.getWeights();
    expect(wb.length, l.name).toBe(wa.length);
    wa.forEach((t, i) => {
      expect(maxAbsDiff(t.dataSync(), wb[i].dataSync()), `${l.name} weight ${i}`).toBe(0);
    });
  }
}

describe('Keras-application backbones', () => {
  it.each(ARCHS)("%s: parameter count equals Keras's published no-top count (small and default input)", (arch) => {
    for (const size of [SMALL[arch], BACKBONE_SPECS[arch].defaultInputSize]) {
      const m = buildBackbone(arch, { inputSize: size });
      expect(m.countParams(), `${arch} at ${size}`).toBe(KERAS_PARAMS[arch]);
      if (arch === 'vgg16' && size === 224) expect(largestActivationBytes(m)).toBe(224 * 224 * 64 * 4); // block1 convs
      if (arch === 'inception_v3' && size === 299) expect(largestActivationBytes(m)).toBe(147 * 147 * 64 * 4); // third stem conv
      m.dispose();
    }
  });

  it.each(ARCHS)('%s: a Keras-layout .h5 of seeded random weights loads by layer name and round-trips', async (arch) => {
    const size = SMALL[arch];
    const src = buildBackbone(arch, { inputSize: size });
    randomizeWeights(src, 100 + ARCHS.indexOf(arch));
    const file = path.join(dir, `${arch}.h5`);
    if (arch === 'vgg16') writeKerasLayout(file, src, undefined, (layer, w) => vggLegacyName(layer, w));
    else if (arch === 'inception_v3') writeKerasLayout(file, src, keras20Name);
    else writeKerasLayout(file, src);
    const loaded = await loadBackbone(arch, file, { inputSize: size });
    expect(loaded.weightsFormat).toBe('h5');
    expect(loaded.hash).toBe(hashBytes(readFileSync(file)));
    expect(loaded.scaling).toBe(BACKBONE_SPECS[arch].scaling);
    expectSameWeights(src, loaded.model);

    // writeKerasH5 → the same tree and arrays back.
    const again = path.join(dir, `${arch}-again.h5`);
    await writeKerasH5(loaded.model, again);
    const f = new h5wasm.File(again, 'r');
    try {
      const names = f.attrs.layer_names.value as string[];
      expect(names).toEqual(loaded.model.layers.map((l) => l.name));
      const first = flatLayers(loaded.model).find((l) => l.weights.length)!;
      const g = f.get(first.name) as InstanceType<typeof h5wasm.Group>;
      expect(g.attrs.weight_names.value).toEqual(first.weights.map((w) => `${w.originalName}:0`));
      const d = f.get(`${first.name}/${first.weights[0].originalName}:0`) as InstanceType<typeof h5wasm.Dataset>;
      expect(d.shape).toEqual(first.weights[0].shape);
      expect(d.dtype).toBe('<f');
    } finally {
      f.close();
    }
    const back = await readKerasH5(again);
    for (const l of flatLayers(src).filter((x) => x.weights.length)) {
      const stored = back.layers.get(l.name)!;
      l.getWeights().forEach((t, i) => {
        expect(maxAbsDiff(t.dataSync(), stored.weights[i].data), `${l.name} ${i}`).toBe(0);
      });
    }
    src.dispose();
    loaded.model.dispose();
  });

  it('a missing, extra, mis-shaped or miscounted weight is an error naming the file and the first bad weight', async () => {
    const src = buildBackbone('efficientnet_b0', { inputSize: 32 });
    randomizeWeights(src, 7);
    const write = (name: string, layerName?: (l: string) => string) => {
      const file = path.join(dir, name);
      writeKerasLayout(file, src, layerName);
      return file;
    };
    const load = (file: string) => loadBackbone('efficientnet_b0', file, { inputSize: 32 });
    // missing: top_conv renamed away (the file's extra 'top_conv_x' is reported only after every missing one)
    const renamed = write('renamed.h5', (l) => (l === 'top_conv' ? 'top_conv_x' : l));
    await expect(load(renamed)).rejects.toThrow(
      new UserError(`${renamed}: missing weight 'top_conv/kernel' (layer 'top_conv' of efficientnet_b0 needs top_conv/kernel [1, 1, 320, 1280])`),
    );
    // a file with the classifier top loads into the no-top backbone; an unknown layer is refused
    const topFile = write('top.h5');
    addLayer(topFile, 'predictions', [1280, 3]);
    expect((await load(topFile)).model.countParams()).toBe(KERAS_PARAMS.efficientnet_b0);
    const extra = write('extra.h5');
    addLayer(extra, 'head_fc', [2, 2]);
    await expect(load(extra)).rejects.toThrow(
      `${extra}: weight 'head_fc/kernel:0' (layer 'head_fc') has no place in efficientnet_b0; is this file for another network?`,
    );
    // shape: stem_conv and top_conv swapped in the file
    const swapped = write('swapped.h5', (l) => ({ stem_conv: 'top_conv', top_conv: 'stem_conv' })[l] ?? l);
    await expect(load(swapped)).rejects.toThrow(
      `${swapped}: weight 'stem_conv/kernel:0' has shape [1, 1, 320, 1280]; efficientnet_b0 needs [3, 3, 3, 32] for 'stem_conv/kernel'`,
    );
    // count: the moving variance of stem_bn left out of weight_names
    const short = write('short.h5');
    const h = new h5wasm.File(short, 'a');
    const grp = h.get('stem_bn') as InstanceType<typeof h5wasm.Group>;
    grp.delete_attribute('weight_names');
    grp.create_attribute('weight_names', ['stem_bn/gamma:0', 'stem_bn/beta:0', 'stem_bn/moving_mean:0'], [3], 'S21');
    h.close();
    await expect(load(short)).rejects.toThrow(
      `${short}: layer 'stem_bn' holds 3 weights (stem_bn/gamma:0, stem_bn/beta:0, stem_bn/moving_mean:0); efficientnet_b0 needs 4: stem_bn/gamma [32], stem_bn/beta [32], stem_bn/moving_mean [32], stem_bn/moving_variance [32]`,
    );
    // not HDF5 at all
    const junk = path.join(dir, 'junk.h5');
    writeFileSync(junk, 'not hdf5');
    await expect(load(junk)).rejects.toThrow(`${junk}: not an HDF5 file (Keras .h5 weights expected)`);
    src.dispose();
  });

  it('an experiment with a missing or mismatched weight file fails naming the experiment, the file and the first bad weight', async () => {
    const good = buildBackbone('efficientnet_b0', { inputSize: 32 });
    writeKerasLayout(path.join(dir, 'efficientnetb0_notop.h5'), good);
    good.dispose();
    const other = buildMobileNetV1({ inputSize: 32, alpha: 0.25 });
    writeKerasLayout(path.join(dir, 'mobilenet_2_5_224_tf_no_top.h5'), other);
    other.dispose();
    const experiment = (weights: string, name: string) => {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `name: ${name}\nseed: 1\nmodel:\n  backbone: efficientnet_b0\n  weights: ${weights}\n  input_size: 32\n  mode: partial\n  cut_layer: block6d_add\n`,
      );
      return loadExperiment(file, modelSchemaParts);
    };
    const ok = await loadExperimentBackbone(experiment('efficientnetb0_notop.h5', 'ok'));
    expect(ok.model.outputs[0].shape).toEqual([null, 1280]);
    expect(ok.scaling).toBe('raw_0_255');
    ok.model.dispose();
    const missing = experiment('nowhere/efficientnetb0_notop.h5', 'missing');
    await expect(loadExperimentBackbone(missing)).rejects.toThrow(
      `${missing.file}: model.weights: ${path.join(dir, 'nowhere/efficientnetb0_notop.h5')}: no such weight file`,
    );
    const mismatched = experiment('mobilenet_2_5_224_tf_no_top.h5', 'mismatched');
    await expect(loadExperimentBackbone(mismatched)).rejects.toThrow(
      `${mismatched.file}: model.weights: ${path.join(dir, 'mobilenet_2_5_224_tf_no_top.h5')}: missing weight 'normalization/mean' (layer 'normalization' of efficientnet_b0 needs normalization/mean [3], normalization/variance [3], normalization/count [])`,
    );
  });

  it("EfficientNetB0's own layers (Normalization, KerasRescaling, drop-connect Dropout) survive a tfjs save and reload", async () => {
    const net = buildBackbone('efficientnet_b0', { inputSize: 32 });
    randomizeWeights(net, 9, 0.05);
    let saved: import('@tensorflow/tfjs-core').io.ModelArtifacts | null = null;
    await net.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
      }),
    );
    const text = JSON.stringify(saved!.modelTopology);
    expect(text).toContain('"Normalization"');
    expect(text).toContain('"KerasRescaling"');
    const again = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const rng = createRng(4);
    const x = tf.tensor4d(
      Float32Array.from({ length: 32 * 32 * 3 }, () => rng.uniform(0, 255)),
      [1, 32, 32, 3],
    );
    expect(maxAbsDiff((again.predict(x) as Tensor).dataSync(), (net.predict(x) as Tensor).dataSync())).toBe(0);
    net.dispose();
    again.dispose();
  });

  it('an experiment with each backbone validates', () => {
    for (const backbone of Object.keys(BACKBONE_SPECS)) {
      const file = path.join(dir, `valid-${backbone}.yaml`);
      writeFileSync(file, `name: v\nseed: 1\nmodel:\n  backbone: ${backbone}\n  weights: w.h5\n  mode: head\n  features: [a, b]\n`);
      expect(loadExperiment(file, modelSchemaParts).config.model).toMatchObject({ backbone, features: ['a', 'b'] });
    }
  });

  it.each(ARCHS)('%s: splitAtLayer at the default cut reproduces the network; multi-layer features equal separate pools', (arch) => {
    const size = SMALL[arch];
    const net = buildBackbone(arch, { inputSize: size });
    randomizeWeights(net, 200 + ARCHS.indexOf(arch), 0.05);
    const rng = createRng(arch);
    const lo = BACKBONE_SPECS[arch].scaling === 'raw_0_255' ? 0 : -1;
    const hi = BACKBONE_SPECS[arch].scaling === 'raw_0_255' ? 255 : 1;
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * size * size * 3 }, () => rng.uniform(lo, hi)),
      [2, size, size, 3],
    );
    const direct = net.predict(x) as Tensor;
    const split = splitAtLayer(net, BACKBONE_SPECS[arch].defaultCutLayer);
    const viaCut = split.buildTop().predict(split.bottom.predict(x) as Tensor) as Tensor;
    const scale = Math.max(1e-3, tf.max(tf.abs(direct)).dataSync()[0]);
    expect(maxAbsDiff(viaCut.dataSync(), direct.dataSync()) / scale).toBeLessThan(1e-4);

    const names = flatLayers(net).map((l) => l.name);
    const picks = [names[Math.floor(names.length / 3)], BACKBONE_SPECS[arch].defaultCutLayer, BACKBONE_SPECS[arch].lastFeatureLayer];
    const feats = multiLayerFeatures(net, picks);
    const got = (feats.model.predict(x) as Tensor).dataSync();
    const perImage = feats.size;
    for (const info of feats.layers) {
      const act = tf.model({ inputs: net.inputs, outputs: net.getLayer(info.layer).output as SymbolicTensor }).predict(x) as Tensor;
      const [, h, w, c] = act.shape;
      const data = act.dataSync() as Float32Array;
      for (let n = 0; n < 2; n++) {
        const ref = gap(map3(h!, w!, c!, data.slice(n * h! * w! * c!, (n + 1) * h! * w! * c!)));
        expect(maxAbsDiff(got.slice(n * perImage + info.offset, n * perImage + info.offset + info.size), ref)).toBeLessThan(1e-4);
      }
    }
    net.dispose();
  });
});
