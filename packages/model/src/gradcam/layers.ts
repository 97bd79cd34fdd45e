/**
 * Finding layers inside (possibly nested) tfjs LayersModels: the classifier of the model package
 * nests its trunk as one layer, and a `head`-mode pipeline is [backbone, head] — Grad-CAM has to
 * look through all of them for the last convolutional feature map.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Layer } from '@tensorflow/tfjs-layers/dist/engine/topology';
import { BACKBONE_SPECS } from '../nets/backbones.ts';

/** Each pretrained backbone's last convolutional feature map (BACKBONE_SPECS[name].lastFeatureLayer). */
const BACKBONE_FEATURE_LAYERS = new Set(Object.values(BACKBONE_SPECS).map((s) => s.lastFeatureLayer));

export interface FoundLayer {
  layer: Layer;
  /** Index of the stage (model) in the pipeline that holds it. */
  stage: number;
  /** Names from the stage model down to the layer, e.g. ['cnn_trunk', 'block3_relu']. */
  path: string[];
}

function isContainer(layer: unknown): layer is LayersModel {
  return Array.isArray((layer as { layers?: unknown }).layers);
}

/** Every non-container layer of `stages`, depth first, in each model's (topological) layer order. */
function flattenLayers(stages: readonly LayersModel[]): FoundLayer[] {
  const out: FoundLayer[] = [];
  const walk = (model: LayersModel, stage: number, prefix: string[]): void => {
    for (const layer of model.layers as unknown as Layer[]) {
      if (isContainer(layer)) walk(layer, stage, [...prefix, layer.name]);
      else out.push({ layer, stage, path: [...prefix, layer.name] });
    }
  };
  stages.forEach((m, i) => {
    walk(m, i, []);
  });
  return out;
}

/** The layer's single output shape (batch dimension included, null when unknown), or null if it has several. */
export function singleOutputShape(layer: Layer): (number | null)[] | null {
  let shape: unknown;
  try {
    shape = layer.outputShape;
  } catch {
    return null;
  }
  if (!Array.isArray(shape) || shape.length === 0) return null;
  if (Array.isArray(shape[0])) return null;
  return shape as (number | null)[];
}

const NOT_A_FEATURE_MAP = new Set([
  'InputLayer',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Dropout',
  'SpatialDropout2D',
  'ZeroPadding2D',
  'Cropping2D',
]);

/**
 * The layer whose output Grad-CAM uses: `name` when given (searched in every stage, nested models
 * included), else the last layer named as a pretrained backbone's last feature map
 * (BACKBONE_SPECS[name].lastFeatureLayer: `out_relu`, `conv_pw_13_relu`, `top_activation`, …), else
 * the last layer with a 4-D output that is not a pooling, padding or dropout layer (a CNN's last
 * conv block).
 */
export function findFeatureLayer(stages: readonly LayersModel[], name?: string): FoundLayer {
  const all = flattenLayers(stages);
  if (name) {
    const hit = all.filter((f) => f.layer.name === name);
    if (hit.length === 0) throw new Error(`Grad-CAM: no layer named '${name}' in the model`);
    return hit[hit.length - 1];
  }
  const known = all.filter((f) => BACKBONE_FEATURE_LAYERS.has(f.layer.name) && singleOutputShape(f.layer)?.length === 4);
  if (known.length) return known[known.length - 1];
  for (let i = all.length - 1; i >= 0; i--) {
    const f = all[i];
    const shape = singleOutputShape(f.layer);
    if (shape && shape.length === 4 && !NOT_A_FEATURE_MAP.has(f.layer.getClassName())) return f;
  }
  throw new Error('Grad-CAM: the model has no convolutional feature map (no layer with a 4-D output)');
}

/** The last non-container layer of the last stage (the classifier output layer). */
export function outputLayer(stages: readonly LayersModel[]): Layer {
  const all = flattenLayers(stages);
  if (all.length === 0) throw new Error('Grad-CAM: empty model');
  return all[all.length - 1].layer;
}

/**
 * The layer the explanation map is drawn from by default: the last feature map at stride ≤ 16
 * (grid ≥ ⌈input / 16⌉, 14×14 at 224 px), preferring a residual block output (an `Add` layer) —
 * MobileNetV2's `block_12_add`, MobileNetV1's `conv_pw_11_relu`, a small CNN's last conv block.
 * Why not the last map (`out_relu`, 7×7 at 224 px, 4×4 at 128 px): one cell covers 32 px, too coarse
 * to point at a structure; one stride finer the features are still high-level (block 12 of 16), and
 * with Layer-CAM weights (cam.ts) its map stays on the anatomy. Measured (gradcam-localise test, 30
 * real tumour scans, a head trained on 8 scans per class): peak inside the brain 27/30, vs 21/30 for
 * Grad-CAM at out_relu; Grad-CAM's channel-mean weights at 14×14 layers were worse still (27/60 at
 * block_12_add vs Layer-CAM 55/60 on 60 scans with a 40-per-class head).
 */
export function defaultCamLayer(stages: readonly LayersModel[], inputSize: number): FoundLayer {
  const minGrid = Math.ceil(inputSize / 16);
  const maps = flattenLayers(stages).filter((f) => {
    const shape = singleOutputShape(f.layer);
    return shape && shape.length === 4 && !NOT_A_FEATURE_MAP.has(f.layer.getClassName()) && (shape[1] ?? 0) >= minGrid && (shape[2] ?? 0) >= minGrid;
  });
  if (maps.length === 0) return findFeatureLayer(stages);
  const last = maps[maps.length - 1];
  const lastShape = singleOutputShape(last.layer) as number[];
  // Same grid as the last such map, and a block output: the end of the last block at that stride.
  const adds = maps.filter((f) => f.layer.getClassName() === 'Add' && (singleOutputShape(f.layer) as number[])[1] === lastShape[1]);
  return adds.length ? adds[adds.length - 1] : last;
}
