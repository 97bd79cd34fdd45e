/**
 * The pretrained backbones (`model.backbone`) and how each is loaded, cut and fed:
 *
 * | name            | weights                                  | input scaling  | pooled output              |
 * |-----------------|------------------------------------------|----------------|----------------------------|
 * | mobilenet_v2    | tfjs layers folder (topology used as is) | scale_-1_1     | avg_pool (1280·α)          |
 * | mobilenet_v1    | tfjs folder or Keras .h5, α from weights | scale_-1_1     | global_average_pooling2d_1 |
 * | efficientnet_b0 | tfjs folder or Keras .h5                 | raw_0_255      | avg_pool (1280)            |
 * | vgg16           | tfjs folder or Keras .h5                 | caffe_bgr_mean | global_average_pooling2d   |
 * | resnet50        | tfjs folder or Keras .h5                 | caffe_bgr_mean | avg_pool (2048)            |
 * | inception_v3    | tfjs folder or Keras .h5                 | scale_-1_1     | global_average_pooling2d   |
 *
 * Every backbone loads as an image → pooled-embedding `LayersModel` with Keras's layer names (no
 * classifier top unless asked), so `splitAtLayer` (partial mode), `trainableBackbone` (full mode) and
 * `multiLayerFeatures` (head mode with `model.features`) work on any of them.
 */
import * as tfl from '@tensorflow/tfjs-layers';
type LayersModel = tfl.LayersModel;
import { experimentPath, UserError, type Experiment } from '@mri-robust/core';
import { modelSettingsOf, type ModelSettings } from '../schema.ts';
import { buildEfficientNetB0 } from './keras/efficientnet-b0.ts';
import { buildInceptionV3, INCEPTION_AUTO_NAMED } from './keras/inception-v3.ts';
import type { KerasAppOptions } from './keras/layers.ts';
import { buildResNet50 } from './keras/resnet50.ts';
import { buildVgg16 } from './keras/vgg16.ts';
import { buildMobileNetV1, mobileNetV1Shape, MOBILENET_V1_POOL } from './mobilenet-v1.ts';
import { DEFAULT_CUT_LAYER, loadMobileNetV2, readBackboneArtifacts, type LoadedBackbone } from './mobilenet.ts';
import type { PixelScaling } from './preprocess.ts';
import { assignWeights, isH5Location, readWeightSource, type WeightSource } from './weights.ts';

const PRETRAINED_BACKBONES = ['mobilenet_v2', 'mobilenet_v1', 'efficientnet_b0', 'vgg16', 'resnet50', 'inception_v3'] as const;
export type PretrainedBackbone = (typeof PRETRAINED_BACKBONES)[number];

export interface BackboneSpec {
  name: PretrainedBackbone;
  /** Keras application and the weight file Keras downloads for it (no top). */
  keras: string;
  scaling: PixelScaling;
  /** Keras's default input side, and the smallest it accepts. */
  defaultInputSize: number;
  minInputSize: number;
  /** Default `cut_layer` for partial mode (a block output no skip connection crosses). */
  defaultCutLayer: string;
  /** The pooled embedding layer (the model's output without top). */
  poolLayer: string;
  /** The last convolutional feature map (Grad-CAM's default target). */
  lastFeatureLayer: string;
  /** Weight-carrying layers of the ImageNet classifier top (left unused without the top). */
  topLayers: string[];
  /** Checked here against real ImageNet weights (predictions on real images). */
  checkedWithImagenetWeights: boolean;
}

const spec = (s: BackboneSpec) => s;

export const BACKBONE_SPECS: Record<PretrainedBackbone, BackboneSpec> = {
  mobilenet_v2: spec({
    name: 'mobilenet_v2',
    keras: 'MobileNetV2 (tfjs layers folder cut at out_relu + avg_pool)',
    scaling: 'scale_-1_1',
    defaultInputSize: 224,
    minInputSize: 32,
    defaultCutLayer: DEFAULT_CUT_LAYER,
    poolLayer: 'avg_pool',
    lastFeatureLayer: 'out_relu',
    topLayers: [],
    checkedWithImagenetWeights: true,
  }),
  mobilenet_v1: spec({
    name: 'mobilenet_v1',
    keras: 'MobileNet (mobilenet_<α>_224_tf_no_top.h5, or the tfjs-models layers folder)',
    scaling: 'scale_-1_1',
    defaultInputSize: 224,
    minInputSize: 32,
    defaultCutLayer: 'conv_pw_12_relu',
    poolLayer: MOBILENET_V1_POOL,
    lastFeatureLayer: 'conv_pw_13_relu',
    topLayers: ['conv_preds'],
    checkedWithImagenetWeights: true,
  }),
  efficientnet_b0: spec({
    name: 'efficientnet_b0',
    keras: 'EfficientNetB0 (efficientnetb0_notop.h5)',
    scaling: 'raw_0_255',
    defaultInputSize: 224,
    minInputSize: 32,
    defaultCutLayer: 'block6d_add',
    poolLayer: 'avg_pool',
    lastFeatureLayer: 'top_activation',
    topLayers: ['predictions'],
    checkedWithImagenetWeights: false,
  }),
  vgg16: spec({
    name: 'vgg16',
    keras: 'VGG16 (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)',
    scaling: 'caffe_bgr_mean',
    defaultInputSize: 224,
    minInputSize: 32,
    defaultCutLayer: 'block4_pool',
    poolLayer: 'global_average_pooling2d',
    lastFeatureLayer: 'block5_conv3',
    topLayers: ['fc1', 'fc2', 'predictions'],
    checkedWithImagenetWeights: false,
  }),
  resnet50: spec({
    name: 'resnet50',
    keras: 'ResNet50 (resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, keras-applications/resnet/)',
    scaling: 'caffe_bgr_mean',
    defaultInputSize: 224,
    minInputSize: 32,
    defaultCutLayer: 'conv5_block1_out',
    poolLayer: 'avg_pool',
    lastFeatureLayer: 'conv5_block3_out',
    topLayers: ['predictions'],
    checkedWithImagenetWeights: false,
  }),
  inception_v3: spec({
    name: 'inception_v3',
    keras: 'InceptionV3 (inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5)',
    scaling: 'scale_-1_1',
    defaultInputSize: 299,
    minInputSize: 75,
    defaultCutLayer: 'mixed9',
    poolLayer: 'global_average_pooling2d',
    lastFeatureLayer: 'mixed10',
    topLayers: ['predictions'],
    checkedWithImagenetWeights: false,
  }),
};

export function isPretrainedBackbone(name: string): name is PretrainedBackbone {
  return (PRETRAINED_BACKBONES as readonly string[]).includes(name);
}

function backboneSpec(name: string): BackboneSpec {
  if (!isPretrainedBackbone(name)) throw new UserError(`unknown backbone '${name}' (one of ${PRETRAINED_BACKBONES.join(', ')})`);
  return BACKBONE_SPECS[name];
}

export interface BuildOptions {
  inputSize: number;
  /** Keep the ImageNet classifier top (the file must hold it); default false (pooled embedding). */
  includeTop?: boolean;
  /** Without the top, end with the pooling layer (default true) or at the last feature map. */
  pool?: boolean;
}

/** Build a Keras-application backbone in code (weights zero) — shapes from `source` for MobileNetV1. */
export function buildBackbone(name: Exclude<PretrainedBackbone, 'mobilenet_v2'>, opts: BuildOptions, source?: WeightSource): LayersModel {
  const o: KerasAppOptions = { inputSize: opts.inputSize, includeTop: opts.includeTop, pool: opts.pool };
  switch (name) {
    case 'mobilenet_v1': {
      if (!source) throw new Error('mobilenet_v1: the width multiplier comes from the weights; pass their source');
      const shapes = (layer: string) => source.layers.get(layer)?.weights.map((w) => w.shape);
      const s = mobileNetV1Shape(shapes, source.file);
      if (opts.includeTop && s.classes === null) throw new UserError(`${source.file}: no classifier top (conv_preds) in these weights`);
      return buildMobileNetV1({ ...o, alpha: s.alpha, depthMultiplier: s.depthMultiplier, classes: s.classes ?? undefined });
    }
    case 'efficientnet_b0':
      return buildEfficientNetB0(o);
    case 'vgg16':
      return buildVgg16(o);
    case 'resnet50':
      return buildResNet50(o);
    case 'inception_v3':
      return buildInceptionV3(o);
  }
}

export interface LoadedPretrainedBackbone extends LoadedBackbone {
  name: PretrainedBackbone;
  spec: BackboneSpec;
  /** Pixel scaling the network expects (pass to imagesToTensor as `scaling`). */
  scaling: PixelScaling;
  weightsFormat: 'tfjs' | 'h5';
}

export interface LoadBackboneOptions extends Partial<BuildOptions> {
  /** Weights already read (e.g. to hash them before choosing a backend). */
  source?: WeightSource;
}

/**
 * Load `name` with its pretrained weights from `location` (a tfjs layers folder / model.json /
 * URL, or a Keras .h5 file): image [N, s, s, 3] → pooled embedding [N, D] (or the top's output).
 */
export async function loadBackbone(name: PretrainedBackbone, location: string, opts: LoadBackboneOptions = {}): Promise<LoadedPretrainedBackbone> {
  const spec = backboneSpec(name);
  const inputSize = opts.inputSize ?? spec.defaultInputSize;
  if (inputSize < spec.minInputSize) throw new UserError(`${name} needs an input of at least ${spec.minInputSize} px (model.input_size is ${inputSize})`);
  if (name === 'mobilenet_v2') {
    if (isH5Location(location)) throw new UserError(`${location}: mobilenet_v2 loads a tfjs layers folder (model.json + weights), not an .h5 file`);
    if (opts.includeTop || opts.pool === false) throw new Error('mobilenet_v2 loads the shared embedding model as it is (no top, pooled)');
    const loaded = await loadMobileNetV2(location, { inputSize });
    return { ...loaded, name, spec, scaling: spec.scaling, weightsFormat: 'tfjs' };
  }
  const source = opts.source ?? (await readWeightSource(location));
  const model = buildBackbone(name, { inputSize, includeTop: opts.includeTop, pool: opts.pool }, source);
  assignWeights(model, source, {
    arch: name,
    ignore: opts.includeTop ? [] : spec.topLayers,
    autoNamed: name === 'inception_v3' ? INCEPTION_AUTO_NAMED : undefined,
  });
  return { model, hash: source.hash, location, inputSize, name, spec, scaling: spec.scaling, weightsFormat: source.format };
}

/** sha256 identifying the weights at `location` without building anything (embed stage key). */
export async function backboneWeightsHash(name: PretrainedBackbone, location: string): Promise<string> {
  if (name === 'mobilenet_v2' || !isH5Location(location)) return (await readBackboneArtifacts(location)).hash;
  return (await readWeightSource(location)).hash;
}

/** `model.weights` resolved against the experiment file (URLs kept). */
export function backboneWeightsLocation(experiment: Experiment, settings: ModelSettings = modelSettingsOf(experiment)): string {
  if (!settings.weights) {
    throw new UserError(`${experiment.file}: model.weights is required for backbone ${settings.backbone} (a tfjs layers folder or a Keras .h5 weight file)`);
  }
  return /^(https?|file):\/\//i.test(settings.weights) ? settings.weights : experimentPath(experiment, settings.weights);
}

/**
 * The experiment's backbone (`model.backbone`, `model.weights`, `model.input_size`), loaded; any
 * problem with the weights is a UserError naming the experiment file, the weight file and the first
 * bad weight.
 */
export async function loadExperimentBackbone(experiment: Experiment, opts: Omit<LoadBackboneOptions, 'inputSize'> = {}): Promise<LoadedPretrainedBackbone> {
  const settings = modelSettingsOf(experiment);
  if (!isPretrainedBackbone(settings.backbone)) throw new UserError(`${experiment.file}: model.backbone '${settings.backbone}' has no pretrained weights`);
  const location = backboneWeightsLocation(experiment, settings);
  try {
    return await loadBackbone(settings.backbone, location, { ...opts, inputSize: settings.input_size });
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${experiment.file}: model.weights: ${e.message}`);
    throw new UserError(`${experiment.file}: model.weights '${settings.weights}' cannot be loaded (${(e as Error).message})`);
  }
}

/**
 * Bytes of the largest single activation of one image in `model` (for sizing forward batches: the
 * embed stage's MobileNetV2 estimate is 112²×96 floats at 224 px; VGG16's first block is 224²×64).
 */
export function largestActivationBytes(model: LayersModel): number {
  let most = 0;
  const visit = (m: LayersModel) => {
    for (const l of m.layers) {
      if (l instanceof tfl.LayersModel) {
        visit(l);
        continue;
      }
      for (const node of (l as unknown as { inboundNodes: { outputShapes: unknown }[] }).inboundNodes) {
        const shapes = (Array.isArray((node.outputShapes as unknown[])[0]) ? node.outputShapes : [node.outputShapes]) as (number | null)[][];
        for (const s of shapes)
          most = Math.max(
            most,
            s.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1),
          );
      }
    }
  };
  visit(model);
  return most * 4;
}
