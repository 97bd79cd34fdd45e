export { jet, turbo, colorize, COLORMAPS, type ColormapName } from './colormap.ts';
export { camFromGradients, layerCamFromGradients, normalizeMap, resizeBilinear, type NormalizedMap } from './cam.ts';
export { contentExtent, displaySize, mapOverExtent, peakOf, type Extent, type FitMode } from './extent.ts';
export { blendRgb, toRgb, type BlendOptions } from './blend.ts';
export { flattenLayers, findFeatureLayer, defaultCamLayer, outputLayer, type FoundLayer } from './layers.ts';
export { gradCam, gradientPass, type GradCamOptions, type GradCamResult, type GradientPass, type LayerGradients } from './compute.ts';
export {
  overlayPixels,
  overlayPng,
  overlayMapPixels,
  overlayMapPng,
  scanPng,
  writeOverlayPng,
  pngDataUri,
  type ScanPixels,
  type OverlayOptions,
} from './overlay.ts';
export { explainImage, explainPixels, writeGradCamFile, type Explanation, type ExplainOptions, type CamMethod } from './explain.ts';
export { writeGradCamGallery, type Gallery, type GalleryItem, type GalleryOptions } from './gallery.ts';
