/**
 * The networks a trial trains, per mode, from the embed output's manifest:
 *   head    — no trunk (inputs are cached embeddings); the frozen backbone (or, with
 *             `model.features`, its multi-layer feature model) is kept for the predictor
 *   partial — trunk = buildTop() above the cut (trainable copies); bottom frozen for the predictor
 *   full    — trunk = the whole pretrained backbone (trainable) or a fresh `cnn`
 */
import { UserError } from '@mri-robust/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { EmbedManifest } from '../io/embed-output.ts';
import { isPretrainedBackbone, loadBackbone } from '../nets/backbones.ts';
import { buildCnn } from '../nets/cnn.ts';
import { multiLayerFeatures } from '../nets/features.ts';
import { splitAtLayer, trainableBackbone } from '../nets/mobilenet.ts';

export interface TrialNets {
  /** Trained below the head (null in head mode). */
  trunk: LayersModel | null;
  /** Frozen image → feature part placed before the classifier in the saved predictor (null when the trunk starts at the image). */
  frozen: LayersModel | null;
  /** Run the trunk's batch norm in training mode (only for a CNN trained from scratch). */
  trunkTraining: boolean;
}

export async function buildTrialNets(m: EmbedManifest, widths: number[], seed: number): Promise<TrialNets> {
  if (m.backbone === 'cnn') {
    if (m.kind !== 'pixels') throw new UserError(`embed output ${m.kind} for backbone cnn: the cnn is trained from pixels`);
    const trunk = buildCnn({ inputShape: [m.inputSize, m.inputSize, m.inputChannels], widths, seed });
    return { trunk, frozen: null, trunkTraining: true };
  }
  if (!isPretrainedBackbone(m.backbone)) throw new UserError(`embed output: unknown backbone '${m.backbone}'`);
  if (!m.weights) throw new UserError(`embed output for ${m.backbone} records no weights location; rerun model:embed`);
  const loaded = await loadBackbone(m.backbone, m.weights.location, { inputSize: m.inputSize });
  if (loaded.hash !== m.weights.hash) {
    loaded.model.dispose();
    throw new UserError(
      `${m.weights.location}: weights changed since the features were embedded (hash ${loaded.hash.slice(0, 12)} ≠ ${m.weights.hash.slice(0, 12)}); rerun model:embed`,
    );
  }
  if (m.kind === 'embedding') {
    if (!m.features?.length) return { trunk: null, frozen: loaded.model, trunkTraining: false };
    const multi = multiLayerFeatures(
      loaded.model,
      m.features.map((f) => f.layer),
    );
    if (multi.size !== m.sampleShape[0])
      throw new UserError(`embed output: features of ${multi.size} values rebuilt, ${m.sampleShape[0]} cached; rerun model:embed`);
    return { trunk: null, frozen: multi.model, trunkTraining: false };
  }
  if (m.kind === 'activation') {
    if (!m.cutLayer) throw new UserError('embed output of kind activation records no cut layer');
    const split = splitAtLayer(loaded.model, m.cutLayer);
    return { trunk: split.buildTop(), frozen: split.bottom, trunkTraining: false };
  }
  return { trunk: trainableBackbone(loaded.model), frozen: null, trunkTraining: false };
}
