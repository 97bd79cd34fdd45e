/**
 * Renders every noise kind at severities 0–5 on a few real images (one per class) into
 * runs/bench/noise-catalogue.png — the picture behind the README's severity table.
 * Run: node --import tsx packages/noise/bench/catalogue.ts
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { writeContactSheet, type ContactRow } from '@mri-robust/data';
import { NOISE_KINDS, noisePixels, resolveNoiseParams } from '../src/index.ts';

const FILES = [
  'sartaj/Testing/glioma_tumor/image(1).jpg',
  'sartaj/Testing/meningioma_tumor/image(1).jpg',
  'sartaj/Testing/no_tumor/image(1).jpg',
  'sartaj/Testing/pituitary_tumor/image(1).jpg',
];
const SIZE = 160;
const pick = Number(process.env.CATALOGUE_IMAGE ?? 0);

const file = path.join(sharedDir(), 'datasets', FILES[pick]);
const { data } = await sharp(file).resize(SIZE, SIZE, { fit: 'contain', background: '#000' }).grayscale().raw().toBuffer({ resolveWithObject: true });
const px = new Uint8Array(data);
const shape = { height: SIZE, width: SIZE, channels: 1 };
const rows: ContactRow[] = NOISE_KINDS.map((kind) => ({
  label: kind,
  tiles: [0, 1, 2, 3, 4, 5].map((severity) => noisePixels({ pixels: px, kind, params: resolveNoiseParams({ kind, severity }), seed: 1 }, shape)),
}));
const out = path.join(workspaceRoot(), 'runs', 'bench');
await mkdir(out, { recursive: true });
await writeContactSheet(path.join(out, 'noise-catalogue.png'), {
  ...shape,
  rows,
  columns: ['severity 0', '1', '2', '3', '4', '5'],
  tile: 112,
  title: `noise kinds × severity (${FILES[pick]})`,
});
console.log(path.join(out, 'noise-catalogue.png'));
