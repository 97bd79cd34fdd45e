/**
 * DICOM input, built from real scans in ../shared with the Part 10 writer of dicom-writer.ts: decoded
 * pixels against the source scan's grey pixels (exactly), rescale, window, MONOCHROME1, signed and
 * Bits Stored, implicit/explicit/deflated syntaxes, multi-frame; refusals with their reasons; and a
 * real ingest of a folder mixing JPEG and DICOM (frames as slices, bad DICOM listed as skipped).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment, openImageSet } from '@mri-robust/core';
import {
  BadImageError,
  dataSchemaPart,
  decodeDicom,
  decodeImage,
  DicomError,
  readDicomHeader,
  readIngestReport,
  runIngest,
  type IngestRecord,
} from '@mri-robust/data';
import { applyWindow, minMaxWindow } from '../src/dicom.ts';
import { DATASETS } from './ingest-helpers.ts';
import { writeDicomImage, writeEncapsulatedDicom, writeStructuredReport } from './dicom-writer.ts';

const SCANS = ['Testing/pituitary_tumor/image(18).jpg', 'Testing/glioma_tumor/image(10).jpg', 'Testing/meningioma_tumor/image(1).jpg'];
const scanFile = (rel: string) => path.join(DATASETS, 'sartaj', rel);

interface Grey {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The scan's grey pixels exactly as decodeImage reads a JPEG (rotate, flatten, b-w). */
async function grey(rel: string, size?: number): Promise<Grey> {
  let p = sharp(await readFile(scanFile(rel)))
    .rotate()
    .flatten({ background: '#000000' });
  if (size) p = p.resize(size, size, { fit: 'fill' });
  const { data, info } = await p.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(1);
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

const OPTS = { size: 96, channels: 1 as const, fit: 'pad' as const, maxPixels: 50_000_000 };
let scan: Grey;

beforeAll(async () => {
  scan = await grey(SCANS[0]);
  // a real scan with the full 0..255 range is what the min-max check below relies on
  expect(Math.min(...scan.data)).toBe(0);
  expect(scan.width * scan.height).toBeGreaterThan(10_000);
});

describe('DICOM decoding', () => {
  it('16-bit with rescale slope/intercept and the file window gives back the scan exactly', async () => {
    // stored = 8v + 100; modality = 0.5 * stored - 50 = 4v; window 510.5/1021 maps 4v → v (LINEAR)
    const bytes = writeDicomImage({
      rows: scan.height,
      columns: scan.width,
      values: Array.from(scan.data, (v) => 8 * v + 100),
      slope: 0.5,
      intercept: -50,
      window: { center: [510.5, 40], width: [1021, 80] },
    });
    const img = decodeDicom(bytes);
    expect(img).toMatchObject({
      width: scan.width,
      height: scan.height,
      channels: 1,
      frame: 0,
      window: { center: 510.5, width: 1021, fn: 'LINEAR', from: 'file' },
    });
    expect(img.header).toMatchObject({ bitsAllocated: 16, slope: 0.5, intercept: -50, photometric: 'MONOCHROME2', frames: 1, modality: 'MR' });
    expect(Buffer.from(img.pixels).equals(Buffer.from(scan.data))).toBe(true);
    // through decodeImage (ingest, predict): the same output pixels and the same exact-duplicate hash as the JPEG
    const fromDicom = await decodeImage(bytes, OPTS);
    const fromJpeg = await decodeImage(await readFile(scanFile(SCANS[0])), OPTS);
    expect(Buffer.from(fromDicom.pixels).equals(Buffer.from(fromJpeg.pixels))).toBe(true);
    expect(fromDicom.sha).toBe(fromJpeg.sha);
    expect(fromDicom.phash).toBe(fromJpeg.phash);
  });

  it('MONOCHROME1 is inverted (low values bright)', () => {
    const bytes = writeDicomImage({
      rows: scan.height,
      columns: scan.width,
      values: Array.from(scan.data, (v) => 4 * v),
      photometric: 'MONOCHROME1',
      window: { center: 510.5, width: 1021 },
    });
    const img = decodeDicom(bytes);
    expect(Array.from(img.pixels.subarray(0, 5000))).toEqual(Array.from(scan.data.subarray(0, 5000), (v) => 255 - v));
    expect(img.pixels.every((p, i) => p === 255 - scan.data[i])).toBe(true);
  });

  it('without a window: min–max of the frame', () => {
    const bytes = writeDicomImage({ rows: scan.height, columns: scan.width, values: Array.from(scan.data, (v) => 3 * v + 7) });
    const img = decodeDicom(bytes);
    expect(img.window).toMatchObject({ from: 'min-max', fn: 'LINEAR_EXACT' });
    const lo = Math.min(...scan.data);
    const hi = Math.max(...scan.data);
    expect(img.pixels.every((p, i) => p === Math.round(((scan.data[i] - lo) / (hi - lo)) * 255))).toBe(true);
  });

  it('signed 12-bit (Bits Stored) with negative values, and unsigned 12-bit with junk in the unused high bits', () => {
    // stored = 8v - 1000 (two's complement, 12 bits: -1000..1040); modality = stored/8 + 125 = v
    const signed = writeDicomImage({
      rows: scan.height,
      columns: scan.width,
      values: Array.from(scan.data, (v) => 8 * v - 1000),
      signed: true,
      bitsStored: 12,
      slope: 0.125,
      intercept: 125,
      window: { center: 128, width: 256 },
    });
    expect(decodeDicom(signed).pixels.every((p, i) => p === scan.data[i])).toBe(true);
    const junk = writeDicomImage({
      rows: scan.height,
      columns: scan.width,
      values: Array.from(scan.data, (v) => (16 * v) | 0xf000),
      bitsStored: 12,
      slope: 1 / 16,
      window: { center: 128, width: 256 },
    });
    expect(decodeDicom(junk).pixels.every((p, i) => p === scan.data[i])).toBe(true);
  });

  it('8-bit implicit VR and deflated explicit VR decode like explicit VR', () => {
    const values = Array.from(scan.data);
    const explicit = decodeDicom(writeDicomImage({ rows: scan.height, columns: scan.width, values, bitsAllocated: 8, window: { center: 128, width: 256 } }));
    expect(explicit.pixels.every((p, i) => p === scan.data[i])).toBe(true);
    for (const transferSyntax of ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1.99']) {
      const bytes = writeDicomImage({ rows: scan.height, columns: scan.width, values, bitsAllocated: 8, window: { center: 128, width: 256 }, transferSyntax });
      const img = decodeDicom(bytes);
      expect(img.header.transferSyntax).toBe(transferSyntax);
      expect(Buffer.from(img.pixels).equals(Buffer.from(explicit.pixels))).toBe(true);
    }
  });

  it('multi-frame: each frame is its own slice; decodeImage asks for a frame', async () => {
    const frames = await Promise.all(SCANS.map((s) => grey(s, 120)));
    const values = frames.flatMap((f) => Array.from(f.data, (v) => 4 * v));
    const bytes = writeDicomImage({ rows: 120, columns: 120, frames: 3, values, window: { center: 510.5, width: 1021 } });
    expect(readDicomHeader(bytes).frames).toBe(3);
    frames.forEach((f, k) => {
      expect(Buffer.from(decodeDicom(bytes, k).pixels).equals(Buffer.from(f.data))).toBe(true);
    });
    expect(() => decodeDicom(bytes, 3)).toThrow('frame 3 does not exist (the file has 3 frames, 0-based)');
    await expect(decodeImage(bytes, OPTS)).rejects.toThrow('multi-frame DICOM (3 frames): choose one frame');
    const second = await decodeImage(bytes, { ...OPTS, frame: 1 });
    expect(second.origWidth).toBe(120);
  });

  it('refuses compressed transfer syntaxes, pixel-less objects and truncated pixel data with the reason', async () => {
    const jpeg = await readFile(scanFile(SCANS[1]));
    const compressed = writeEncapsulatedDicom(256, 256, jpeg);
    expect(() => decodeDicom(compressed)).toThrow(DicomError);
    expect(() => decodeDicom(compressed)).toThrow(/^compressed DICOM transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\) is not supported/);
    const jp2 = writeEncapsulatedDicom(256, 256, jpeg, '1.2.840.10008.1.2.4.90');
    await expect(decodeImage(jp2, OPTS)).rejects.toThrow(BadImageError);
    await expect(decodeImage(jp2, OPTS)).rejects.toThrow(/transfer syntax 1\.2\.840\.10008\.1\.2\.4\.90 \(JPEG 2000 lossless\)/);
    const sr = writeStructuredReport();
    expect(() => decodeDicom(sr)).toThrow('DICOM object without pixel data (SOP class 1.2.840.10008.5.1.4.1.1.88.11, modality SR): not an image');
    const full = writeDicomImage({ rows: scan.height, columns: scan.width, values: Array.from(scan.data) });
    expect(() => decodeDicom(full.subarray(0, full.length - 1000))).toThrow(/truncated DICOM pixel data|unreadable DICOM/);
  });
});

describe('VOI windows (pure)', () => {
  it('LINEAR, LINEAR_EXACT and SIGMOID follow PS3.3 C.11.2.1.2', () => {
    expect(Array.from(applyWindow([0, 49.5, 50, 51, 100, 150, 150.5], { center: 100.5, width: 101, fn: 'LINEAR' }))).toEqual([0, 0, 0, 3, 128, 255, 255]);
    expect(Array.from(applyWindow([-10, 0, 50, 100, 110], { center: 50, width: 100, fn: 'LINEAR_EXACT' }))).toEqual([0, 0, 128, 255, 255]);
    expect(Array.from(applyWindow([50], { center: 50, width: 100, fn: 'SIGMOID' }))).toEqual([128]);
    expect(Array.from(applyWindow([0, 100], { center: 50, width: 100, fn: 'LINEAR_EXACT' }, true))).toEqual([255, 0]);
    expect(minMaxWindow([5, 5, 5])).toEqual({ center: 6, width: 1, fn: 'LINEAR_EXACT' });
    expect(Array.from(applyWindow([5, 5], minMaxWindow([5, 5])))).toEqual([0, 0]);
  });
});

describe('ingest of a folder with DICOM files', () => {
  let tmp: string;
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('lists a multi-frame file as one slice per frame and skips unusable DICOM with the reason', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'dicom-ingest-'));
    const root = path.join(tmp, 'data', 'Training');
    const put = async (rel: string, bytes: Uint8Array) => {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await writeFile(path.join(root, rel), bytes);
    };
    const asDicom = (g: Grey) =>
      writeDicomImage({ rows: g.height, columns: g.width, values: Array.from(g.data, (v) => 4 * v), window: { center: 510.5, width: 1021 } });
    const sartaj = [
      'Training/glioma_tumor/gg (1).jpg',
      'Training/meningioma_tumor/m (10).jpg',
      'Training/no_tumor/image (10).jpg',
      'Training/pituitary_tumor/p (1).jpg',
    ];
    const classes = ['glioma', 'meningioma', 'notumor', 'pituitary'];
    const DICOM_SCANS = [
      'Testing/glioma_tumor/image(10).jpg',
      'Testing/meningioma_tumor/image(1).jpg',
      'Testing/no_tumor/image(1).jpg',
      'Testing/pituitary_tumor/image(18).jpg',
    ];
    for (let i = 0; i < 4; i++) {
      await put(`${classes[i]}/scan.jpg`, await readFile(path.join(DATASETS, 'sartaj', sartaj[i])));
      await put(`${classes[i]}/IM0001`, asDicom(await grey(DICOM_SCANS[i])));
    }
    const frames = await Promise.all(
      ['Training/glioma_tumor/gg (100).jpg', 'Training/glioma_tumor/gg (101).jpg', 'Training/glioma_tumor/gg (102).jpg'].map((s) => grey(s, 128)),
    );
    await put(
      'glioma/volume.dcm',
      writeDicomImage({
        rows: 128,
        columns: 128,
        frames: 3,
        values: frames.flatMap((f) => Array.from(f.data, (v) => 4 * v)),
        window: { center: 510.5, width: 1021 },
      }),
    );
    await put('meningioma/compressed.dcm', writeEncapsulatedDicom(256, 256, await readFile(scanFile(SCANS[2]))));
    await put('meningioma/report.dcm', writeStructuredReport());
    const file = path.join(tmp, 'e.yaml');
    await writeFile(
      file,
      `name: dicom\nseed: 1\nruns: ./runs\ndata:\n  sources:\n    - { name: scanner, root: data }\n  image: { size: 64, channels: 1, fit: pad }\n  split: { mode: fractions, train: 0.5, val: 0.25, test: 0.25 }\n  min_per_class: 1\n`,
    );
    const res = await runIngest(loadExperiment(file, [dataSchemaPart]), { log: () => {} });
    const set = await openImageSet(res.dir);
    const paths = set.records.map((r) => (r as IngestRecord).path).sort();
    expect(paths.filter((p) => p.startsWith('Training/glioma/volume.dcm'))).toEqual([1, 2, 3].map((k) => `Training/glioma/volume.dcm#frame=${k}`));
    expect(paths.filter((p) => p.endsWith('IM0001'))).toHaveLength(4);
    // each frame holds its own scan: the decoded slice equals decodeImage of that frame
    const rec = set.records.findIndex((r) => (r as IngestRecord).path === 'Training/glioma/volume.dcm#frame=2');
    const bytes = await readFile(path.join(root, 'glioma/volume.dcm'));
    const expected = await decodeImage(bytes, { size: 64, channels: 1, fit: 'pad', maxPixels: 50_000_000, frame: 1 });
    expect(Buffer.from(set.get(rec)).equals(Buffer.from(expected.pixels))).toBe(true);
    const report = await readIngestReport(res.dir);
    expect(report.skipped.map((s) => [s.path, s.reason])).toEqual([
      [
        'Training/meningioma/compressed.dcm',
        expect.stringMatching(/^compressed DICOM transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\) is not supported/),
      ],
      ['Training/meningioma/report.dcm', 'DICOM object without pixel data (SOP class 1.2.840.10008.5.1.4.1.1.88.11, modality SR): not an image'],
    ]);
  });
});
