/**
 * DICOM (Part 10 files: 128-byte preamble + "DICM") → 8-bit pixels of one frame, with dicom-parser.
 *
 * - Uncompressed transfer syntaxes only: implicit VR little endian, explicit VR little endian and
 *   deflated explicit VR little endian. Compressed ones (JPEG, JPEG-LS, JPEG 2000, RLE, MPEG, HTJ2K)
 *   and the retired big-endian one are refused with the syntax named.
 * - A DICOM object without Pixel Data (a structured report, a presentation state, …) is refused as
 *   "not an image".
 * - Greyscale (MONOCHROME1/2, 8 or 16 bits allocated, signed or unsigned, Bits Stored honoured):
 *   stored value → Rescale Slope/Intercept (modality value) → the file's first Window Center/Width
 *   with its VOI LUT Function (LINEAR, LINEAR_EXACT, SIGMOID; PS3.3 C.11.2.1.2), or, without a window,
 *   the frame's min–max → 0..255; MONOCHROME1 (white = low) is inverted so that 255 is bright.
 * - RGB (8 bits, interleaved or planar) is passed through.
 * - Multi-frame files: `frame` picks one (0-based); ingest lists each frame as its own slice.
 */
import zlib from 'node:zlib';
import * as dicomParserModule from 'dicom-parser';
import type { DataSet } from 'dicom-parser';

// dicom-parser is a UMD bundle: Node's ESM loader sees only its default export (the CommonJS
// module.exports), bundlers and vitest also the named ones.
const { parseDicom } = ((dicomParserModule as { default?: typeof dicomParserModule }).default ?? dicomParserModule) as typeof dicomParserModule;

/** A DICOM file that cannot be used as an image; `reason` is short, for reports and HTTP answers. */
export class DicomError extends Error {
  override readonly name = 'DicomError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

const TS_IMPLICIT_LE = '1.2.840.10008.1.2';
const TS_EXPLICIT_LE = '1.2.840.10008.1.2.1';
const TS_DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const SUPPORTED = new Set([TS_IMPLICIT_LE, TS_EXPLICIT_LE, TS_DEFLATED_LE]);

/** Names of the transfer syntaxes that are refused, for the message. */
const REFUSED: Record<string, string> = {
  '1.2.840.10008.1.2.2': 'explicit VR big endian, retired',
  '1.2.840.10008.1.2.5': 'RLE lossless',
  '1.2.840.10008.1.2.4.50': 'JPEG baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG extended',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.100': 'MPEG-2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4',
  '1.2.840.10008.1.2.4.201': 'HTJ2K lossless',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
};

/** True for a DICOM Part 10 file ("DICM" after the 128-byte preamble). */
export function isDicom(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface DicomWindow {
  center: number;
  width: number;
  fn: VoiFunction;
  /** 'file': Window Center/Width of the file; 'min-max': the frame's range (the file has none). */
  from: 'file' | 'min-max';
}

export interface DicomHeader {
  transferSyntax: string;
  sopClass: string | null;
  modality: string | null;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  planar: boolean;
  slope: number;
  intercept: number;
  window: Omit<DicomWindow, 'from'> | null;
}

export interface DicomImage {
  /** Pixels of the frame, uint8, HWC: width × height × channels. */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
  frame: number;
  header: DicomHeader;
  /** The window applied (greyscale only). */
  window: DicomWindow | null;
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Default cap on the inflated size of a deflated DICOM (a deflate bomb is refused, not inflated). */
const MAX_INFLATED_BYTES = 512 * 1024 * 1024;

function parse(bytes: Uint8Array, untilPixels: boolean, maxInflatedBytes = MAX_INFLATED_BYTES): DataSet {
  if (!isDicom(bytes)) throw new DicomError('not a DICOM Part 10 file (no "DICM" after the 128-byte preamble)');
  const inflater = (arr: Uint8Array, position: number): Uint8Array => {
    let inflated: Buffer;
    try {
      inflated = zlib.inflateRawSync(arr.subarray(position), { maxOutputLength: maxInflatedBytes });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new DicomError(
        code === 'ERR_BUFFER_TOO_LARGE' ? `deflated DICOM inflates beyond ${maxInflatedBytes} bytes: refused` : `corrupt deflated DICOM: ${firstLine(e)}`,
      );
    }
    const full = new Uint8Array(position + inflated.length);
    full.set(arr.subarray(0, position));
    full.set(inflated, position);
    return full;
  };
  try {
    return parseDicom(bytes, { inflater, ...(untilPixels ? { untilTag: 'x7fe00010' } : {}) });
  } catch (e) {
    if (e instanceof DicomError) throw e;
    throw new DicomError(`unreadable DICOM: ${firstLine(e).replace(/^dicomParser\.\w+: /, '')}`);
  }
}

function num(ds: DataSet, tag: string): number | undefined {
  const v = ds.floatString(tag, 0);
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** The header fields that decoding needs; throws DicomError for what cannot be decoded. */
function readHeader(ds: DataSet): DicomHeader {
  const transferSyntax = (ds.string('x00020010') ?? TS_IMPLICIT_LE).replace(/\0/g, '').trim();
  const sopClass = ds.string('x00080016')?.trim() || ds.string('x00020002')?.trim() || null;
  if (!SUPPORTED.has(transferSyntax)) {
    const name = REFUSED[transferSyntax];
    throw new DicomError(
      `${name?.startsWith('explicit') ? 'unsupported' : 'compressed'} DICOM transfer syntax ${transferSyntax}${name ? ` (${name})` : ''} is not supported: export it uncompressed (e.g. gdcmconv --raw, dcmdjpeg)`,
    );
  }
  if (!ds.elements.x7fe00010) {
    throw new DicomError(
      `DICOM object without pixel data (SOP class ${sopClass ?? 'unknown'}${ds.string('x00080060') ? `, modality ${ds.string('x00080060')}` : ''}): not an image`,
    );
  }
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  if (!rows || !columns) throw new DicomError('DICOM image without Rows/Columns');
  const samplesPerPixel = ds.uint16('x00280002') ?? 1;
  const photometric = (ds.string('x00280004') ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const frames = Math.max(1, ds.intString('x00280008') ?? 1);
  const grey = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  if (grey && samplesPerPixel !== 1) throw new DicomError(`${photometric} with ${samplesPerPixel} samples per pixel`);
  if (!grey && !(photometric === 'RGB' && samplesPerPixel === 3)) {
    throw new DicomError(`DICOM photometric interpretation ${photometric} is not supported (only MONOCHROME1, MONOCHROME2, RGB)`);
  }
  if (grey ? bitsAllocated !== 8 && bitsAllocated !== 16 : bitsAllocated !== 8) {
    throw new DicomError(`DICOM ${photometric} with ${bitsAllocated} bits allocated is not supported (greyscale 8 or 16, RGB 8)`);
  }
  if (bitsStored < 1 || bitsStored > bitsAllocated) throw new DicomError(`DICOM Bits Stored ${bitsStored} with Bits Allocated ${bitsAllocated}`);
  const slopeRaw = num(ds, 'x00281053');
  const slope = slopeRaw === undefined || slopeRaw === 0 ? 1 : slopeRaw;
  const intercept = num(ds, 'x00281052') ?? 0;
  const center = num(ds, 'x00281050');
  const width = num(ds, 'x00281051');
  const fnRaw = (ds.string('x00281056') ?? 'LINEAR').trim().toUpperCase();
  const fn: VoiFunction = fnRaw === 'LINEAR_EXACT' || fnRaw === 'SIGMOID' ? fnRaw : 'LINEAR';
  const validWidth = width !== undefined && (fn === 'LINEAR' ? width >= 1 : width > 0);
  return {
    transferSyntax,
    sopClass,
    modality: ds.string('x00080060')?.trim() || null,
    rows,
    columns,
    frames,
    samplesPerPixel,
    photometric,
    bitsAllocated,
    bitsStored,
    signed,
    planar: (ds.uint16('x00280006') ?? 0) === 1,
    slope,
    intercept,
    window: center !== undefined && validWidth ? { center, width: width as number, fn } : null,
  };
}

/** Header of a DICOM file (stops before the pixel data); throws DicomError when it cannot be decoded. */
export function readDicomHeader(bytes: Uint8Array, maxInflatedBytes?: number): DicomHeader {
  return readHeader(parse(bytes, true, maxInflatedBytes));
}

/**
 * Pure: modality values → 0..255 through a VOI window (PS3.3 C.11.2.1.2.1 LINEAR, C.11.2.1.3.2
 * LINEAR_EXACT, C.11.2.1.3.1 SIGMOID), rounded; `invert` for MONOCHROME1.
 */
export function applyWindow(values: ArrayLike<number>, w: Omit<DicomWindow, 'from'>, invert = false): Uint8Array {
  const out = new Uint8Array(values.length);
  const { center: c, width: wd } = w;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    let y: number;
    if (w.fn === 'SIGMOID') y = 255 / (1 + Math.exp((-4 * (x - c)) / wd));
    else if (w.fn === 'LINEAR_EXACT') y = x <= c - wd / 2 ? 0 : x > c + wd / 2 ? 255 : ((x - c) / wd + 0.5) * 255;
    else if (x <= c - 0.5 - (wd - 1) / 2) y = 0;
    else if (x > c - 0.5 + (wd - 1) / 2) y = 255;
    else y = ((x - (c - 0.5)) / (wd - 1) + 0.5) * 255;
    const v = Math.round(y);
    out[i] = invert ? 255 - v : v;
  }
  return out;
}

/** Pure: the window that maps [min, max] of `values` onto 0..255 (LINEAR_EXACT), or null when flat. */
export function minMaxWindow(values: ArrayLike<number>): Omit<DicomWindow, 'from'> {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  if (!(hi > lo)) return { center: lo + 1, width: 1, fn: 'LINEAR_EXACT' }; // flat: everything maps to 0
  return { center: (lo + hi) / 2, width: hi - lo, fn: 'LINEAR_EXACT' };
}

/** Stored values of one greyscale frame → modality values (Bits Stored mask, sign, rescale). */
function modalityValues(bytes: Uint8Array, offset: number, h: DicomHeader): Float64Array {
  const n = h.rows * h.columns;
  const out = new Float64Array(n);
  const mask = h.bitsStored >= 32 ? 0xffffffff : 2 ** h.bitsStored - 1;
  const signBit = 2 ** (h.bitsStored - 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * (h.bitsAllocated / 8));
  for (let i = 0; i < n; i++) {
    let v = (h.bitsAllocated === 16 ? view.getUint16(2 * i, true) : view.getUint8(i)) & mask;
    if (h.signed && v >= signBit) v -= 2 * signBit;
    out[i] = v * h.slope + h.intercept;
  }
  return out;
}

/** Decodes one frame (0-based) of a DICOM file to 8-bit pixels. Throws DicomError with the reason. */
export function decodeDicom(bytes: Uint8Array, frame = 0, maxInflatedBytes?: number): DicomImage {
  const ds = parse(bytes, false, maxInflatedBytes);
  const h = readHeader(ds);
  const el = ds.elements.x7fe00010;
  if (el.encapsulatedPixelData) throw new DicomError(`DICOM pixel data is encapsulated (compressed) although transfer syntax ${h.transferSyntax} is not`);
  if (!Number.isInteger(frame) || frame < 0 || frame >= h.frames)
    throw new DicomError(`frame ${frame} does not exist (the file has ${h.frames} frame${h.frames === 1 ? '' : 's'}, 0-based)`);
  const frameBytes = h.rows * h.columns * h.samplesPerPixel * (h.bitsAllocated / 8);
  const data = ds.byteArray;
  const start = el.dataOffset + frame * frameBytes;
  if (el.dataOffset + h.frames * frameBytes > Math.min(el.dataOffset + el.length, data.length)) {
    throw new DicomError(
      `truncated DICOM pixel data: ${el.length} bytes for ${h.frames} frame(s) of ${h.columns}×${h.rows}×${h.samplesPerPixel} at ${h.bitsAllocated} bits`,
    );
  }
  if (h.samplesPerPixel === 3) {
    const n = h.rows * h.columns;
    const pixels = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) pixels[i * 3 + c] = h.planar ? data[start + c * n + i] : data[start + i * 3 + c];
    }
    return { pixels, width: h.columns, height: h.rows, channels: 3, frame, header: h, window: null };
  }
  const values = modalityValues(data, start, h);
  const window: DicomWindow = h.window ? { ...h.window, from: 'file' } : { ...minMaxWindow(values), from: 'min-max' };
  const pixels = applyWindow(values, window, h.photometric === 'MONOCHROME1');
  return { pixels, width: h.columns, height: h.rows, channels: 1, frame, header: h, window };
}
