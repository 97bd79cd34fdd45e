// What other packages use of the class-activation maps (via the model package's index); the rest
// is imported by file inside the model package and its tests.
export { scanPng, pngDataUri } from './overlay.ts';
export { explainImage, explainInput, camMethodOf, type ExplainOptions } from './explain.ts';
export { writeGradCamGallery, type Gallery } from './gallery.ts';
