/**
 * The report and the sweep comparison in headless Chromium (playwright-core, the browser from
 * @mri-robust/core/testing: the suite FAILS when there is none). Three synthetic sweeps in a real
 * DuckDB file (A and B share their test images and saved per-image predictions; C has other images
 * and none). Checks: every chart drawn offline without console errors; each chart's marks against
 * the rows queried from DuckDB; the trials table fits the page and is in rank order; contact sheets
 * collapsed; Grad-CAM rows named by split and source; the comparison page's paired test (McNemar p
 * recomputed here from the saved predictions), unpaired fallback, and its link from the index page.
 * Screenshots of every section: runs/report-screens/*.png.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corruptionSummary, deriveSeed, mcnemarExact, pairedComparison, sharedDir, workspaceRoot } from '@mri-robust/core';
import { chromiumLaunchOptions } from '@mri-robust/core/testing';
import { openTracking } from '@mri-robust/tracking';
import { buildReport } from '../src/build.ts';
import { noiseLevel } from '../src/rows.ts';
import type { BaselineScores } from '../src/types.ts';
import { writeSyntheticSweep } from './synthetic.ts';

const run = promisify(execFile);
const root = workspaceRoot();
const SCREENS = path.join(root, 'runs', 'report-screens');
const A = 'sweep-a-replace';
const B = 'sweep-b-copies';
const C = 'sweep-c-other-data';

let tmp: string;
let runsDir: string;
let browser: Browser;

type Row = Record<string, unknown>;
async function query(sql: string, params: unknown[] = []): Promise<Row[]> {
  const t = await openTracking(path.join(runsDir, 'tracking.duckdb'), { readOnly: true });
  try {
    return await t.all<Row>(sql, params as never);
  } finally {
    await t.close();
  }
}

/** Best trials by the objective, as the report ranks them (finished first, objective descending). */
async function rankedFromDb(sweep: string): Promise<string[]> {
  const rows = await query(
    "SELECT trial_id FROM trials WHERE sweep_id = $1 AND objective IS NOT NULL ORDER BY (status = 'finished') DESC, objective DESC, trial_index",
    [sweep],
  );
  return rows.map((r) => String(r.trial_id));
}

/** A Grad-CAM gallery of real scans (JPEG overlays), as the sweep writes it. */
async function writeGallery(sweep: string): Promise<number> {
  const dir = path.join(runsDir, 'trials', sweep, 'gradcam');
  fs.mkdirSync(dir, { recursive: true });
  const scans = [
    ['sartaj/Training/glioma_tumor/gg (1).jpg', 'glioma'],
    ['nickparvar/Training/pituitary/Tr-piTr_0001.jpg', 'pituitary'],
  ];
  const items = [];
  for (const [k, [id, label]] of scans.entries()) {
    const src = path.join(sharedDir(), 'datasets', ...id.split('/'));
    for (const set of ['clean', 'test-rician-snr5']) {
      const file = `${k}-${set}.jpg`;
      await sharp(fs.readFileSync(src)).resize(96, 96, { fit: 'contain' }).jpeg({ quality: 80 }).toFile(path.join(dir, file));
      items.push({ set, id, label, predicted: label, probability: 0.9, correct: true, file });
    }
  }
  fs.writeFileSync(path.join(dir, 'gallery.json'), JSON.stringify({ model: 'synthetic', items }));
  return items.length;
}

beforeAll(async () => {
  const launch = chromiumLaunchOptions(); // throws with the command to run when there is no browser
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'report-pages-'));
  runsDir = path.join(tmp, 'runs');
  const shared = { runsDir, trials: 10, ingestKey: 'ingestshared0001', predictions: true };
  await writeSyntheticSweep({
    ...shared,
    sweepId: A,
    seed: 7,
    createdAt: new Date('2025-01-01T00:00:00Z'),
    experimentExtra: 'noise:\n  train:\n    mode: replace\n',
  });
  await writeSyntheticSweep({
    ...shared,
    sweepId: B,
    seed: 8,
    qualityShift: 0.04,
    createdAt: new Date('2025-01-02T00:00:00Z'),
    experimentExtra: 'noise:\n  train:\n    mode: copies\n',
  });
  await writeSyntheticSweep({
    runsDir,
    trials: 4,
    sweepId: C,
    seed: 9,
    createdAt: new Date('2025-01-03T00:00:00Z'),
    experimentExtra: 'noise:\n  train:\n    mode: copies\n',
  });
  await writeGallery(A);
  browser = await chromium.launch(launch);
  fs.mkdirSync(SCREENS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  problems: string[];
  requests: string[];
}

async function open(file: string, width = 1300): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!/^(file|data):/.test(r.url())) requests.push(r.url());
  });
  await page.goto(pathToFileURL(file).href);
  return { page, problems, requests };
}

/** Number of SVG items drawn by the Vega marks whose name starts with `prefix` in chart `id`. */
function countMarks(page: Page, id: string, prefix: string): Promise<number> {
  return page.evaluate(
    ([chart, p]) =>
      Array.from(document.querySelectorAll(`#${chart} svg g.role-mark`))
        .filter((g) => Array.from(g.classList).some((c) => c.startsWith(p)))
        .reduce((n, g) => n + g.children.length, 0),
    [id, prefix] as const,
  );
}

describe('sweep report in headless Chromium', () => {
  let opened: Opened;

  it('renders every chart offline from the CLI build', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'packages/report/src/cli.ts', 'build', `--runs=${runsDir}`, `--sweep=${A}`], {
      cwd: root,
    });
    expect(stdout).toContain(`${A}: 10 trials, 7 charts`);
    opened = await open(path.join(runsDir, 'reports', A, 'index.html'));
    await opened.page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
    const charts = await opened.page.evaluate(() =>
      Array.from(document.querySelectorAll('[data-chart]')).map((el) => [el.id, el.getAttribute('data-rendered')]),
    );
    expect(charts).toEqual(
      ['chart-clean-vs-noisy', 'chart-robustness', 'chart-heatmap', 'chart-learning-curves', 'chart-hyperparams', 'chart-parallel', 'chart-confusion'].map(
        (id) => [id, 'ok'],
      ),
    );
    // no baseline given: no CE columns, and the page says why
    expect(await opened.page.locator('#trials-table th', { hasText: 'mCE' }).count()).toBe(0);
    expect(await opened.page.locator('#baseline-note').textContent()).toContain('No baseline scores');
  });

  it("draws each chart's marks from the DuckDB rows", async () => {
    const { page } = opened;
    const ranked = await rankedFromDb(A);
    const best3 = ranked.slice(0, 3);
    const evals = await query('SELECT trial_id, test_set, noise_kind, severity, accuracy FROM evaluations WHERE sweep_id = $1', [A]);
    const noisyOfBest = evals.filter((e) => best3.includes(String(e.trial_id)) && e.noise_kind !== 'none');
    // robustness: one point per noisy evaluation of the best 3 trials; one line per (trial, kind) with ≥ 2 levels
    expect(await countMarks(page, 'chart-robustness', 'rob_points_')).toBe(noisyOfBest.length);
    const levels = new Map<string, Set<number>>();
    for (const e of noisyOfBest) {
      const l = noiseLevel({ testSet: String(e.test_set), noiseKind: String(e.noise_kind), severity: Number(e.severity) });
      const k = `${e.trial_id}|${l.panel}`;
      levels.set(k, (levels.get(k) ?? new Set()).add(l.x));
    }
    const lines = [...levels.values()].filter((s) => s.size >= 2).length;
    expect(await countMarks(page, 'chart-robustness', 'rob_line_')).toBe(lines);
    expect(await countMarks(page, 'chart-robustness', 'rob_line_motion')).toBe(0); // motion measured at one severity: points only
    expect(await countMarks(page, 'chart-robustness', 'rob_clean_')).toBe(levels.size);
    // the x axis of the Rician panel shows the SNRs of the sets in DuckDB
    const snrs = [
      ...new Set(
        evals.filter((e) => /-snr/.test(String(e.test_set))).map((e) => noiseLevel({ testSet: String(e.test_set), noiseKind: 'rician', severity: 0 }).x),
      ),
    ];
    const axisLabels = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#chart-robustness svg .role-axis-label text')).map((t) => t.textContent),
    );
    for (const s of snrs) expect(axisLabels).toContain(String(s));

    // clean vs noisy: one clean point per trial with a clean evaluation, one (mean) noisy point each
    const withClean = new Set(evals.filter((e) => e.noise_kind === 'none').map((e) => String(e.trial_id)));
    expect(await countMarks(page, 'chart-clean-vs-noisy', 'cvn_clean')).toBe(2 * withClean.size); // points + their interval rules
    expect(await countMarks(page, 'chart-clean-vs-noisy', 'cvn_noisy')).toBe(withClean.size); // the mean has no interval
    expect(await page.locator('#chart-clean-vs-noisy select').inputValue()).toBe('mean of noisy sets');
    // the mean point sits at the mean of the DuckDB accuracies (checked through the tooltip data of the first trial)
    const firstMean = await page.evaluate(() => {
      const g = Array.from(document.querySelectorAll('#chart-clean-vs-noisy svg g.role-mark')).find((x) => x.classList.contains('cvn_noisy_marks'));
      return g?.children[0]?.getAttribute('aria-label') ?? '';
    });
    const t0 = ranked[0];
    const noisy0 = evals.filter((e) => e.trial_id === t0 && e.noise_kind !== 'none').map((e) => Number(e.accuracy));
    expect(firstMean).toContain(`trial: ${t0}`);
    expect(firstMean).toContain(`noisy: ${(noisy0.reduce((a, b) => a + b, 0) / noisy0.length).toFixed(3)}`);

    // learning curves: one grey validation curve per trial with epochs
    const withEpochs = await query('SELECT DISTINCT trial_id FROM epochs WHERE sweep_id = $1 AND val_accuracy IS NOT NULL', [A]);
    expect(await countMarks(page, 'chart-learning-curves', 'lc_all_accuracy')).toBe(withEpochs.length);
    expect(await countMarks(page, 'chart-learning-curves', 'lc_sel_accuracy')).toBeGreaterThanOrEqual(1);
    // the select highlights another trial: the coloured curve is redrawn, the grey ones stay
    const selPath = () => page.evaluate(() => document.querySelector('#chart-learning-curves svg .role-mark.lc_sel_loss_marks path')?.getAttribute('d') ?? '');
    const allPaths = () =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll('#chart-learning-curves svg .role-mark.lc_all_loss_marks path'))
          .map((p) => p.getAttribute('d'))
          .join('|'),
      );
    const [before, greyBefore] = [await selPath(), await allPaths()];
    expect(before).not.toBe('');
    const select = page.locator('#chart-learning-curves select');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toEqual((await rankedFromDb(A)).concat(options.slice(ranked.length)));
    await select.selectOption(options[options.length - 1]);
    await page.waitForFunction((b) => document.querySelector('#chart-learning-curves svg .role-mark.lc_sel_loss_marks path')?.getAttribute('d') !== b, before);
    expect(await allPaths()).toBe(greyBefore);
    await select.selectOption(options[0]);
    // hyper-parameters: a point per trial with a clean (top) and a noisy (bottom) evaluation, per parameter
    expect(await countMarks(page, 'chart-hyperparams', 'hp_lr_cleanAcc')).toBe(withClean.size);
    expect(await countMarks(page, 'chart-hyperparams', 'hp_dropout_meanNoisyAcc')).toBe(withClean.size);
    // parallel coordinates: one line per trial; confusion: the best trial's cells on its two panels
    const trials = await query('SELECT count(*) AS n FROM trials WHERE sweep_id = $1', [A]);
    expect(await countMarks(page, 'chart-parallel', 'par_lines')).toBe(Number(trials[0].n));
    const worst = evals.filter((e) => e.trial_id === t0 && e.noise_kind !== 'none').sort((a, b) => Number(a.accuracy) - Number(b.accuracy))[0];
    const cells = await query("SELECT count(*) AS n FROM confusion WHERE sweep_id = $1 AND trial_id = $2 AND test_set IN ('test', $3)", [
      A,
      t0,
      worst.test_set,
    ]);
    expect(await countMarks(page, 'chart-confusion', 'conf_cells')).toBe(Number(cells[0].n));
    // heat map of the best trial: a cell per noisy set at a named severity (the SNR sets are not) and a clean cell per kind
    const graded = evals.filter((e) => e.trial_id === t0 && e.noise_kind !== 'none' && !/-snr/.test(String(e.test_set)));
    const heatKinds = new Set(graded.map((e) => e.noise_kind));
    expect(await countMarks(page, 'chart-heatmap', 'heat_cells')).toBe(graded.length + heatKinds.size);
    expect(await page.locator('#chart-heatmap select').inputValue()).toBe(t0);
  });

  it('trials table: rank order, fits the page; contact sheets collapsed; Grad-CAM rows named by split and source', async () => {
    const { page } = opened;
    const ranked = await rankedFromDb(A);
    const ranks = await page.locator('#trials-table tbody tr td:first-child').allTextContents();
    expect(ranks.slice(0, ranked.length)).toEqual(ranked.map((_, i) => String(i + 1)));
    expect(ranks.slice(ranked.length).every((r) => r === '')).toBe(true);
    const ids = await page.locator('#trials-table tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-trial')));
    expect(ids.slice(0, ranked.length)).toEqual(ranked);
    const fit = await page.evaluate(() => {
      const box = document.querySelector('.table-fit') as HTMLElement;
      return { scroll: box.scrollWidth, client: box.clientWidth, main: (document.querySelector('main') as HTMLElement).clientWidth };
    });
    expect(fit.scroll).toBeLessThanOrEqual(fit.client);
    expect(fit.client).toBeLessThanOrEqual(fit.main);
    // contact sheets: in a closed <details>
    expect(await page.locator('#examples details').getAttribute('open')).toBeNull();
    expect(await page.locator('#examples img').first().isVisible()).toBe(false);
    // Grad-CAM: "test split · source sartaj", no source folder names like "Training" in the row label
    const heads = await page.locator('#gradcam tbody th, #gradcam tr:not(:first-child) th').allTextContents();
    expect(heads.some((h) => h.includes('test split · source sartaj'))).toBe(true);
    expect(heads.some((h) => h.includes('test split · source nickparvar'))).toBe(true);
    expect(heads.every((h) => !h.includes('Training'))).toBe(true);
    // the robustness summary lists the mean noisy accuracy per trial
    expect(await page.locator('#robustness-summary tbody tr').count()).toBe(
      new Set((await query("SELECT DISTINCT trial_id FROM evaluations WHERE sweep_id = $1 AND noise_kind <> 'none'", [A])).map((r) => r.trial_id)).size,
    );
  });

  it('screenshots every section; no console error, no request', async () => {
    const { page, problems, requests } = opened;
    for (const id of ['data', 'accuracy', 'robustness', 'curves', 'params', 'confusion', 'trials', 'gradcam', 'examples']) {
      await page.locator(`section#${id}`).screenshot({ path: path.join(SCREENS, `report-${id}.png`) });
    }
    await page.locator('header').screenshot({ path: path.join(SCREENS, 'report-header.png') });
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});

describe('mCE against a baseline', () => {
  it('trials table and best-trial box show mCE and relative mCE, the baseline named once', async () => {
    // a hand-made baseline: 10 points below the best trial's clean accuracy, 15 below on every noisy set at a named severity
    const ranked = await rankedFromDb(A);
    const evals = await query('SELECT trial_id, test_set, noise_kind, severity, accuracy FROM evaluations WHERE sweep_id = $1', [A]);
    const mine = (t: string) => evals.filter((e) => e.trial_id === t);
    const t0 = ranked[0];
    const clean0 = Number(mine(t0).find((e) => e.test_set === 'test')?.accuracy);
    const graded = (t: string) => mine(t).filter((e) => e.noise_kind !== 'none' && !/-snr/.test(String(e.test_set)));
    const baseline: BaselineScores = {
      name: 'linear head on frozen test features',
      description: 'a baseline written by the test',
      key: 'basekey0',
      clean: clean0 - 0.1,
      corrupted: graded(t0).map((e) => ({
        testSet: String(e.test_set),
        kind: String(e.noise_kind),
        severity: Number(e.severity),
        accuracy: Number(e.accuracy) - 0.15,
      })),
    };
    const built = await buildReport({ runsDir, sweepId: A, baseline: async () => baseline });
    expect(built.reports[0].baseline).toEqual({ name: baseline.name });
    const { page, problems, requests } = await open(path.join(runsDir, 'reports', A, 'index.html'));
    await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
    // every trial with a clean set and graded sets gets its mCE, as core computes it from the DuckDB rows
    for (const t of ranked.slice(0, 3)) {
      const clean = Number(mine(t).find((e) => e.test_set === 'test')?.accuracy);
      const s = corruptionSummary(
        { clean, corrupted: graded(t).map((e) => ({ kind: String(e.noise_kind), severity: Number(e.severity), accuracy: Number(e.accuracy) })) },
        baseline,
      );
      const row = page.locator(`#trials-table tr[data-trial="${t}"]`);
      expect(await row.locator('td.mce').getAttribute('data-sort')).toBe(String(s.mce));
      expect(await row.locator('td.rmce').getAttribute('data-sort')).toBe(String(s.relativeMce));
      if (t === t0)
        expect(await page.locator('#best-mce').textContent()).toBe(`mCE ${(100 * s.mce).toFixed(1)} %, relative mCE ${(100 * s.relativeMce).toFixed(1)} %`);
    }
    // named once; the table still fits the page
    const body = (await page.textContent('body')) ?? '';
    expect(body.split(baseline.name).length - 1).toBe(1);
    expect(await page.locator('#baseline-note').textContent()).toContain(`CE relative to: ${baseline.name}`);
    const fit = await page.evaluate(() => {
      const box = document.querySelector('.table-fit') as HTMLElement;
      return { scroll: box.scrollWidth, client: box.clientWidth };
    });
    expect(fit.scroll).toBeLessThanOrEqual(fit.client);
    // per kind and per class tables of the best trial
    expect(await page.locator('#kind-table tbody tr').count()).toBe(
      new Set(
        mine(t0)
          .filter((e) => e.noise_kind !== 'none')
          .map((e) => noiseLevel({ testSet: String(e.test_set), noiseKind: String(e.noise_kind), severity: Number(e.severity) }).panel),
      ).size,
    );
    expect(await page.locator('#class-table tbody tr').count()).toBe(4);
    for (const id of ['robustness', 'trials']) await page.locator(`section#${id}`).screenshot({ path: path.join(SCREENS, `report-mce-${id}.png`) });
    await page.locator('header').screenshot({ path: path.join(SCREENS, 'report-mce-header.png') });
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('report CLI: a misspelt flag is one line naming the allowed flags', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', 'packages/report/src/cli.ts', 'build', '--sweeps=x', `--runs=${runsDir}`], { cwd: root }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect([r.code, r.stderr.trim()]).toEqual([
      1,
      'error: unknown option --sweeps; allowed: --all, --best-trials, --experiment, --no-baseline, --runs, --sweep, --tracking',
    ]);
  }, 300_000); // one CLI start through tsx can take minutes on a loaded machine
});

describe('sweep comparison in headless Chromium', () => {
  it('report:compare puts the best trials side by side with a paired test on the shared images', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'packages/report/src/cli.ts', 'compare', `--sweeps=${A},${B},${C}`, `--runs=${runsDir}`],
      { cwd: root },
    );
    expect(stdout).toMatch(new RegExp(`${A} vs ${B} vs ${C}: 16 differences \\(8 paired\\)`));
    const file = path.join(runsDir, 'reports', 'compare', `${A}__vs__${B}__vs__${C}`, 'index.html');
    const { page, problems, requests } = await open(file);
    await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
    expect(await page.locator('#chart-compare').getAttribute('data-rendered')).toBe('ok');
    const evals = await query(
      "SELECT sweep_id, count(*) AS n FROM evaluations e WHERE trial_id = (SELECT trial_id FROM trials t WHERE t.sweep_id = e.sweep_id AND objective IS NOT NULL ORDER BY (status = 'finished') DESC, objective DESC, trial_index LIMIT 1) GROUP BY sweep_id",
    );
    const points = evals.reduce((a, r) => a + Number(r.n), 0);
    expect(await countMarks(page, 'chart-compare', 'cmp_points')).toBe(points);
    // the settings that differ: noise.train.mode
    expect(await page.locator('#compare-differences').textContent()).toContain('noise.train.mode');
    // B − A on the clean set: paired, and McNemar's p equals the one recomputed from the saved predictions
    const bestA = (await rankedFromDb(A))[0];
    const bestB = (await rankedFromDb(B))[0];
    const pa = JSON.parse(fs.readFileSync(path.join(runsDir, 'trials', A, bestA, 'predictions.json'), 'utf8')).sets.test;
    const pb = JSON.parse(fs.readFileSync(path.join(runsDir, 'trials', B, bestB, 'predictions.json'), 'utf8')).sets.test;
    let onlyA = 0;
    let onlyB = 0;
    pa.labels.forEach((y: number, i: number) => {
      const a = pa.predicted[i] === y;
      const b = pb.predicted[i] === y;
      if (a && !b) onlyA++;
      if (b && !a) onlyB++;
    });
    const row = page.locator('#compare-tests tr[data-set="test"]').first();
    expect(await row.getAttribute('data-method')).toBe('paired bootstrap');
    const text = (await row.textContent()) ?? '';
    expect(text).toContain(`only A right ${onlyA}, only B right ${onlyB}`);
    const p = mcnemarExact(onlyA, onlyB);
    expect(text).toContain(p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
    // the verdict in words: core's paired comparison of B against A on the saved predictions
    const cmp = pairedComparison(
      pb.labels.map((y: number, i: number) => pb.predicted[i] === y),
      pa.labels.map((y: number, i: number) => pa.predicted[i] === y),
      { samples: 2000, seed: deriveSeed('compare', A, B, 'test') },
    );
    expect(await row.locator('td.verdict').textContent()).toBe(cmp.verdict);
    expect(await page.locator(`#compare-verdicts li[data-sweep="${B}"]`).textContent()).toMatch(
      new RegExp(`^B vs A: ${cmp.verdict} on clean; on the 7 corrupted sets: `),
    );
    // C has other images and no predictions: unpaired, said so
    const cRows = page.locator('#compare-tests tr', { hasText: 'C − A' });
    expect(await cRows.count()).toBe(8);
    expect(await cRows.first().getAttribute('data-method')).toBe('unpaired (different images)');
    expect(await page.locator('.warn').textContent()).toContain(`not saved for ${C}`);
    for (const id of ['sweeps', 'accuracy', 'tests']) await page.locator(`section#${id}`).screenshot({ path: path.join(SCREENS, `compare-${id}.png`) });
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
    // the index page links to it
    const index = await open(path.join(runsDir, 'reports', 'index.html'));
    const href = await index.page.locator('#comparisons a').first().getAttribute('href');
    expect(href).toBe(`compare/${A}__vs__${B}__vs__${C}/index.html`);
    expect(await index.page.textContent('body')).toContain('npx nx run report:compare --sweeps=');
    await index.page.close();
  });

  it('names the problem when --sweeps is wrong', async () => {
    const fail = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'packages/report/src/cli.ts', 'compare', ...args, `--runs=${runsDir}`], { cwd: root }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
    const one = await fail([`--sweeps=${A}`]);
    expect([one.code, one.stderr.trim()]).toEqual([1, `error: --sweeps: give at least two sweep ids separated by commas (got ${A})`]);
    const typo = await fail([`--sweeps=${A},sweep-typo`]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(new RegExp(`--sweeps: sweep-typo: no such sweep .*${C}, ${B}, ${A}`));
  });
});
