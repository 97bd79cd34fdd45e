/**
 * Upload bytes → network input, following a saved model's `preprocessing` (metadata.json): decode
 * as the ingest stage does (EXIF rotation, alpha flattened onto black, luminance or sRGB, resize
 * with the configured fit to the decode size), then to the network's side and channels (grey
 * repeated) and pixel scaling. Only JPEG and PNG are accepted (checked by signature); the pixel
 * count declared in the header is checked against `maxPixels` before anything is decoded, and sharp
 * gets the same `limitInputPixels`, so a decompression bomb is never inflated.
 */
import sharp from 'sharp';
import type { Preprocessing } from '../save.ts';
import type { ScanPixels } from '../gradcam/overlay.ts';

/** A request image that cannot be used; `status` is the HTTP status to answer with. */
export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
  constructor(
    message: string,
    readonly status: 400 | 413 | 415 = 400,
  ) {
    super(message);
  }
}

export type ImageKind = 'jpeg' | 'png';

/** JPEG (FF D8 FF) or PNG (89 'PNG' 0D 0A 1A 0A) by signature, else null. */
export function sniffImage(bytes: Uint8Array): ImageKind | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  return null;
}

export interface PreparedImage {
  /** Network input, float32 HWC (`inputSize × inputSize × inputChannels`), scaled. */
  input: Float32Array;
  inputShape: [number, number, number];
  /** The decoded scan at the decode size (what the overlay is drawn on). */
  scan: ScanPixels;
  kind: ImageKind;
  origWidth: number;
  origHeight: number;
}

const SHARP_FIT = { pad: 'contain', crop: 'cover', fill: 'fill' } as const;

function sharpMessage(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/** Scales uint8 pixels as the model was trained ('scale_-1_1': x/127.5 − 1, 'scale_0_1': x/255, 'none'). */
export function scalePixels(pixels: Uint8Array, scaling: string): Float32Array {
  const out = new Float32Array(pixels.length);
  switch (scaling) {
    case 'scale_-1_1':
      for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 127.5 - 1;
      return out;
    case 'scale_0_1':
      for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
      return out;
    case 'none':
      for (let i = 0; i < pixels.length; i++) out[i] = pixels[i];
      return out;
    default:
      throw new Error(`preprocessing: unknown pixel scaling '${scaling}' (known: scale_-1_1, scale_0_1, none)`);
  }
}

/** Repeats a grey HW image into `channels` channels (or checks that the channels already match). */
export function expandChannels(pixels: Uint8Array, n: number, from: number, to: number): Uint8Array {
  if (from === to) return pixels;
  if (from !== 1) throw new Error(`preprocessing: cannot convert ${from} channels to ${to}`);
  const out = new Uint8Array(n * to);
  for (let i = 0; i < n; i++) for (let c = 0; c < to; c++) out[i * to + c] = pixels[i];
  return out;
}

/** Decodes and prepares one uploaded image. Throws ImageInputError for unusable input. */
export async function prepareImage(bytes: Uint8Array, pre: Preprocessing, maxPixels: number): Promise<PreparedImage> {
  if (bytes.length === 0) throw new ImageInputError('empty upload: no image bytes');
  const kind = sniffImage(bytes);
  if (!kind) throw new ImageInputError('not a JPEG or PNG image (unrecognised file signature)');
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageInputError(`corrupt ${kind.toUpperCase()} image: ${sharpMessage(e)}`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (!(w > 0 && h > 0)) throw new ImageInputError(`corrupt ${kind.toUpperCase()} image: no image size in its header`);
  if (w * h > maxPixels) {
    throw new ImageInputError(`image of ${w}×${h} px exceeds the pixel limit of ${maxPixels} px (possible decompression bomb)`, 413);
  }
  const { size, channels, fit } = pre.decode;
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', sequentialRead: true })
      .rotate()
      .flatten({ background: '#000000' })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .resize(size, size, { fit: SHARP_FIT[fit], position: 'centre', background: { r: 0, g: 0, b: 0, alpha: 1 } })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    const m = sharpMessage(e);
    if (/pixel limit/i.test(m)) throw new ImageInputError(`image exceeds the pixel limit of ${maxPixels} px`, 413);
    throw new ImageInputError(`corrupt ${kind.toUpperCase()} image: ${m}`);
  }
  const info = decoded.info;
  let scanPixels: Uint8Array = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength);
  // libvips may keep an extra band (e.g. grey + alpha); keep the first `channels`.
  if (info.channels !== channels) {
    const n = info.width * info.height;
    const fixed = new Uint8Array(n * channels);
    for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) fixed[i * channels + c] = scanPixels[i * info.channels + Math.min(c, info.channels - 1)];
    scanPixels = fixed;
  }
  const scan: ScanPixels = { pixels: scanPixels, width: size, height: size, channels };
  let net = scanPixels;
  if (pre.inputSize !== size) {
    const r = await sharp(scanPixels, { raw: { width: size, height: size, channels } })
      .resize(pre.inputSize, pre.inputSize, { fit: 'fill' })
      .raw()
      .toBuffer();
    net = channels === 1 ? new Uint8Array(r.buffer, r.byteOffset, pre.inputSize * pre.inputSize) : new Uint8Array(r);
    if (channels === 1 && r.length !== pre.inputSize * pre.inputSize) {
      // sharp returns the grey band only for a 1-band raw input; guard anyway.
      const n = pre.inputSize * pre.inputSize;
      const band = new Uint8Array(n);
      const ch = r.length / n;
      for (let i = 0; i < n; i++) band[i] = r[i * ch];
      net = band;
    }
  }
  const expanded = expandChannels(net, pre.inputSize * pre.inputSize, channels, pre.inputChannels);
  return {
    input: scalePixels(expanded, pre.scaling),
    inputShape: [pre.inputSize, pre.inputSize, pre.inputChannels],
    scan,
    kind,
    origWidth: w,
    origHeight: h,
  };
}
