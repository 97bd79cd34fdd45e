/**
 * Upload bytes → network input, the same numbers `predictImage` gets for a file: the pixels of
 * @mri-robust/data's `decodeImage` with the model's recorded decode settings (as the ingest stage),
 * then the input of `imagesToTensor` (as the embed stage: resize to the input size, grey → 3
 * channels, the recorded pixel scaling of the backbone — [-1, 1], caffe BGR mean or raw [0, 255]).
 * Before that, only JPEG and PNG are let through (by signature), and the pixel count declared in
 * the header is checked against `maxPixels` before anything is decoded (sharp also gets it as
 * `limitInputPixels`), so a decompression bomb is never inflated.
 *
 * A request needs neither the hashes ingest computes beside the pixels (sha256, pHash: ~40 % of
 * `decodeImage`'s CPU time) nor TensorFlow.js for the scaling, so the common case runs without them:
 * - JPEG/PNG: the two sharp passes of `decodeImage` (decode, then fit to the decode size) with the
 *   same options; should either fail, the bytes go through `decodeImage` itself, whose reason names
 *   the problem (the tests check the pixels against `decodeImage` on real scans, every fit);
 * - scaling: a 256-entry table per channel (the same float32 arithmetic as the tfjs ops, checked for
 *   every byte value) when the decode size is the input size; any resize still goes through tfjs.
 */
import sharp from 'sharp';
import { BadImageError, decodeImage, isDicom } from '@mri-robust/data';
import { tensor4d, type Tensor4D } from '@tensorflow/tfjs-core';
import { CAFFE_MEAN_BGR, imagesToTensor, pixelScalingOf, type PixelScaling } from './nets/preprocess.ts';
import { denoisePixels } from './nets/denoise.ts';
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

export interface PreparedInput {
  /** Network input, one sample `[inputSize, inputSize, inputChannels]` row-major (NHWC). */
  input: Float32Array;
  /** The decoded scan at the decode size (what the overlay is drawn on). */
  scan: ScanPixels;
  kind: PreparedKind;
  origWidth: number;
  origHeight: number;
}

export interface PreparedImage extends Omit<PreparedInput, 'input'> {
  /** Network input `[1, inputSize, inputSize, inputChannels]` (the caller disposes it). */
  input: Tensor4D;
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Decodes and prepares one uploaded image as a tensor (tfjs callers). Throws ImageInputError for unusable input. */
export async function prepareImage(
  bytes: Uint8Array,
  pre: Preprocessing,
  maxPixels: number,
  opts: { anyFormat?: boolean; frame?: number } = {},
): Promise<PreparedImage> {
  const p = await prepareInput(bytes, pre, maxPixels, opts);
  return { ...p, input: tensor4d(p.input, [1, pre.inputSize, pre.inputSize, pre.inputChannels]) };
}

/** Decodes and prepares one uploaded image as plain floats. Throws ImageInputError for unusable input. */
export async function prepareInput(
  bytes: Uint8Array,
  pre: Preprocessing,
  maxPixels: number,
  opts: { anyFormat?: boolean; frame?: number } = {},
): Promise<PreparedInput> {
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
): Promise<PreparedInput> {
  const label = kind.toUpperCase();
  const { size, channels, fit } = pre.decode;
  const fast = kind === 'jpeg' || kind === 'png' ? await decodeWithoutHashes(bytes, pre.decode, maxPixels) : null;
  let pixels: Uint8Array;
  if (fast) [pixels, w, h] = [fast.pixels, fast.origWidth, fast.origHeight];
  else {
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
  }
  const scan: ScanPixels = { pixels, width: size, height: size, channels };
  return { input: pixelsToInput(scan, pre), scan, kind, origWidth: w, origHeight: h };
}

const SHARP_FIT = { pad: 'contain', crop: 'cover', fill: 'fill' } as const;

/**
 * JPEG/PNG bytes at the decode size: `decodeImage`'s two sharp passes with its options (decode,
 * EXIF rotation, alpha flattened on black, the configured channels; then the fit, centred, black
 * padding), without its hashes; the size is the upload's after EXIF rotation. null when sharp
 * refuses the bytes: the caller then runs `decodeImage`, whose error says why.
 */
async function decodeWithoutHashes(
  bytes: Uint8Array,
  d: Preprocessing['decode'],
  maxPixels: number,
): Promise<{ pixels: Uint8Array; origWidth: number; origHeight: number } | null> {
  const space = d.channels === 1 ? 'b-w' : 'srgb';
  try {
    const norm = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', sequentialRead: true })
      .rotate()
      .flatten({ background: '#000000' })
      .toColourspace(space)
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (norm.info.channels !== d.channels) return null;
    const out = await sharp(norm.data, { raw: { width: norm.info.width, height: norm.info.height, channels: d.channels } })
      .resize(d.size, d.size, {
        fit: SHARP_FIT[d.fit],
        position: 'centre',
        background: d.channels === 1 ? { r: 0, g: 0, b: 0 } : { r: 0, g: 0, b: 0, alpha: 1 },
      })
      .toColourspace(space)
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (out.info.channels !== d.channels || out.info.width !== d.size || out.info.height !== d.size) return null;
    // The size after EXIF rotation, as decodeImage reports it.
    return { pixels: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength), origWidth: norm.info.width, origHeight: norm.info.height };
  } catch {
    return null;
  }
}

/**
 * Float32 value of each byte per output channel under `scaling`, as the tfjs ops of `imagesToTensor`
 * compute it in float32: x / 127.5 − 1 (two roundings), x − mean of the channel in BGR order, x.
 */
function scalingTables(scaling: PixelScaling, channels: number): Float32Array[] {
  return Array.from({ length: channels }, (_, c) => {
    const t = new Float32Array(256);
    for (let x = 0; x < 256; x++) {
      if (scaling === 'scale_-1_1') t[x] = Math.fround(Math.fround(x / 127.5) - 1);
      else if (scaling === 'caffe_bgr_mean') t[x] = x - Math.fround(CAFFE_MEAN_BGR[c]);
      else t[x] = x;
    }
    return t;
  });
}

const tables = new Map<string, Float32Array[]>();

/**
 * Pixels at the decode size → one network input sample (`imagesToTensor`'s numbers). Without a
 * resize and with grey → grey, grey → 3 channels or 3 → 3 channels, a table lookup per value
 * (caffe reverses RGB to BGR first); anything else goes through `imagesToTensor`.
 */
export function pixelsToInput(scan: ScanPixels, pre: Pick<Preprocessing, 'inputSize' | 'inputChannels' | 'scaling' | 'denoise'>): Float32Array {
  const scaling = pixelScalingOf(pre.scaling);
  const { width, height, channels: ch } = scan;
  const pixels = pre.denoise ? denoisePixels(scan.pixels, 1, { height, width, channels: ch }, pre.denoise) : scan.pixels;
  const out = pre.inputChannels;
  const direct = width === pre.inputSize && height === pre.inputSize && (ch === out || (ch === 1 && out === 3));
  if (!direct || (scaling === 'caffe_bgr_mean' && out !== 3)) {
    const t = imagesToTensor(pixels, 1, { height, width, channels: ch }, { inputSize: pre.inputSize, inputChannels: out, scaling });
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  }
  const key = `${scaling}/${out}`;
  const lut = tables.get(key) ?? scalingTables(scaling, out);
  tables.set(key, lut);
  const n = width * height;
  const input = new Float32Array(n * out);
  if (out === 1) {
    const t0 = lut[0];
    for (let i = 0; i < n; i++) input[i] = t0[pixels[i]];
    return input;
  }
  // Caffe order: output channel c takes input channel 2 − c (RGB → BGR); the table of c is its mean.
  const [t0, t1, t2] = lut;
  const swap = scaling === 'caffe_bgr_mean';
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    const p = ch === 1 ? i : i * 3;
    const r = pixels[p];
    const g = ch === 1 ? r : pixels[p + 1];
    const b = ch === 1 ? r : pixels[p + 2];
    input[o] = t0[swap ? b : r];
    input[o + 1] = t1[g];
    input[o + 2] = t2[swap ? r : b];
  }
  return input;
}
