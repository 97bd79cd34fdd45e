/**
 * Builds a report through the CLI (a real child process) from a tracking database in a temp dir,
 * opens it in headless Debian Chromium from file:// and checks what a reader would see: every chart
 * drawn, no console error, no network request, one table row per trial, sorting, the selectors.
 * Writes a full-page screenshot to runs/report-screenshot.png.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { workspaceRoot } from '@mri-robust/core';
import { listTrials, openTracking } from '@mri-robust/tuning';
import { writeSyntheticSweep } from './synthetic.ts';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const root = workspaceRoot();
let tmp: string;
let runsDir: string;
let browser: Browser;
let trialsInDb: number;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
  runsDir = path.join(tmp, 'runs');
  await writeSyntheticSweep({ runsDir, sweepId: 'older-sweep', trials: 4, createdAt: new Date('2025-01-01T00:00:00Z') });
  await writeSyntheticSweep({ runsDir, sweepId: 'small-sweep', trials: 14, createdAt: new Date('2025-01-02T00:00:00Z') });
  const t = await openTracking(path.join(runsDir, 'tracking.duckdb'), { readOnly: true });
  trialsInDb = (await listTrials(t, 'small-sweep')).length;
  await t.close();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
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
    expect(stdout).toMatch(/small-sweep: 14 trials, 6 charts/);
    const file = path.join(runsDir, 'reports', 'small-sweep', 'index.html');
    const { page, consoleErrors, requests } = await open(file);
    await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });

    const charts = await page.evaluate(() =>
      Array.from(document.querySelectorAll('[data-chart]')).map((el) => ({
        id: el.id,
        rendered: el.getAttribute('data-rendered'),
        marks: el.querySelectorAll('svg .role-mark > *').length,
      })),
    );
    expect(charts.map((c) => c.id)).toEqual(['chart-clean-vs-noisy', 'chart-robustness', 'chart-learning-curves', 'chart-hyperparams', 'chart-parallel', 'chart-confusion']);
    for (const c of charts) {
      expect(c.rendered, c.id).toBe('ok');
      expect(c.marks, c.id).toBeGreaterThan(5);
    }
    // the table shows every trial in the database
    expect(await page.locator('#trials-table tbody tr').count()).toBe(trialsInDb);
    // hostile text from the database is shown as text, never run or parsed as markup
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(2);
    expect(await page.locator('img[src^="data:image/png;base64,"]').count()).toBe(2);
    expect(await page.locator('#trials-table').textContent()).toContain('</script><img src=x');

    // the screenshot shows the page as it opens
    fs.mkdirSync(path.join(root, 'runs'), { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(root, 'runs', 'report-screenshot.png'), fullPage: true });

    // sorting by clicking a header (clean accuracy, column 10)
    const col = await page.locator('#trials-table thead th').allTextContents();
    const idx = col.indexOf('clean acc.');
    expect(idx).toBeGreaterThan(0);
    const header = page.locator('#trials-table thead th').nth(idx);
    const columnValues = () =>
      page.evaluate((i) => Array.from(document.querySelectorAll('#trials-table tbody tr')).map((r) => (r as HTMLTableRowElement).cells[i].getAttribute('data-sort') ?? ''), idx);
    await header.click();
    const asc = (await columnValues()).filter((v) => v !== '').map(Number);
    expect(asc.length).toBeGreaterThan(3);
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    await header.click();
    const desc = (await columnValues()).filter((v) => v !== '').map(Number);
    expect(desc).toEqual([...asc].sort((a, b) => b - a));

    // the learning-curve selector redraws for another trial
    const lcPath = () => page.evaluate(() => document.querySelector('#chart-learning-curves svg .role-mark path')?.getAttribute('d') ?? '');
    const before = await lcPath();
    const select = page.locator('#chart-learning-curves select');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options.length).toBeGreaterThan(5);
    await select.selectOption(options[options.length - 1]);
    await page.waitForFunction((b) => document.querySelector('#chart-learning-curves svg .role-mark path')?.getAttribute('d') !== b, before);

    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('lists every sweep with its best result on the index page', async () => {
    await run(process.execPath, ['--import', 'tsx', 'packages/report/src/cli.ts', 'build', '--sweep', 'older-sweep', `--runs=${runsDir}`], { cwd: root });
    const { page, consoleErrors, requests } = await open(path.join(runsDir, 'reports', 'index.html'));
    const rows = page.locator('#sweeps-table tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('small-sweep');
    const links = await page.locator('#sweeps-table a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).getAttribute('href')));
    expect(links).toEqual(['small-sweep/index.html', 'older-sweep/index.html']);
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('names the sweep a user asked for when it does not exist', async () => {
    const err = await run(process.execPath, ['--import', 'tsx', 'packages/report/src/cli.ts', 'build', '--sweep', 'nope', `--runs=${runsDir}`], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(/--sweep nope: no such sweep.*small-sweep/);
  });
});
