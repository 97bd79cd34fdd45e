/**
 * The predict page in headless Chromium (Debian `chromium` + playwright-core): upload a real scan
 * through the file input, see the class, the calibrated probability bars and the Grad-CAM overlay;
 * drop a file; a bad file shows the server's message. Screenshot: runs/serve-screenshot.png.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { chromiumLaunchOptions } from '@mri-robust/core/testing';
import { selectBackend } from '@mri-robust/model';
import { loadPredictHandler, type ModelHandler } from '../src/predictor.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { trainTinyModel } from '@mri-robust/model';

const shared = sharedDir();
const scanFile = (cls: string, name = 'image(1).jpg') => path.join(shared, 'datasets', 'sartaj', 'Testing', cls, name);

describe('predict page in headless Chromium', () => {
  let dir: string;
  let handler: ModelHandler;
  let srv: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    await selectBackend('auto');
    dir = mkdtempSync(path.join(tmpdir(), 'serve-browser-'));
    await trainTinyModel({ outDir: path.join(dir, 'model'), sharedDir: shared, backbone: 'mobilenet_v2', perClass: 8 });
    handler = await loadPredictHandler(path.join(dir, 'model'));
    srv = await startServer(handler, { port: 0 });
    browser = await chromium.launch(chromiumLaunchOptions()); // throws (the suite fails) when there is no browser
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    handler?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads a scan and shows the class, the probability bars and the Grad-CAM overlay', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(srv.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) outside.push(r.url());
    });
    await page.goto(srv.url);
    expect(await page.locator('#results').isHidden()).toBe(true);

    await page.setInputFiles('#file', scanFile('pituitary_tumor'));
    await page.waitForSelector('body[data-state="done"]', { timeout: 30_000 });
    const cls = (await page.textContent('#pred-class'))?.trim();
    expect(handler.classes).toContain(cls);
    const bars = await page.$$eval('#probs g[data-class]', (gs) =>
      gs.map((g) => ({
        cls: g.getAttribute('data-class'),
        p: Number(g.getAttribute('data-probability')),
        w: Number(g.querySelector('rect.bar')?.getAttribute('width')),
      })),
    );
    expect(bars.map((b) => b.cls)).toEqual(handler.classes);
    expect(bars.reduce((a, b) => a + b.p, 0)).toBeCloseTo(1, 4);
    const top = bars.reduce((a, b) => (b.p > a.p ? b : a));
    expect(top.cls).toBe(cls);
    // Bar lengths follow the probabilities.
    const full = Number(await page.getAttribute('#probs', 'data-bar-width'));
    expect(full).toBeGreaterThan(0);
    for (const b of bars) expect(b.w).toBeCloseTo(b.p * full, 1);
    expect(await page.textContent('#pred-conf')).toMatch(/calibrated probability \d+\.\d %/);
    const overlay = await page.$eval('#overlay', (img) => ({
      src: (img as HTMLImageElement).src.slice(0, 22),
      w: (img as HTMLImageElement).naturalWidth,
      h: (img as HTMLImageElement).naturalHeight,
      complete: (img as HTMLImageElement).complete,
    }));
    // At the upload's aspect ratio (padding removed), longer side 224.
    expect(overlay).toMatchObject({ src: 'data:image/png;base64,', complete: true });
    expect(Math.max(overlay.w, overlay.h)).toBe(224);

    const shot = path.join(workspaceRoot(), 'runs', 'serve-screenshot.png');
    mkdirSync(path.dirname(shot), { recursive: true });
    writeFileSync(shot, await page.screenshot({ fullPage: true }));
    expect(problems).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  });

  it('accepts a dropped file, and shows the server message for a bad one', async () => {
    const page = await browser.newPage();
    await page.goto(srv.url);
    const b64 = readFileSync(scanFile('glioma_tumor')).toString('base64');
    const dt = await page.evaluateHandle((data) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const t = new DataTransfer();
      t.items.add(new File([bytes], 'dropped scan.jpg', { type: 'image/jpeg' }));
      return t;
    }, b64);
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
    await page.waitForSelector('body[data-state="done"]', { timeout: 30_000 });
    expect(handler.classes).toContain((await page.textContent('#pred-class'))?.trim());

    await page.setInputFiles('#file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('this is not a picture') });
    await page.waitForSelector('body[data-state="error"]', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/not a JPEG or PNG image/);
    await page.close();
  });
});
