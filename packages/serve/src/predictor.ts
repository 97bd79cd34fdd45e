/**
 * Saved model folder(s) (tfjs model + model.onnx + metadata.json) as the server's PredictHandler.
 * One folder: each request is one Grad-CAM pass (class scores + map), calibrated probabilities and
 * the overlay PNG. Several folders (`--model A,B,C`, e.g. a sweep's top-k trials): an ensemble that
 * answers with the mean of its members' calibrated probabilities (each softmax(log p / T_m) with the
 * member's own temperature, as `model:evaluate` scores ensembles); the class-activation map is the
 * first member's (its own predicted class, named in `gradcamClass`). Members must agree on classes
 * and preprocessing, or loading is refused with one line naming both folders.
 */
import path from 'node:path';
import {
  explainInput,
  loadPredictor,
  logitsFromProbabilities,
  memberMismatch,
  pngDataUri,
  prepareInput,
  provenanceOf,
  scanPng,
  softmaxRows,
  formatAccuracy,
  type ExplainOptions,
  type LoadedPredictor,
  type ModelProvenance,
} from '@mri-robust/model';
import { UserError } from '@mri-robust/core';
import type { EnsembleMemberInfo, PredictHandler } from './server.ts';

/** Default pixel limit of an upload: 40 megapixels (an MRI slice has well under one). */
export const DEFAULT_MAX_PIXELS = 40_000_000;

export interface ModelHandler extends PredictHandler {
  provenance: ModelProvenance;
  dispose(): void;
}

const ENSEMBLE_COMBINATION = "mean of the members' calibrated probabilities";

function describe(loaded: LoadedPredictor, modelDir: string): string {
  const { metadata } = loaded;
  const b = metadata.backbone;
  return `${b.name} (${b.mode}) from ${path.basename(path.resolve(modelDir))}, ${metadata.preprocessing.inputSize} px, T = ${metadata.temperature.toFixed(3)}, ${loaded.inference.engine}`;
}

function memberInfo(loaded: LoadedPredictor, modelDir: string): EnsembleMemberInfo {
  const p = provenanceOf(loaded.metadata);
  return {
    dir: path.resolve(modelDir),
    experiment: p.experiment,
    sweep: p.sweep,
    trial: p.trial,
    backbone: p.backbone,
    temperature: loaded.metadata.temperature,
    cleanAccuracy: p.clean ? formatAccuracy(p.clean) : null,
  };
}

/**
 * zlib level of the two PNGs of an answer (overlay, scan): level 1 encodes about twice as fast as
 * the default 6 for ~20 % more bytes, on a local connection; the pixels are the same.
 */
const ANSWER_PNG_COMPRESSION = 1;

/**
 * Loads one model folder, or several as an ensemble; `method`: the map of each answer (default
 * 'grad-cam'). `threads`: ONNX Runtime intra-op threads per
 * forward pass (default: the engine's, i.e. the cores; the server running one prediction per core
 * asks for 1). Predictions may run concurrently.
 */
export async function loadPredictHandler(
  modelDirs: string | readonly string[],
  opts: Partial<Pick<ExplainOptions, 'maxPixels' | 'overlay' | 'layerName' | 'method'>> & { threads?: number } = {},
): Promise<ModelHandler> {
  const dirs = typeof modelDirs === 'string' ? [modelDirs] : [...modelDirs];
  if (!dirs.length) throw new UserError('no model folder to serve');
  // Forward passes (and, for GAP → Dense heads, the Grad-CAM map) on the selected inference engine.
  const members: LoadedPredictor[] = [];
  try {
    for (const dir of dirs) {
      const loaded = await loadPredictor(dir, opts.threads === undefined ? {} : { threads: opts.threads });
      members.push(loaded);
      const diffs = memberMismatch(members[0].metadata, loaded.metadata);
      if (diffs.length) throw new UserError(`${dir}: cannot join an ensemble with ${dirs[0]}: ${diffs.join('; ')}`);
    }
  } catch (e) {
    for (const m of members) await m.dispose();
    throw e;
  }
  const first = members[0];
  const { metadata } = first;
  const classes = metadata.classes;
  const k = classes.length;
  const explainOpts: ExplainOptions = {
    maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
    overlay: opts.overlay,
    layerName: opts.layerName,
    // Grad-CAM by default: in the ONNX Runtime pass for GAP → Dense heads; Layer-CAM needs a tfjs gradient pass.
    method: opts.method ?? 'grad-cam',
    pngCompression: ANSWER_PNG_COMPRESSION,
  };
  const ensemble = members.length > 1;
  const description = ensemble
    ? `ensemble of ${members.length} models (${ENSEMBLE_COMBINATION}): ${members.map((m, i) => describe(m, dirs[i])).join('; ')}`
    : describe(first, dirs[0]);
  // Experiment, sweep/trial, data sources, test accuracies — from metadata.json, no DuckDB (the first member's for an ensemble).
  const provenance = provenanceOf(metadata);
  const byClass = (v: ArrayLike<number>) => Object.fromEntries(classes.map((c, i) => [c, v[i]]));
  return {
    classes,
    description,
    provenance,
    ...(ensemble ? { members: members.map((m, i) => memberInfo(m, dirs[i])), combination: ENSEMBLE_COMBINATION } : {}),
    async predict(image) {
      // Decoded once: the other members of an ensemble run on the same input (identical preprocessing, checked at load).
      const prepared = await prepareInput(image, metadata.preprocessing, explainOpts.maxPixels);
      const e = await explainInput(first, prepared, explainOpts);
      const calibrated = [Float64Array.from(e.probabilities)];
      const raw = [Float64Array.from(e.rawProbabilities)];
      if (ensemble) {
        for (const m of members.slice(1)) {
          const [y] = await m.forward.run(prepared.input, 1);
          const p = Float32Array.from(y.data.subarray(0, k));
          raw.push(Float64Array.from(p));
          calibrated.push(Float64Array.from(softmaxRows(logitsFromProbabilities(p), k, m.metadata.temperature)));
        }
      }
      const mean = (rows: Float64Array[]) => Array.from({ length: k }, (_, j) => rows.reduce((a, r) => a + r[j], 0) / rows.length);
      const probs = mean(calibrated);
      let best = 0;
      for (let j = 1; j < k; j++) if (probs[j] > probs[best]) best = j;
      return {
        class: classes[best],
        probabilities: byClass(probs),
        uncalibrated: byClass(mean(raw)),
        temperature: e.temperature,
        gradcam: pngDataUri(e.overlayPng),
        gradcamLayer: e.cam.layerName,
        gradcamMethod: e.cam.method,
        gradcamGrid: [e.cam.height, e.cam.width],
        gradcamClass: e.class,
        // The scan under the overlay (decoded, windowed for DICOM, padding removed): browsers cannot show DICOM.
        scan: pngDataUri(await scanPng(e.display, ANSWER_PNG_COMPRESSION)),
        image: { format: e.image.kind, width: e.image.origWidth, height: e.image.origHeight },
        model: { experiment: provenance.experiment, sweep: provenance.sweep, trial: provenance.trial, synthetic: provenance.synthetic },
        ...(ensemble
          ? {
              ensemble: {
                combination: ENSEMBLE_COMBINATION,
                members: members.map((m, i) => ({ dir: path.resolve(dirs[i]), temperature: m.metadata.temperature, probabilities: byClass(calibrated[i]) })),
                gradcamOf: path.resolve(dirs[0]),
              },
            }
          : {}),
      };
    },
    dispose: () => {
      for (const m of members) void m.dispose();
    },
  };
}
