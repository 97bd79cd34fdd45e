import { createRng } from '@mri-robust/core';
import { floatFromUint8, floatToUint8 } from './image.ts';
import { applyAugment, planAugment, type AugmentPlan } from './ops.ts';
import type { AugmentSettings } from './schema.ts';

/** A batch of images, each with the seeds of its copies. */
export interface AugmentRequest {
  height: number;
  width: number;
  channels: number;
  settings: AugmentSettings;
  items: { pixels: Uint8Array; seeds: number[] }[];
}

export interface AugmentResponse {
  items: { copies: { pixels: Uint8Array; plan: AugmentPlan }[] }[];
}

/** One augmented copy of uint8 pixels (pure: depends only on its inputs). */
export function augmentPixels(
  pixels: Uint8Array,
  shape: { height: number; width: number; channels: number },
  settings: AugmentSettings,
  seed: number,
): { pixels: Uint8Array; plan: AugmentPlan } {
  const img = floatFromUint8(pixels, shape.height, shape.width, shape.channels);
  const plan = planAugment(settings, createRng(seed), shape.height, shape.width);
  return { pixels: floatToUint8(applyAugment(img, plan)), plan };
}

/** Worker-pool entry (loaded by file URL, so no import names it). @public */
export function handle(req: AugmentRequest): AugmentResponse {
  return {
    items: req.items.map((it) => ({ copies: it.seeds.map((seed) => augmentPixels(it.pixels, req, req.settings, seed)) })),
  };
}
