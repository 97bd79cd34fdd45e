/**
 * A saved model folder (tfjs model + metadata.json) as the server's PredictHandler: each request is
 * one Grad-CAM pass (class scores + map), calibrated probabilities and the overlay PNG.
 */
import path from 'node:path';
import { explainImage, loadPredictor, pngDataUri, provenanceOf, scanPng, type ExplainOptions, type ModelProvenance } from '@mri-robust/model';
import type { PredictHandler } from './server.ts';

/** Default pixel limit of an upload: 40 megapixels (an MRI slice has well under one). */
export const DEFAULT_MAX_PIXELS = 40_000_000;

export interface ModelHandler extends PredictHandler {
  provenance: ModelProvenance;
  dispose(): void;
}

export async function loadPredictHandler(
  modelDir: string,
  opts: Partial<Pick<ExplainOptions, 'maxPixels' | 'overlay' | 'layerName'>> = {},
): Promise<ModelHandler> {
  // Forward passes (and, for GAP → Dense heads, the Grad-CAM map) on the selected inference engine.
  const loaded = await loadPredictor(modelDir);
  const { metadata } = loaded;
  const explainOpts: ExplainOptions = { maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS, overlay: opts.overlay, layerName: opts.layerName };
  const b = metadata.backbone;
  const description = `${b.name} (${b.mode}) from ${path.basename(path.resolve(modelDir))}, ${metadata.preprocessing.inputSize} px, T = ${metadata.temperature.toFixed(3)}, ${loaded.inference.engine}`;
  // Experiment, sweep/trial, data sources, test accuracies — from metadata.json, no DuckDB.
  const provenance = provenanceOf(metadata);
  return {
    classes: metadata.classes,
    description,
    provenance,
    async predict(image) {
      const e = await explainImage(loaded, image, explainOpts);
      return {
        class: e.class,
        probabilities: Object.fromEntries(metadata.classes.map((c, i) => [c, e.probabilities[i]])),
        uncalibrated: Object.fromEntries(metadata.classes.map((c, i) => [c, e.rawProbabilities[i]])),
        temperature: e.temperature,
        gradcam: pngDataUri(e.overlayPng),
        gradcamLayer: e.cam.layerName,
        gradcamMethod: e.cam.method,
        gradcamGrid: [e.cam.height, e.cam.width],
        // The scan under the overlay (decoded, windowed for DICOM, padding removed): browsers cannot show DICOM.
        scan: pngDataUri(await scanPng(e.display)),
        image: { format: e.image.kind, width: e.image.origWidth, height: e.image.origHeight },
        model: { experiment: provenance.experiment, sweep: provenance.sweep, trial: provenance.trial, synthetic: provenance.synthetic },
      };
    },
    dispose: () => {
      void loaded.dispose();
    },
  };
}
