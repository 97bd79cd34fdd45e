export { jet, turbo, colorize, COLORMAPS, type ColormapName } from './colormap.ts';
export { camFromGradients, normalizeMap, resizeBilinear, type NormalizedMap } from './cam.ts';
export { blendRgb, toRgb, type BlendOptions } from './blend.ts';
export { flattenLayers, findFeatureLayer, outputLayer, type FoundLayer } from './layers.ts';
export { gradCam, type GradCamOptions, type GradCamResult } from './compute.ts';
export { overlayPixels, overlayPng, writeOverlayPng, pngDataUri, type ScanPixels, type OverlayOptions } from './overlay.ts';
export { explainImage, explainPixels, writeGradCamFile, type Explanation, type ExplainOptions } from './explain.ts';
export { writeGradCamGallery, type Gallery, type GalleryItem, type GalleryOptions } from './gallery.ts';
