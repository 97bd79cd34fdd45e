/**
 * Upload bytes → network input, exactly as `predictImage` does for a file: @mri-robust/data's
 * `decodeImage` with the model's recorded decode settings (as the ingest stage), then
 * `imagesToTensor` (as the embed stage: resize to the input size, grey → 3 channels, the recorded
 * pixel scaling of the backbone — [-1, 1], caffe BGR mean or raw [0, 255]).
 * Before that, only JPEG and PNG are let through (by signature), and the pixel count declared in
 * the header is checked against `maxPixels` before anything is decoded (sharp also gets it as
 * `limitInputPixels`), so a decompression bomb is never inflated.
 */
import sharp from 'sharp';
import { BadImageError, decodeImage, isDicom } from '@mri-robust/data';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { imagesToTensor, pixelScalingOf } from './nets/preprocess.ts';
import type { Preprocessing } from './save.ts';
import type { ScanPixels } from './gradcam/overlay.ts';

/** A request image that cannot be used; `status` is the HTTP status to answer with. */
export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
  constructor(
    message: string,
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
  }
}

export type ImageKind = 'jpeg' | 'png' | 'dicom';
/** 'image' when any format was allowed (local files) and the bytes are neither JPEG nor PNG. */
export type PreparedKind = ImageKind | 'image';

/** JPEG (FF D8 FF), PNG (89 'PNG' 0D 0A 1A 0A) or DICOM Part 10 ('DICM' at 128) by signature, else null. */
export function sniffImage(bytes: Uint8Array): ImageKind | null {
  if (isDicom(bytes)) return 'dicom';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  return null;
}

export interface PreparedImage {
  /** Network input `[1, inputSize, inputSize, inputChannels]` (the caller disposes it). */
  input: Tensor4D;
  /** The decoded scan at the decode size (what the overlay is drawn on). */
  scan: ScanPixels;
  kind: PreparedKind;
  origWidth: number;
  origHeight: number;
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Decodes and prepares one uploaded image. Throws ImageInputError for unusable input. */
export async function prepareImage(
  bytes: Uint8Array,
  pre: Preprocessing,
  maxPixels: number,
  opts: { anyFormat?: boolean; frame?: number } = {},
): Promise<PreparedImage> {
  pixelScalingOf(pre.scaling);
  if (bytes.length === 0) throw new ImageInputError('empty upload: no image bytes');
  const kind = sniffImage(bytes);
  if (!kind && opts.anyFormat) {
    // Local files (CLI): whatever decodeImage reads (BMP, WebP, TIFF, ...), still pixel-limited.
    return finishPrepare(bytes, pre, maxPixels, 'image', 0, 0);
  }
  if (!kind) throw new ImageInputError('not a JPEG or PNG image, nor DICOM (unrecognised file signature)');
  // DICOM (uncompressed): data's decoder refuses compressed syntaxes, objects without pixel data and,
  // without `frame`, multi-frame files, with the reason; the pixel limit is checked on Rows × Columns.
  if (kind === 'dicom') return finishPrepare(bytes, pre, maxPixels, kind, 0, 0, opts.frame);
  const label = kind.toUpperCase();
  let meta: sharp.Metadata;
  try {
    // Reads the header only; nothing is decoded here.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageInputError(`corrupt ${label} image: ${firstLine(e)}`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (!(w > 0 && h > 0)) throw new ImageInputError(`corrupt ${label} image: no image size in its header`);
  if (w * h > maxPixels) {
    throw new ImageInputError(`image of ${w}×${h} px exceeds the pixel limit of ${maxPixels} px (possible decompression bomb)`, 413);
  }
  return finishPrepare(bytes, pre, maxPixels, kind, w, h);
}

async function finishPrepare(
  bytes: Uint8Array,
  pre: Preprocessing,
  maxPixels: number,
  kind: ImageKind | 'image',
  w: number,
  h: number,
  frame?: number,
): Promise<PreparedImage> {
  const label = kind.toUpperCase();
  const { size, channels, fit } = pre.decode;
  let pixels: Uint8Array;
  try {
    const d = await decodeImage(bytes, { size, channels, fit, maxPixels, ...(frame === undefined ? {} : { frame }) });
    pixels = d.pixels;
    w = d.origWidth;
    h = d.origHeight;
  } catch (e) {
    if (e instanceof BadImageError) {
      if (/pixel limit/i.test(e.reason)) throw new ImageInputError(`image exceeds the pixel limit of ${maxPixels} px`, 413);
      throw new ImageInputError(`unusable ${label} image: ${e.reason}`);
    }
    throw new ImageInputError(`corrupt ${label} image: ${firstLine(e)}`);
  }
  const scan: ScanPixels = { pixels, width: size, height: size, channels };
  const input = imagesToTensor(
    pixels,
    1,
    { height: size, width: size, channels },
    {
      inputSize: pre.inputSize,
      inputChannels: pre.inputChannels,
      scaling: pixelScalingOf(pre.scaling),
    },
  );
  return { input, scan, kind, origWidth: w, origHeight: h };
}
