/**
 * Provenance on the predict page: a model trained on synthetic phantoms gets a red banner; every
 * page names the experiment, sweep and trial, data sources and the clean / mean-noisy test accuracy
 * with CIs (from metadata.json, no DuckDB). DICOM uploads (uncompressed) predict; compressed and
 * pixel-less DICOM objects are refused with the reason. In headless Chromium: the page with a model
 * trained on real scans and with a phantom model, screenshots in runs/serve-screens/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { chromiumLaunchOptions } from '@mri-robust/core/testing';
import { formatAccuracy, selectBackend, SYNTHETIC_WARNING, trainTinyTrial } from '@mri-robust/model';
import { writeDicomImage, writeEncapsulatedDicom, writeStructuredReport } from '../../data/test/dicom-writer.ts';
import { loadPredictHandler, type ModelHandler } from '../src/predictor.ts';
import { startServer, type RunningServer } from '../src/server.ts';

const shared = sharedDir();
const scanFile = (cls: string, name = 'image(1).jpg') => path.join(shared, 'datasets', 'sartaj', 'Testing', cls, name);

async function post(url: string, bytes: Uint8Array, name: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)]), name);
  const res = await fetch(new URL('predict', url), { method: 'POST', body: form });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A real scan as an uncompressed 16-bit DICOM (rescale slope/intercept, window = identity on 0..255). */
async function dicomOf(file: string): Promise<{ bytes: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  const bytes = writeDicomImage({
    rows: info.height,
    columns: info.width,
    values: Uint16Array.from(data, (x) => 4 * x + 100),
    slope: 0.25,
    intercept: -25,
    window: { center: 128, width: 256 },
  });
  return { bytes, width: info.width, height: info.height };
}

describe('predict page: provenance, synthetic banner, DICOM', () => {
  let root: string;
  const handlers: Record<'phantom' | 'real', ModelHandler> = {} as never;
  const servers: Record<'phantom' | 'real', RunningServer> = {} as never;
  let browser: Browser;

  beforeAll(async () => {
    await selectBackend('auto');
    root = mkdtempSync(path.join(tmpdir(), 'serve-provenance-'));
    for (const kind of ['phantom', 'real'] as const) {
      const r = await trainTinyTrial({ dir: path.join(root, kind), kind, sharedDir: shared });
      // Layer-CAM (not the default Grad-CAM): its block_12_add grid is checked below.
      handlers[kind] = await loadPredictHandler(r.modelDir, { method: 'layer-cam' });
      servers[kind] = await startServer(handlers[kind], { port: 0 });
    }
    browser = await chromium.launch(chromiumLaunchOptions()); // throws (the suite fails) when there is no browser
  });
  afterAll(async () => {
    await browser?.close();
    for (const k of ['phantom', 'real'] as const) {
      await servers[k]?.close();
      handlers[k]?.dispose();
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the page names experiment, sweep/trial, data and test accuracies; only the phantom model has the red banner', async () => {
    for (const kind of ['phantom', 'real'] as const) {
      const html = await (await fetch(servers[kind].url)).text();
      const p = handlers[kind].provenance;
      expect(html).toContain(`<th>Experiment</th><td>tiny-${kind}</td>`);
      expect(html).toContain(`<th>Sweep / trial</th><td>tiny-${kind}-sweep / t0001</td>`);
      expect(html).toContain(`<th>Clean test accuracy</th><td>${formatAccuracy(p.clean)}</td>`);
      expect(html).toContain(`<th>Mean noisy test accuracy</th><td>${formatAccuracy(p.meanNoisy)}, mean of 2 noisy test sets</td>`);
      if (kind === 'phantom') {
        expect(html).toContain('<div id="synthetic-banner" role="alert">');
        expect(html).toContain(SYNTHETIC_WARNING);
        expect(html).toContain('<td>phantom (synthetic phantoms)</td>');
      } else {
        expect(html).not.toContain('id="synthetic-banner"');
        expect(html).toContain(`<td>sartaj (kaggle, ${path.join(root, 'real', 'scans')})</td>`);
      }
    }
  });

  it('a DICOM upload predicts like the same pixels as PNG; compressed and pixel-less DICOM are refused with the reason', async () => {
    const url = servers.real.url;
    const d = await dicomOf(scanFile('glioma_tumor', 'image(4).jpg'));
    const dcm = await post(url, d.bytes, 'slice.dcm');
    expect(dcm.status).toBe(200);
    const { data, info } = await sharp(scanFile('glioma_tumor', 'image(4).jpg')).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    const png = await post(
      url,
      await sharp(data, { raw: { width: info.width, height: info.height, channels: 1 } })
        .png()
        .toBuffer(),
      'slice.png',
    );
    expect(png.status).toBe(200);
    expect(dcm.body.class).toBe(png.body.class);
    for (const [c, v] of Object.entries(png.body.probabilities as Record<string, number>))
      expect((dcm.body.probabilities as Record<string, number>)[c]).toBeCloseTo(v, 5);
    expect(dcm.body.image).toEqual({ format: 'dicom', width: d.width, height: d.height });
    expect(dcm.body.model).toEqual({ experiment: 'tiny-real', sweep: 'tiny-real-sweep', trial: 't0001', synthetic: false });
    // The map: Layer-CAM at block_12_add, 6×6 at 96 px; the overlay and the decoded scan at the upload's aspect ratio.
    expect([dcm.body.gradcamMethod, dcm.body.gradcamLayer, dcm.body.gradcamGrid]).toEqual(['layer-cam', 'block_12_add', [6, 6]]);
    for (const key of ['gradcam', 'scan']) {
      const m = await sharp(Buffer.from(String(dcm.body[key]).replace(/^data:image\/png;base64,/, ''), 'base64')).metadata();
      expect(Math.abs(m.width! / m.height! - d.width / d.height)).toBeLessThan(0.03);
    }
    const compressed = await post(url, writeEncapsulatedDicom(info.height, info.width, readFileSync(scanFile('glioma_tumor', 'image(4).jpg'))), 'c.dcm');
    expect(compressed.status).toBe(400);
    expect(compressed.body.error).toMatch(
      /unusable DICOM image: compressed DICOM transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\) is not supported/,
    );
    const sr = await post(url, writeStructuredReport(), 'sr.dcm');
    expect(sr.status).toBe(400);
    expect(sr.body.error).toMatch(/DICOM object without pixel data .*not an image/);
    // Still answering.
    expect((await post(url, d.bytes, 'again.dcm')).status).toBe(200);
  });

  it('in Chromium: banner, provenance and the overlay at the scan aspect ratio; screenshots of both models', async () => {
    const dir = path.join(workspaceRoot(), 'runs', 'serve-screens');
    mkdirSync(dir, { recursive: true });
    const upload = scanFile('meningioma_tumor', 'image(1).jpg'); // 256×162: wide
    const src = await sharp(upload).metadata();
    for (const kind of ['real', 'phantom'] as const) {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
      await page.goto(servers[kind].url);
      const banner = page.locator('#synthetic-banner');
      if (kind === 'phantom') {
        expect(await banner.isVisible()).toBe(true);
        expect(await banner.textContent()).toContain(SYNTHETIC_WARNING);
        expect(await banner.evaluate((e) => getComputedStyle(e).backgroundColor)).toBe('rgb(198, 40, 40)');
      } else expect(await banner.count()).toBe(0);
      expect(await page.locator('#provenance').isVisible()).toBe(true);
      await page.setInputFiles('#file', upload);
      await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
      const img = await page.$eval('#overlay', (i) => ({
        w: (i as HTMLImageElement).naturalWidth,
        h: (i as HTMLImageElement).naturalHeight,
        cw: i.clientWidth,
        ch: i.clientHeight,
      }));
      expect(Math.abs(img.w / img.h - src.width! / src.height!)).toBeLessThan(0.03);
      expect(Math.abs(img.cw / img.ch - src.width! / src.height!)).toBeLessThan(0.05);
      expect(await page.textContent('#cam-note')).toMatch(/layer-cam at block_12_add \(6×6 grid\)/);
      writeFileSync(path.join(dir, `predict-${kind}.png`), await page.screenshot({ fullPage: true }));
      // A DICOM through the file input (no preview in the browser: the server's decoded scan is shown).
      await page.setInputFiles('#file', {
        name: 'slice.dcm',
        mimeType: 'application/dicom',
        buffer: (await dicomOf(scanFile('pituitary_tumor', 'image(2).jpg'))).bytes,
      });
      await page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '').startsWith('Done'), undefined, { timeout: 60_000 });
      expect(
        await page.$eval('#original', (i) => (i as HTMLImageElement).src.startsWith('data:image/png;base64,') && (i as HTMLImageElement).naturalWidth > 0),
      ).toBe(true);
      if (kind === 'real') writeFileSync(path.join(dir, 'predict-real-dicom.png'), await page.screenshot({ fullPage: true }));
      expect(problems).toEqual([]);
      await page.close();
    }
  });
});
