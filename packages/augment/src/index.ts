// Public API of @mri-robust/augment: the augment stage (after noise in the DAG) and its schema part.
export { runAugment, augmentRunner } from './stage.ts';
export { augmentSchemaPart, augmentSettingsOf, type AugmentSettings } from './schema.ts';
export { applyAugment, planAugment, IDENTITY_PLAN, type AugmentPlan } from './ops.ts';
export { clahePlane } from './clahe.ts';
export { floatFromUint8, floatToUint8, type FloatImage } from './image.ts';
