/**
 * Runs a REAL small sweep (tuning's orchestrator: synthetic phantoms → noise → augment → embed with
 * MobileNetV2-0.35 from ../shared at 64 px → 4 trials in worker processes → DuckDB) in a temp dir,
 * builds its report through the CLI (a child process), opens it in headless Debian Chromium from
 * file:// and checks what a reader would see: every chart drawn, no console error, no network
 * request, one table row per trial in DuckDB, contact sheets inlined, sorting, the selectors.
 * Writes a full-page screenshot to runs/report-screenshot.png. A second, synthetic sweep in the
 * same database carries hostile text (</script>, markup, U+2028) that must stay text.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sharedDir, workspaceRoot } from '@mri-robust/core';
import { chromiumLaunchOptions } from '@mri-robust/core/testing';
import { listTrials, openTracking } from '@mri-robust/tracking';
import { runSweep } from '../src/sweep.ts';
import { buildReport } from '@mri-robust/report';
import { writeSyntheticSweep } from '../../report/test/synthetic.ts';

const run = promisify(execFile);
const root = workspaceRoot();
const WEIGHTS = path.join(sharedDir(), 'weights', 'mobilenet_v2_0.35_224');

function experimentYaml(): string {
  return `name: report-test
seed: 5
runs: ./runs
data:
  sources:
    - { name: phantom, kind: phantom, count_per_class: 20, size: 64 }
  classes: [glioma, meningioma, notumor, pituitary]
  image: { size: 64, channels: 1, fit: pad }
  split: { mode: fractions, train: 0.6, val: 0.2, test: 0.2 }
  min_per_class: 3
noise:
  train:
    splits: [train]
    fraction: 0.5
    mode: copies
    kinds:
      - { kind: gaussian, probability: 1, severity: [1, 3] }
  eval:
    splits: [val, test]
    kinds:
      - { kind: rician, snr: [10, 3] }
      - { kind: gaussian, severities: [2, 4] }
augment: { copies: 1 }
model: { backbone: mobilenet_v2, weights: ${JSON.stringify(WEIGHTS)}, input_size: 64, mode: head, backend: wasm }
train: { epochs: 4, early_stopping: { patience: 100 } }
evaluate: { bootstrap_samples: 50 }
sweep:
  strategy: grid
  space: { learning_rate: [0.01, 0.001], dropout: [0.0, 0.3], batch_size: [16] }
  objective: mean_clean_noisy_val_accuracy
  max_parallel: 2
report:
  best_trials: 2
`;
}

let tmp: string;
let runsDir: string;
let browser: Browser;
let sweepId: string;
let trialsInDb: number;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
  runsDir = path.join(tmp, 'runs');
  const experimentFile = path.join(tmp, 'report-test.yaml');
  fs.writeFileSync(experimentFile, experimentYaml());
  const log: string[] = [];
  const r = await runSweep({ experimentFile, log: (l) => log.push(l), out: () => undefined });
  expect(r.finished, log.join('\n')).toBeGreaterThan(0);
  sweepId = r.sweepId;
  // an older synthetic sweep in the same database, with hostile text in its rows
  await writeSyntheticSweep({ runsDir, sweepId: 'synthetic-hostile', trials: 6, createdAt: new Date('2025-01-01T00:00:00Z') });
  const t = await openTracking(path.join(runsDir, 'tracking.duckdb'), { readOnly: true });
  trialsInDb = (await listTrials(t, sweepId)).length;
  await t.close();
  browser = await chromium.launch(chromiumLaunchOptions()); // throws (the suite fails) when there is no browser
});

afterAll(async () => {
  await browser?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  consoleErrors: string[];
  requests: string[];
}

async function open(file: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!/^(file|data):/.test(r.url())) requests.push(r.url());
  });
  await page.goto(pathToFileURL(file).href);
  return { page, consoleErrors, requests };
}

describe('report in headless Chromium', () => {
  it('builds from the CLI (latest sweep) and renders every chart offline', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'packages/report/src/cli.ts', 'build', `--runs=${runsDir}`], { cwd: root });
    // 7 charts: the noisy test sets have kinds and severities, so each trial also gets its corruption heat map,
    // and the CE baseline is named.
    expect(stdout).toContain(`${sweepId}: ${trialsInDb} trials, 7 charts, CE relative to `);
    const file = path.join(runsDir, 'reports', sweepId, 'index.html');
    const { page, consoleErrors, requests } = await open(file);
    await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });

    const charts = await page.evaluate(() =>
      Array.from(document.querySelectorAll('[data-chart]')).map((el) => ({
        id: el.id,
        rendered: el.getAttribute('data-rendered'),
        marks: el.querySelectorAll('svg .role-mark > *').length,
      })),
    );
    expect(charts.map((c) => c.id)).toEqual([
      'chart-clean-vs-noisy',
      'chart-robustness',
      'chart-heatmap',
      'chart-learning-curves',
      'chart-hyperparams',
      'chart-parallel',
      'chart-confusion',
    ]);
    for (const c of charts) {
      expect(c.rendered, c.id).toBe('ok');
      expect(c.marks, c.id).toBeGreaterThan(5);
    }
    // the table shows every trial in the database
    expect(await page.locator('#trials-table tbody tr').count()).toBe(trialsInDb);
    // the noise and augment contact sheets, inlined
    expect(await page.locator('#examples img').count()).toBe(2);
    expect(await page.locator('#examples img[src^="data:image/jpeg;base64,"]').count()).toBe(2);
    // the best trial's Grad-CAM gallery (written by the sweep), one overlay per scan per test set
    const gallery = JSON.parse(fs.readFileSync(path.join(runsDir, 'trials', sweepId, 'gradcam', 'gallery.json'), 'utf8')) as { items: unknown[] };
    expect(gallery.items.length).toBeGreaterThan(0);
    expect(await page.locator('#gradcam img[src^="data:image/jpeg;base64,"]').count()).toBe(gallery.items.length);
    // and the pointer files serve:start reads
    expect(JSON.parse(fs.readFileSync(path.join(runsDir, 'trials', 'latest.json'), 'utf8'))).toEqual({ sweep: sweepId });
    const bestPointer = JSON.parse(fs.readFileSync(path.join(runsDir, 'trials', sweepId, 'best.json'), 'utf8')) as { trial: string; modelDir: string };
    // modelDir is relative to best.json's folder (a moved runs folder still serves)
    expect(path.isAbsolute(bestPointer.modelDir)).toBe(false);
    expect(fs.existsSync(path.join(runsDir, 'trials', sweepId, bestPointer.modelDir, 'metadata.json'))).toBe(true);
    // the data the numbers rest on: split counts and the backend
    const dataText = await page.locator('#data').textContent();
    expect(dataText).toContain('Images per split and class');
    expect(dataText).toMatch(/backendwasm/);
    expect(dataText).toMatch(/Synthetic data:/);

    // the screenshot shows the page as it opens
    fs.mkdirSync(path.join(root, 'runs'), { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(root, 'runs', 'report-screenshot.png'), fullPage: true });

    // sorting by clicking a header (clean accuracy, column 10)
    const col = await page.locator('#trials-table thead th').allTextContents();
    const idx = col.findIndex((c) => c.trim().startsWith('clean acc.'));
    expect(idx).toBeGreaterThan(0);
    const header = page.locator('#trials-table thead th').nth(idx);
    const columnValues = () =>
      page.evaluate(
        (i) => Array.from(document.querySelectorAll('#trials-table tbody tr')).map((r) => (r as HTMLTableRowElement).cells[i].getAttribute('data-sort') ?? ''),
        idx,
      );
    await header.click();
    const asc = (await columnValues()).filter((v) => v !== '').map(Number);
    expect(asc.length).toBeGreaterThan(2);
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    await header.click();
    const desc = (await columnValues()).filter((v) => v !== '').map(Number);
    expect(desc).toEqual([...asc].sort((a, b) => b - a));

    // the learning-curve selector redraws for another trial
    const lcPath = () => page.evaluate(() => document.querySelector('#chart-learning-curves svg .role-mark.lc_sel_loss_marks path')?.getAttribute('d') ?? '');
    const before = await lcPath();
    const select = page.locator('#chart-learning-curves select');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options.length).toBe(trialsInDb);
    await select.selectOption(options[options.length - 1]);
    await page.waitForFunction((b) => document.querySelector('#chart-learning-curves svg .role-mark.lc_sel_loss_marks path')?.getAttribute('d') !== b, before);

    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('keeps hostile text from the database as text', async () => {
    await buildReport({ runsDir, sweepId: 'synthetic-hostile' });
    const { page, consoleErrors, requests } = await open(path.join(runsDir, 'reports', 'synthetic-hostile', 'index.html'));
    await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('#examples img').count()).toBe(2);
    expect(await page.locator('#trials-table').textContent()).toContain('</script><img src=x');
    expect(await page.locator('[data-rendered=ok]').count()).toBe(7);
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('lists every sweep with its best result on the index page', async () => {
    const { page, consoleErrors, requests } = await open(path.join(runsDir, 'reports', 'index.html'));
    const rows = page.locator('#sweeps-table tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain(sweepId);
    const links = await page.locator('#sweeps-table a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).getAttribute('href')));
    expect(links).toEqual([`${sweepId}/index.html`, 'synthetic-hostile/index.html']);
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('names the sweep a user asked for when it does not exist', async () => {
    await expect(buildReport({ runsDir, sweepId: 'nope' })).rejects.toThrow(/--sweep nope: no such sweep.*synthetic-hostile/);
  });
});
