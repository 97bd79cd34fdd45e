/**
 * Multi-layer frozen features for `head` mode (`model.features: [layer, …]`): one model, image →
 * the concatenation of the globally average-pooled activations of several backbone layers, computed
 * in one forward pass (the layers share the graph below them). A layer whose output is already a
 * vector ([N, D], e.g. the backbone's own pooled output) is taken as it is.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '@mri-robust/core';
import { layerNames } from './mobilenet.ts';

type LayersModel = tfl.LayersModel;
type SymbolicTensor = tfl.SymbolicTensor;

interface FeatureLayerInfo {
  layer: string;
  /** Channels this layer contributes. */
  size: number;
  /** Offset of its first channel in the concatenated vector. */
  offset: number;
}

export interface MultiLayerFeatures {
  /** image → [N, Σ channels] (run with predict()). */
  model: LayersModel;
  layers: FeatureLayerInfo[];
  size: number;
}

/**
 * Build image → concat(GAP(layer₁), GAP(layer₂), …) from `backbone`. Layers must live in the
 * backbone's graph (for a nested backbone such as the shared MobileNetV2, inside its inner model or
 * in the outer layers after it); order is kept, duplicates are refused.
 */
export function multiLayerFeatures(backbone: LayersModel, layers: string[]): MultiLayerFeatures {
  if (layers.length === 0) throw new UserError('model.features: list at least one layer');
  const dup = layers.find((l, i) => layers.indexOf(l) !== i);
  if (dup) throw new UserError(`model.features: layer '${dup}' is listed twice`);
  // A nested backbone (the shared MobileNetV2: input → inner model → avg_pool) is read through its
  // inner model; the outer layers after it are applied again on the inner output when listed.
  const nested = backbone.layers.find((l): l is LayersModel => l instanceof tfl.LayersModel);
  const graph = nested ?? backbone;
  const tail = nested ? backbone.layers.slice(backbone.layers.indexOf(nested) + 1) : [];
  if (tail.some((l) => l instanceof tfl.LayersModel)) throw new UserError('model.features: backbones with several nested models are not supported');
  const outputs: SymbolicTensor[] = [];
  for (const name of layers) {
    let out: SymbolicTensor;
    const own = graph.layers.find((l) => l.name === name && l.getClassName() !== 'InputLayer');
    const t = tail.findIndex((l) => l.name === name);
    if (own) out = own.output as SymbolicTensor;
    else if (t >= 0) {
      out = graph.outputs[0];
      for (const l of tail.slice(0, t + 1)) out = l.apply(out) as SymbolicTensor;
    } else {
      throw new UserError(`model.features: '${name}' is not a layer of the backbone (its layers end with ${layerNames(backbone).slice(-6).join(', ')})`);
    }
    const rank = out.shape.length;
    if (rank === 4) out = tfl.layers.globalAveragePooling2d({ name: `features_gap_${name}` }).apply(out) as SymbolicTensor;
    else if (rank !== 2)
      throw new UserError(`model.features: layer '${name}' has output shape [${out.shape}]; an image map [N,h,w,c] or a vector [N,d] is needed`);
    outputs.push(out);
  }
  const merged = outputs.length === 1 ? outputs[0] : (tfl.layers.concatenate({ axis: -1, name: 'features_concat' }).apply(outputs) as SymbolicTensor);
  const model = tfl.model({ inputs: graph.inputs, outputs: merged, name: 'multi_layer_features' });
  let offset = 0;
  const info = outputs.map((o, i) => {
    const size = o.shape[1] as number;
    const e = { layer: layers[i], size, offset };
    offset += size;
    return e;
  });
  return { model, layers: info, size: offset };
}
