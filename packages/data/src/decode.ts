/**
 * Decoding one image file into the configured shape, plus the hashes de-duplication needs.
 *
 * - sharp decodes JPEG, PNG, WebP, TIFF (and GIF); BMP goes through the pure decoder in bmp.ts;
 *   DICOM (Part 10, uncompressed) through dicom.ts (rescale, window, MONOCHROME1 inverted) to 8 bits.
 * - Colour: CMYK and RGB(A) are converted to sRGB; alpha is flattened onto black; 16-bit samples
 *   are reduced to 8 bits; then the image is converted to the configured channels (1 = luminance,
 *   3 = RGB, a grey image repeated). EXIF orientation is applied.
 * - `sha` (exact duplicates) hashes the decoded pixels at their original size after that channel
 *   conversion, so byte-different files with identical pixels (PNG vs BMP, metadata) still match.
 * - `phash` (near duplicates) is the mirror-invariant hash of a 32×32 luminance thumbnail of the
 *   whole image (aspect ignored), computed before the fit to the output size.
 * - The pixel limit (max_pixels) is passed to sharp as `limitInputPixels`, which checks the size
 *   declared in the header before decoding: a decompression bomb is rejected without being inflated.
 */
import sharp from 'sharp';
import { hashBytes } from '@mri-robust/core';
import { decodeBmp, isBmp, BmpError } from './bmp.ts';
import { decodeDicom, DicomError, isDicom, readDicomHeader } from './dicom.ts';
import { phashFromThumb, PHASH_SIZE } from './phash.ts';

type Fit = 'pad' | 'crop' | 'fill';

export interface DecodeOptions {
  size: number;
  channels: 1 | 3;
  fit: Fit;
  maxPixels: number;
  /**
   * DICOM only: the frame (0-based) of a multi-frame file. Without it, a multi-frame file is
   * refused (ingest lists each frame as its own file, see layout.ts).
   */
  frame?: number;
}

export interface Decoded {
  /** size × size × channels, uint8, HWC. */
  pixels: Uint8Array;
  sha: string;
  phash: string;
  /** The 32×32 luminance thumbnail the phash was computed from (used to verify near-duplicate pairs). */
  thumb: Uint8Array;
  origWidth: number;
  origHeight: number;
}

/** A file that cannot be used as an image; `reason` is short and meant for the ingest report. */
export class BadImageError extends Error {
  override readonly name = 'BadImageError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

const SHARP_FIT: Record<Fit, 'contain' | 'cover' | 'fill'> = { pad: 'contain', crop: 'cover', fill: 'fill' };

function cleanSharpMessage(message: string): string {
  const m = message.replace(/^Input (buffer|file) (has corrupt header|contains unsupported image format)/, (s) => s);
  if (/unsupported image format/.test(m)) return 'not an image (unsupported or unknown format)';
  if (/exceeds pixel limit/.test(m)) return 'image exceeds the pixel limit (max_pixels): possible decompression bomb';
  if (/premature end|truncated|Truncated/i.test(m)) return `truncated image: ${m.split('\n')[0]}`;
  return `corrupt image: ${m.split('\n')[0]}`;
}

/** Pixels already in memory (uint8 HWC, 1..4 channels) → output pixels and hashes. */
export async function processRaw(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, options: DecodeOptions): Promise<Decoded> {
  if (width * height > options.maxPixels) {
    throw new BadImageError(`image of ${width}×${height} px exceeds the pixel limit of ${options.maxPixels} (max_pixels)`);
  }
  const raw = { width, height, channels };
  let p = sharp(data, { raw });
  if (channels === 2 || channels === 4) p = p.flatten({ background: '#000000' });
  const norm = await p
    .toColourspace(options.channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return finish(norm.data, norm.info.width, norm.info.height, norm.info.channels, options);
}

async function finish(norm: Buffer, width: number, height: number, ch: number, options: DecodeOptions): Promise<Decoded> {
  if (ch !== options.channels) throw new Error(`internal: expected ${options.channels} channels after conversion, got ${ch}`);
  const raw = { width, height, channels: ch as 1 | 3 };
  const sha = hashBytes(Buffer.concat([Buffer.from(`${width}x${height}x${ch}\n`), norm]));
  const thumb = await sharp(norm, { raw }).resize(PHASH_SIZE, PHASH_SIZE, { fit: 'fill' }).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  if (thumb.info.channels !== 1) throw new Error(`internal: thumbnail has ${thumb.info.channels} channels`);
  const phash = phashFromThumb(thumb.data);
  let outPipe = sharp(norm, { raw }).resize(options.size, options.size, {
    fit: SHARP_FIT[options.fit],
    position: 'centre',
    background: ch === 1 ? { r: 0, g: 0, b: 0 } : { r: 0, g: 0, b: 0, alpha: 1 },
  });
  outPipe = outPipe.toColourspace(ch === 1 ? 'b-w' : 'srgb');
  const out = await outPipe.raw().toBuffer({ resolveWithObject: true });
  if (out.info.channels !== ch || out.info.width !== options.size || out.info.height !== options.size) {
    throw new Error(`internal: resize gave ${out.info.width}×${out.info.height}×${out.info.channels}, expected ${options.size}×${options.size}×${ch}`);
  }
  return {
    pixels: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength),
    sha,
    phash,
    thumb: new Uint8Array(thumb.data),
    origWidth: width,
    origHeight: height,
  };
}

/** Decodes the bytes of one image file. Throws BadImageError (with a reason) for unusable files. */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<Decoded> {
  if (bytes.length === 0) throw new BadImageError('empty file');
  if (isDicom(bytes)) {
    let img: ReturnType<typeof decodeDicom>;
    try {
      const maxInflated = Math.max(64 * 1024 * 1024, options.maxPixels * 8);
      if (options.frame === undefined) {
        const frames = readDicomHeader(bytes, maxInflated).frames;
        if (frames > 1) throw new DicomError(`multi-frame DICOM (${frames} frames): choose one frame`);
      }
      img = decodeDicom(bytes, options.frame ?? 0, maxInflated);
    } catch (e) {
      if (e instanceof DicomError) throw new BadImageError(e.reason);
      throw e;
    }
    return processRaw(img.pixels, img.width, img.height, img.channels, options);
  }
  if (isBmp(bytes)) {
    let img: ReturnType<typeof decodeBmp>;
    try {
      img = decodeBmp(bytes, options.maxPixels);
    } catch (e) {
      if (e instanceof BmpError) throw new BadImageError(`bad BMP: ${e.message}`);
      throw e;
    }
    return processRaw(img.data, img.width, img.height, 3, options);
  }
  let norm: { data: Buffer; info: sharp.OutputInfo };
  try {
    norm = await sharp(bytes, { limitInputPixels: options.maxPixels, failOn: 'truncated', sequentialRead: true })
      .rotate()
      .flatten({ background: '#000000' })
      .toColourspace(options.channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new BadImageError(cleanSharpMessage(e instanceof Error ? e.message : String(e)));
  }
  return finish(norm.data, norm.info.width, norm.info.height, norm.info.channels, options);
}
