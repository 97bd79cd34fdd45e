/**
 * Provenance on every prediction: a trial writes metadata.json `summary` (data sources with the
 * synthetic flag, clean and mean-noisy test accuracy with CIs), `model:predict` prints it and warns
 * on stderr for a phantom-trained model; DICOM files predict like the same pixels as PNG, and
 * unsupported DICOM is refused with the reason. Real pipeline runs (phantoms; real scans from
 * ../shared), real child processes.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { writeDicomImage, writeEncapsulatedDicom, writeStructuredReport } from '../../data/test/dicom-writer.ts';
import { selectBackend } from '../src/backend/select.ts';
import { loadPredictor, predictWith } from '../src/predict.ts';
import { formatAccuracy, meanNoisyAccuracy, provenanceLines, provenanceOf, SYNTHETIC_WARNING, type MetadataWithProvenance } from '../src/provenance.ts';
import { readModelMetadata } from '../src/save.ts';
import { trainTinyTrial } from '../src/testing/tiny-trial.ts';
import type { TrialResult } from '../src/trial.ts';

const shared = sharedDir();
const scan = (cls: string, name: string) => path.join(shared, 'datasets', 'sartaj', 'Testing', cls, name);
const cli = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'packages/model/src/cli.ts', 'predict', ...args], { cwd: workspaceRoot() }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('provenance numbers (pure)', () => {
  it('mean noisy accuracy: per image the mean over the sets holding it, then the mean over images; bootstrap over images', () => {
    // Image a: right in both sets (1), b: right in one (0.5), c: wrong in both (0), d: only in set 2, right (1).
    const r = meanNoisyAccuracy(
      [
        { ids: ['a', 'b', 'c'], correct: [1, 1, 0] },
        { ids: ['c', 'b', 'a', 'd'], correct: [0, 0, 1, 1] },
      ],
      500,
      3,
    )!;
    expect(r.accuracy).toBeCloseTo((1 + 0.5 + 0 + 1) / 4, 12);
    expect([r.n, r.sets]).toEqual([4, 2]);
    expect(r.ciLow).toBeLessThanOrEqual(r.accuracy);
    expect(r.ciHigh).toBeGreaterThanOrEqual(r.accuracy);
    expect(r.ciLow).toBeGreaterThanOrEqual(0);
    expect(r.ciHigh).toBeLessThanOrEqual(1);
    // Seeded: the same interval again.
    expect(meanNoisyAccuracy([{ ids: ['a', 'b', 'c'], correct: [1, 1, 0] }], 500, 3)).toEqual(
      meanNoisyAccuracy([{ ids: ['a', 'b', 'c'], correct: [1, 1, 0] }], 500, 3),
    );
    expect(meanNoisyAccuracy([], 500, 3)).toBeNull();
    expect(() => meanNoisyAccuracy([{ ids: ['a'], correct: [1, 0] }], 10, 1)).toThrow(/1 ids for 2 results/);
    expect(formatAccuracy({ accuracy: 0.8333, ciLow: 0.71, ciHigh: 0.921, n: 394 })).toBe('83.3 % (95 % CI 71.0–92.1 %, n = 394)');
  });
});

describe('model folders carry their provenance; model:predict shows it', () => {
  let root: string;
  let phantom: TrialResult;
  let real: TrialResult;

  beforeAll(async () => {
    await selectBackend('auto');
    root = mkdtempSync(path.join(tmpdir(), 'provenance-'));
    phantom = await trainTinyTrial({ dir: path.join(root, 'phantom'), kind: 'phantom', sharedDir: shared });
    real = await trainTinyTrial({ dir: path.join(root, 'real'), kind: 'real', sharedDir: shared });
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('metadata.json summary: sources with the synthetic flag, clean accuracy = the trial evaluation, mean noisy = mean of the noisy sets', async () => {
    for (const [r, synthetic] of [
      [phantom, true],
      [real, false],
    ] as const) {
      const meta = (await readModelMetadata(r.modelDir)) as MetadataWithProvenance;
      const s = meta.summary!;
      expect(s.data.synthetic).toBe(synthetic);
      expect(s.data.sources).toEqual(
        synthetic
          ? [{ name: 'phantom', kind: 'phantom', root: null, synthetic: true }]
          : [{ name: 'sartaj', kind: 'kaggle', root: path.join(root, 'real', 'scans'), synthetic: false }],
      );
      const clean = r.evaluations.find((e) => e.testSet === 'test')!;
      expect(s.test.clean).toEqual({ accuracy: clean.accuracy, ciLow: clean.ciLow, ciHigh: clean.ciHigh, n: clean.n });
      const noisy = r.evaluations.filter((e) => e.testSet !== 'test');
      expect(noisy.map((e) => e.testSet).sort()).toEqual(['test-gaussian-s3', 'test-rician-snr5']);
      // Every noisy set holds the same test images, so the per-image mean equals the mean of the set accuracies.
      expect(s.test.meanNoisy!.accuracy).toBeCloseTo(noisy.reduce((a, e) => a + e.accuracy, 0) / noisy.length, 12);
      expect([s.test.meanNoisy!.n, s.test.meanNoisy!.sets]).toEqual([clean.n, 2]);
      expect(s.test.meanNoisy!.ciLow).toBeLessThanOrEqual(s.test.meanNoisy!.accuracy);
      expect(s.test.meanNoisy!.ciHigh).toBeGreaterThanOrEqual(s.test.meanNoisy!.accuracy);
      const p = provenanceOf(meta);
      expect([p.experiment, p.sweep, p.trial, p.synthetic]).toEqual([
        synthetic ? 'tiny-phantom' : 'tiny-real',
        synthetic ? 'tiny-phantom-sweep' : 'tiny-real-sweep',
        't0001',
        synthetic,
      ]);
    }
  });

  it('summary is descriptive, outside the model hash: an edited summary still loads, edited classes do not', async () => {
    const copy = path.join(root, 'copy');
    cpSync(real.modelDir, copy, { recursive: true });
    const file = path.join(copy, 'metadata.json');
    const meta = JSON.parse(readFileSync(file, 'utf8'));
    meta.summary.test.clean.accuracy = 0.99;
    writeFileSync(file, JSON.stringify(meta));
    const p = await loadPredictor(copy);
    expect(provenanceOf(p.metadata).clean!.accuracy).toBe(0.99);
    await p.dispose();
    meta.classes = [...meta.classes].reverse();
    writeFileSync(file, JSON.stringify(meta));
    await expect(loadPredictor(copy)).rejects.toThrow(/do not match this metadata/);
  });

  it('model:predict prints experiment, sweep/trial, data and accuracies; a phantom model gets a warning line on stderr', async () => {
    const image = scan('pituitary_tumor', 'image(1).jpg');
    const ph = await cli([`--model=${phantom.modelDir}`, `--image=${image}`]);
    expect(ph.code).toBe(0);
    const warnings = ph.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([`warning: ${phantom.modelDir}: ${SYNTHETIC_WARNING}`]);
    expect(ph.stdout).toContain('experiment: tiny-phantom');
    expect(ph.stdout).toContain('sweep: tiny-phantom-sweep   trial: t0001');
    expect(ph.stdout).toContain('data: phantom (synthetic phantoms)');
    expect(ph.stdout).toContain(`WARNING: ${SYNTHETIC_WARNING}`);

    const re = await cli([`--model=${real.modelDir}`, `--image=${image}`, '--json']);
    expect(re.code).toBe(0);
    expect(re.stderr).not.toMatch(/warning:/);
    const out = JSON.parse(re.stdout);
    const meta = (await readModelMetadata(real.modelDir)) as MetadataWithProvenance;
    expect(out.provenance).toEqual(provenanceOf(meta));
    expect(out.provenance.synthetic).toBe(false);
    // The text form carries the same lines.
    const text = await cli([`--model=${real.modelDir}`, `--image=${image}`]);
    for (const line of provenanceLines(provenanceOf(meta))) expect(text.stdout).toContain(line);
    expect(text.stdout).toMatch(/test accuracy, clean: \d+\.\d % \(95 % CI \d+\.\d–\d+\.\d %, n = \d+\)/);
    expect(text.stdout).toMatch(/test accuracy, mean of noisy sets: \d+\.\d % \(95 % CI .*\), 2 sets/);
  });

  it('DICOM: --image=x.dcm (16-bit, rescale, window) predicts as the PNG of the same pixels; multi-frame needs --frame; unsupported DICOM is refused with the reason', async () => {
    const grey = async (f: string, size?: { width: number; height: number }) =>
      (size ? sharp(f).resize(size.width, size.height, { fit: 'fill' }) : sharp(f)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    const a = await grey(scan('glioma_tumor', 'image(3).jpg'));
    // The second frame: another real scan at the first one's size (frames of one file share it).
    const b = await grey(scan('meningioma_tumor', 'image(3).jpg'), { width: a.info.width, height: a.info.height });
    const write16 = (frames: Buffer[], w: number, h: number) =>
      // Stored v = 4x + 100, rescale slope 0.25 intercept −25 → x; window centre 128 width 256 (LINEAR) → x exactly.
      writeDicomImage({
        rows: h,
        columns: w,
        frames: frames.length,
        values: Uint16Array.from(Buffer.concat(frames), (x) => 4 * x + 100),
        bitsAllocated: 16,
        slope: 0.25,
        intercept: -25,
        window: { center: 128, width: 256 },
      });
    const dcm = path.join(root, 'scan.dcm');
    writeFileSync(dcm, write16([a.data], a.info.width, a.info.height));
    const png = path.join(root, 'scan.png');
    await sharp(a.data, { raw: { width: a.info.width, height: a.info.height, channels: 1 } })
      .png()
      .toFile(png);

    const viaCli = await cli([`--model=${real.modelDir}`, `--image=${dcm}`, '--json', `--gradcam=${path.join(root, 'dcm-cam.png')}`]);
    expect(viaCli.code).toBe(0);
    const fromDicom = JSON.parse(viaCli.stdout);
    const p = await loadPredictor(real.modelDir);
    try {
      const fromPng = await predictWith(p, png);
      expect(fromDicom.class).toBe(fromPng.class);
      for (const [c, v] of Object.entries(fromPng.probabilities)) expect(fromDicom.probabilities[c]).toBeCloseTo(v, 5);
      // The overlay is at the scan's aspect ratio.
      const ov = await sharp(path.join(root, 'dcm-cam.png')).metadata();
      expect(Math.abs(ov.width! / ov.height! - a.info.width / a.info.height)).toBeLessThan(0.03);

      // Two frames: refused without --frame, frame 1 = the second scan.
      const multi = path.join(root, 'two.dcm');
      writeFileSync(multi, write16([a.data, b.data], a.info.width, a.info.height));
      await expect(predictWith(p, multi)).rejects.toThrow(/two\.dcm: cannot be used as an image: multi-frame DICOM \(2 frames\)/);
      const pngB = path.join(root, 'b.png');
      await sharp(b.data, { raw: { width: b.info.width, height: b.info.height, channels: 1 } })
        .png()
        .toFile(pngB);
      const f1 = await predictWith(p, multi, { frame: 1 });
      const ref = await predictWith(p, pngB);
      for (const [c, v] of Object.entries(ref.probabilities)) expect(f1.probabilities[c]).toBeCloseTo(v, 5);
      const sr = path.join(root, 'report.dcm');
      writeFileSync(sr, writeStructuredReport());
      await expect(predictWith(p, sr)).rejects.toThrow(/report\.dcm: cannot be used as an image: DICOM object without pixel data .*not an image/);
    } finally {
      await p.dispose();
    }
    // A JPEG-compressed DICOM through the CLI: exit 1, one line naming the file and the syntax.
    const jpeg = path.join(root, 'compressed.dcm');
    writeFileSync(jpeg, writeEncapsulatedDicom(a.info.height, a.info.width, readFileSync(scan('glioma_tumor', 'image(3).jpg'))));
    const bad = await cli([`--model=${real.modelDir}`, `--image=${jpeg}`]);
    expect(bad.code).toBe(1);
    const errLines = bad.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/compressed\.dcm: .*1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\) is not supported/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const badFrame = await cli([`--model=${real.modelDir}`, `--image=${dcm}`, '--frame=-1']);
    expect([badFrame.code, badFrame.stderr]).toEqual([1, expect.stringMatching(/--frame must be a frame index ≥ 0/)]);
  });
});
