export {};

// --- augment (owner: augment helper) ---
export { runAugment, augmentKey, augmentInputDir, augmentCopySeed, AUGMENT_STAGE_VERSION, type AugmentContext } from './stage-augment.ts';
export { augmentSchemaPart, augmentSettings } from './augment/schema.ts';
export { applyAugment, planAugment, affinePlane, IDENTITY_PLAN, type AugmentPlan, type AugmentSettings } from './augment/ops.ts';
export { clahePlane } from './augment/clahe.ts';
export { augmentPixels } from './augment/worker.ts';
export { floatFromUint8, floatToUint8, type FloatImage } from './augment/image.ts';
export { writeContactSheet, sampleByClass, type ContactRow, type ContactSheetOptions } from './augment/contact-sheet.ts';
export { WorkerPool, mapOrdered, defaultWorkerCount, transferablesOf, serveWorker } from './augment/worker-pool.ts';
// --- end augment ---
