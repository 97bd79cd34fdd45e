/**
 * Test helper: a minimal DICOM Part 10 writer (128-byte preamble, "DICM", explicit VR little endian
 * file meta group, then the dataset in the chosen transfer syntax), enough to build greyscale MR
 * images — 8 or 16 bits, signed or not, rescale, window, MONOCHROME1/2, several frames — from real
 * scans, plus an encapsulated (compressed) and a pixel-less object for the refusal paths.
 */
import { deflateRawSync } from 'node:zlib';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';
/** VRs whose explicit-VR header is VR, 2 reserved bytes and a 4-byte length. */
const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

type Value = string | number | number[] | Uint8Array | Uint16Array | Int16Array;
interface Element {
  group: number;
  element: number;
  vr: string;
  value: Value;
}

function pad(bytes: Buffer, vr: string): Buffer {
  if (bytes.length % 2 === 0) return bytes;
  return Buffer.concat([bytes, Buffer.from([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]);
}

function encodeValue(vr: string, v: Value): Buffer {
  if (v instanceof Uint8Array && !(v instanceof Buffer) && vr === 'OB') return pad(Buffer.from(v), vr);
  if (Buffer.isBuffer(v)) return pad(v, vr);
  if (v instanceof Uint16Array || v instanceof Int16Array) return Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  if (vr === 'US') {
    const list = Array.isArray(v) ? v : [v as number];
    const b = Buffer.alloc(2 * list.length);
    list.forEach((x, i) => {
      b.writeUInt16LE(x, 2 * i);
    });
    return b;
  }
  if (vr === 'UL') {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v as number);
    return b;
  }
  const text = Array.isArray(v) ? v.join('\\') : String(v);
  return pad(Buffer.from(text, 'latin1'), vr);
}

function encodeElement(e: Element, explicit: boolean): Buffer {
  const value = encodeValue(e.vr, e.value);
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(e.group, 0);
  tag.writeUInt16LE(e.element, 2);
  if (!explicit) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(value.length);
    return Buffer.concat([tag, len, value]);
  }
  if (LONG_VRS.has(e.vr)) {
    const head = Buffer.alloc(8);
    head.write(e.vr, 0, 'latin1');
    head.writeUInt32LE(value.length, 4);
    return Buffer.concat([tag, head, value]);
  }
  const head = Buffer.alloc(4);
  head.write(e.vr, 0, 'latin1');
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([tag, head, value]);
}

function dataset(elements: Element[], explicit: boolean): Buffer {
  const sorted = [...elements].sort((a, b) => a.group - b.group || a.element - b.element);
  return Buffer.concat(sorted.map((e) => encodeElement(e, explicit)));
}

function metaGroup(transferSyntax: string, sopClass: string): Buffer {
  const body = dataset(
    [
      { group: 2, element: 0x0001, vr: 'OB', value: new Uint8Array([0, 1]) },
      { group: 2, element: 0x0002, vr: 'UI', value: sopClass },
      { group: 2, element: 0x0003, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.1' },
      { group: 2, element: 0x0010, vr: 'UI', value: transferSyntax },
      { group: 2, element: 0x0012, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.2' },
    ],
    true,
  );
  return Buffer.concat([encodeElement({ group: 2, element: 0, vr: 'UL', value: body.length }, true), body]);
}

/** preamble + DICM + meta + dataset (deflated after the meta group for the deflated syntax). */
function part10(transferSyntax: string, sopClass: string, body: Buffer): Buffer {
  const data = transferSyntax === '1.2.840.10008.1.2.1.99' ? deflateRawSync(body) : body;
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), metaGroup(transferSyntax, sopClass), data]);
}

export interface DicomImageSpec {
  rows: number;
  columns: number;
  /** Stored values, frames one after another (rows × columns each). */
  values: ArrayLike<number>;
  frames?: number;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  signed?: boolean;
  photometric?: 'MONOCHROME1' | 'MONOCHROME2';
  slope?: number;
  intercept?: number;
  window?: { center: number | number[]; width: number | number[]; fn?: string };
  /** Default explicit VR little endian; also '1.2.840.10008.1.2' (implicit) and '…1.2.1.99' (deflated). */
  transferSyntax?: string;
}

/** A greyscale MR image object (Part 10 bytes). */
export function writeDicomImage(spec: DicomImageSpec): Buffer {
  const bits = spec.bitsAllocated ?? 16;
  const frames = spec.frames ?? 1;
  const ts = spec.transferSyntax ?? EXPLICIT_LE;
  const n = spec.rows * spec.columns * frames;
  if (spec.values.length !== n) throw new Error(`writeDicomImage: ${spec.values.length} values for ${n} pixels`);
  let pixels: Buffer;
  if (bits === 16) {
    const a = new Uint16Array(n);
    for (let i = 0; i < n; i++) a[i] = spec.values[i] & 0xffff; // two's complement for signed values
    pixels = Buffer.from(new Uint8Array(a.buffer));
  } else {
    pixels = Buffer.from(Uint8Array.from(spec.values as ArrayLike<number>, (v) => v & 0xff));
  }
  const els: Element[] = [
    { group: 0x0008, element: 0x0016, vr: 'UI', value: MR_IMAGE },
    { group: 0x0008, element: 0x0018, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.1' },
    { group: 0x0008, element: 0x0060, vr: 'CS', value: 'MR' },
    { group: 0x0028, element: 0x0002, vr: 'US', value: 1 },
    { group: 0x0028, element: 0x0004, vr: 'CS', value: spec.photometric ?? 'MONOCHROME2' },
    { group: 0x0028, element: 0x0008, vr: 'IS', value: frames },
    { group: 0x0028, element: 0x0010, vr: 'US', value: spec.rows },
    { group: 0x0028, element: 0x0011, vr: 'US', value: spec.columns },
    { group: 0x0028, element: 0x0100, vr: 'US', value: bits },
    { group: 0x0028, element: 0x0101, vr: 'US', value: spec.bitsStored ?? bits },
    { group: 0x0028, element: 0x0102, vr: 'US', value: (spec.bitsStored ?? bits) - 1 },
    { group: 0x0028, element: 0x0103, vr: 'US', value: spec.signed ? 1 : 0 },
    { group: 0x7fe0, element: 0x0010, vr: bits === 16 ? 'OW' : 'OB', value: pixels },
  ];
  if (spec.slope !== undefined) els.push({ group: 0x0028, element: 0x1053, vr: 'DS', value: spec.slope });
  if (spec.intercept !== undefined) els.push({ group: 0x0028, element: 0x1052, vr: 'DS', value: spec.intercept });
  if (spec.window) {
    const list = (v: number | number[]) => (Array.isArray(v) ? v : [v]);
    els.push({ group: 0x0028, element: 0x1050, vr: 'DS', value: list(spec.window.center) });
    els.push({ group: 0x0028, element: 0x1051, vr: 'DS', value: list(spec.window.width) });
    if (spec.window.fn) els.push({ group: 0x0028, element: 0x1056, vr: 'CS', value: spec.window.fn });
  }
  return part10(ts, MR_IMAGE, dataset(els, ts !== '1.2.840.10008.1.2'));
}

/** An image whose pixel data is encapsulated in `transferSyntax` (one fragment: `compressed`). */
export function writeEncapsulatedDicom(rows: number, columns: number, compressed: Uint8Array, transferSyntax = '1.2.840.10008.1.2.4.50'): Buffer {
  const els = dataset(
    [
      { group: 0x0008, element: 0x0016, vr: 'UI', value: MR_IMAGE },
      { group: 0x0028, element: 0x0002, vr: 'US', value: 1 },
      { group: 0x0028, element: 0x0004, vr: 'CS', value: 'MONOCHROME2' },
      { group: 0x0028, element: 0x0010, vr: 'US', value: rows },
      { group: 0x0028, element: 0x0011, vr: 'US', value: columns },
      { group: 0x0028, element: 0x0100, vr: 'US', value: 8 },
      { group: 0x0028, element: 0x0101, vr: 'US', value: 8 },
      { group: 0x0028, element: 0x0102, vr: 'US', value: 7 },
      { group: 0x0028, element: 0x0103, vr: 'US', value: 0 },
    ],
    true,
  );
  const item = (data: Uint8Array) => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0xfffe, 0);
    h.writeUInt16LE(0xe000, 2);
    h.writeUInt32LE(data.length + (data.length % 2), 4);
    return Buffer.concat([h, Buffer.from(data), Buffer.alloc(data.length % 2)]);
  };
  const head = Buffer.alloc(12);
  head.writeUInt16LE(0x7fe0, 0);
  head.writeUInt16LE(0x0010, 2);
  head.write('OB', 4, 'latin1');
  head.writeUInt32LE(0xffffffff, 8);
  const end = Buffer.alloc(8);
  end.writeUInt16LE(0xfffe, 0);
  end.writeUInt16LE(0xe0dd, 2);
  return part10(transferSyntax, MR_IMAGE, Buffer.concat([els, head, item(new Uint8Array(0)), item(compressed), end]));
}

/** A Basic Text structured report: a DICOM object with no pixel data. */
export function writeStructuredReport(): Buffer {
  const sr = '1.2.840.10008.5.1.4.1.1.88.11';
  const els = dataset(
    [
      { group: 0x0008, element: 0x0016, vr: 'UI', value: sr },
      { group: 0x0008, element: 0x0060, vr: 'CS', value: 'SR' },
      { group: 0x0040, element: 0xa040, vr: 'CS', value: 'CONTAINER' },
    ],
    true,
  );
  return part10(EXPLICIT_LE, sr, els);
}
