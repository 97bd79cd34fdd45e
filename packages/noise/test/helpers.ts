import path from 'node:path';
import sharp from 'sharp';
import { sharedDir } from '@mri-robust/core';
import type { FloatImage } from '../src/index.ts';

/** A few real MRI slices from ../shared/datasets, one per class of the sartaj test folder. */
export const REAL_FILES = [
  'sartaj/Testing/glioma_tumor/image(1).jpg',
  'sartaj/Testing/meningioma_tumor/image(1).jpg',
  'sartaj/Testing/no_tumor/image(1).jpg',
  'sartaj/Testing/pituitary_tumor/image(1).jpg',
];

/** Decodes a shared data-set image to size × size × channels uint8 (black padding). */
export async function loadReal(rel: string, size: number, channels: 1 | 3): Promise<Uint8Array> {
  const file = path.join(sharedDir(), 'datasets', rel);
  let img = sharp(file)
    .resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
    .removeAlpha();
  img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) throw new Error(`${rel}: decoded ${info.channels} channels`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export async function loadRealFloat(rel: string, size: number, channels: 1 | 3): Promise<FloatImage> {
  const px = await loadReal(rel, size, channels);
  return { height: size, width: size, channels, data: Float32Array.from(px, (v) => v / 255) };
}

/** A synthetic image: `left` on the left half, `right` on the right half. */
export function halves(height: number, width: number, left: number, right: number, channels = 1): FloatImage {
  const data = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = x < width / 2 ? left : right;
  return { height, width, channels, data };
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

export function std(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return Math.sqrt(s / a.length);
}
