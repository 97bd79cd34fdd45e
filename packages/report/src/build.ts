/**
 * report:build — reads the tracking database and writes `<runs>/reports/<sweep>/index.html` (one
 * self-contained file) and `<runs>/reports/index.html` (every sweep with its best result).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseExperiment, workspaceRoot } from '@mri-robust/core';
import { vegaBundles } from './assets.ts';
import { buildCharts } from './charts/index.ts';
import { openTrackingReader, TRACKING_FILE, type Tracking } from '@mri-robust/tracking';
import { readSweepData, readSweepSummaries, readSweeps, resolveSweep } from './data.ts';
import { renderIndexPage, type ComparisonEntry, type IndexEntry } from './index-page.ts';
import { renderReportPage } from './page.ts';
import { REPORT_DEFAULTS, reportSchemaPart, reportSettings, type ReportSettings } from './schema.ts';
import { readStageArtifacts } from './stages.ts';
import { comparisonFolderName, comparisonsDir, reportFolderName, reportsDir } from './paths.ts';
import { readComparison } from './compare/data.ts';
import { pairTests, renderComparePage } from './compare/page.ts';

import type { BaselineScores, SweepInfo } from './types.ts';

const COMPARE_META = 'compare.json';

/**
 * The baseline model's scores for a sweep's experiment (CE is normalised by them), or null when there
 * is none; an error becomes a note on the page (the report is still written).
 */
export type BaselineProvider = (sweep: SweepInfo) => Promise<BaselineScores | null>;

export interface BuildReportOptions {
  /** The runs folder: holds tracking.duckdb and reports/. */
  runsDir: string;
  /** Default `<runsDir>/tracking.duckdb`. */
  trackingFile?: string;
  /** Default: the latest sweep. */
  sweepId?: string;
  /** Build every sweep's report. */
  all?: boolean;
  /** Settings; default: the `report` section of the experiment stored with the sweep. */
  settings?: Partial<ReportSettings>;
  /** Timestamp written in the page (default now). */
  now?: Date;
  /** Where the CE baseline comes from; without one the page shows no CE / mCE. */
  baseline?: BaselineProvider;
}

interface BuiltReport {
  sweepId: string;
  file: string;
  bytes: number;
  trials: number;
  /** Ids of the charts drawn (those with data). */
  charts: string[];
  /** The baseline's name, or why there is none. */
  baseline: { name: string } | { note: string };
}

async function baselineFor(sweep: SweepInfo, provider: BaselineProvider | undefined): Promise<{ baseline: BaselineScores | null; note: string }> {
  if (!provider) return { baseline: null, note: 'no baseline given to report:build' };
  try {
    const baseline = await provider(sweep);
    return { baseline, note: baseline ? '' : 'the experiment has no baseline' };
  } catch (e) {
    return { baseline: null, note: (e instanceof Error ? e.message : String(e)).split('\n')[0] };
  }
}

export interface BuildResult {
  reports: BuiltReport[];
  indexFile: string;
}

function writeAtomic(file: string, text: string): number {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
  return Buffer.byteLength(text);
}

/** The report settings stored with the sweep's experiment, or the defaults when it has none/is invalid. */
function storedSettings(sweep: SweepInfo): ReportSettings {
  if (!sweep.experimentYaml) return { ...REPORT_DEFAULTS };
  try {
    const exp = parseExperiment(sweep.experimentYaml, sweep.experimentPath ?? 'experiment.yaml', [reportSchemaPart]);
    return reportSettings(exp.config);
  } catch {
    return { ...REPORT_DEFAULTS };
  }
}

async function buildOne(db: Tracking, sweep: SweepInfo, opts: BuildReportOptions, generatedAt: string): Promise<BuiltReport> {
  const data = await readSweepData(db, sweep);
  const settings = { ...storedSettings(sweep), ...(opts.settings ?? {}) };
  const charts = buildCharts(data, { bestTrials: settings.best_trials });
  const bases = [opts.runsDir, path.dirname(opts.runsDir), workspaceRoot()];
  const artifacts = await readStageArtifacts(sweep, bases, opts.runsDir);
  const { baseline, note } = await baselineFor(sweep, opts.baseline);
  const html = renderReportPage({ data, charts, artifacts, bundles: vegaBundles(), generatedAt, indexHref: '../index.html', baseline, baselineNote: note });
  const file = path.join(reportsDir(opts.runsDir), reportFolderName(sweep.sweepId), 'index.html');
  const bytes = writeAtomic(file, html);
  return {
    sweepId: sweep.sweepId,
    file,
    bytes,
    trials: data.trials.length,
    charts: charts.filter((c) => c.spec).map((c) => c.id),
    baseline: baseline ? { name: baseline.name } : { note },
  };
}

/** The comparisons built so far (each folder's compare.json), newest first. */
function listComparisons(runsDir: string): ComparisonEntry[] {
  const dir = comparisonsDir(runsDir);
  if (!fs.existsSync(dir)) return [];
  const out: ComparisonEntry[] = [];
  for (const name of fs.readdirSync(dir)) {
    const meta = path.join(dir, name, COMPARE_META);
    if (!fs.existsSync(path.join(dir, name, 'index.html')) || !fs.existsSync(meta)) continue;
    try {
      const m = JSON.parse(fs.readFileSync(meta, 'utf8')) as { sweeps?: unknown; generatedAt?: unknown };
      if (Array.isArray(m.sweeps))
        out.push({ sweeps: m.sweeps.map(String), generatedAt: String(m.generatedAt ?? ''), href: `compare/${encodeURIComponent(name)}/index.html` });
    } catch {
      // an unreadable compare.json: the comparison is not listed
    }
  }
  return out.sort((a, b) => (a.generatedAt < b.generatedAt ? 1 : a.generatedAt > b.generatedAt ? -1 : 0));
}

/** Writes the index page listing every sweep in the database and every comparison built. */
async function writeIndex(db: Tracking, runsDir: string, generatedAt: string): Promise<string> {
  const summaries = await readSweepSummaries(db);
  const dir = reportsDir(runsDir);
  const entries: IndexEntry[] = summaries.map((summary) => {
    const folder = reportFolderName(summary.sweep.sweepId);
    return { summary, href: fs.existsSync(path.join(dir, folder, 'index.html')) ? `${encodeURIComponent(folder)}/index.html` : null };
  });
  const file = path.join(dir, 'index.html');
  writeAtomic(file, renderIndexPage(entries, generatedAt, listComparisons(runsDir)));
  return file;
}

export interface BuildComparisonOptions {
  runsDir: string;
  trackingFile?: string;
  /** Two or more sweep ids; the first is the baseline. */
  sweepIds: string[];
  now?: Date;
}

export interface BuiltComparison {
  file: string;
  bytes: number;
  sweeps: string[];
  /** How many (sweep, test set) differences used the paired test. */
  paired: number;
  tests: number;
  indexFile: string;
}

/** report:compare — the best trials of several sweeps side by side: `<runs>/reports/compare/<A>__vs__<B>/index.html`. */
export async function buildComparison(opts: BuildComparisonOptions): Promise<BuiltComparison> {
  const trackingFile = opts.trackingFile ?? path.join(opts.runsDir, TRACKING_FILE);
  const generatedAt = (opts.now ?? new Date()).toISOString();
  const db = await openTrackingReader(trackingFile);
  try {
    const sweeps = await readComparison(db, opts.sweepIds, opts.runsDir);
    const html = renderComparePage({ sweeps, bundles: vegaBundles(), generatedAt, indexHref: '../../index.html' });
    const folder = path.join(comparisonsDir(opts.runsDir), comparisonFolderName(opts.sweepIds));
    const file = path.join(folder, 'index.html');
    const bytes = writeAtomic(file, html);
    writeAtomic(path.join(folder, COMPARE_META), `${JSON.stringify({ sweeps: opts.sweepIds, generatedAt }, null, 2)}\n`);
    const tests = pairTests(sweeps);
    const indexFile = await writeIndex(db, opts.runsDir, generatedAt);
    return { file, bytes, sweeps: opts.sweepIds, paired: tests.filter((t) => t.paired).length, tests: tests.length, indexFile };
  } finally {
    await db.close();
  }
}

export async function buildReport(opts: BuildReportOptions): Promise<BuildResult> {
  const trackingFile = opts.trackingFile ?? path.join(opts.runsDir, TRACKING_FILE);
  const generatedAt = (opts.now ?? new Date()).toISOString();
  const db = await openTrackingReader(trackingFile);
  try {
    const sweeps = opts.all ? await readSweeps(db) : [await resolveSweep(db, opts.sweepId)];
    const reports: BuiltReport[] = [];
    for (const s of sweeps) reports.push(await buildOne(db, s, opts, generatedAt));
    const indexFile = await writeIndex(db, opts.runsDir, generatedAt);
    return { reports, indexFile };
  } finally {
    await db.close();
  }
}
