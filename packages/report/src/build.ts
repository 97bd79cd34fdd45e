/**
 * report:build — reads the tracking database and writes `<runs>/reports/<sweep>/index.html` (one
 * self-contained file) and `<runs>/reports/index.html` (every sweep with its best result).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseExperiment, workspaceRoot } from '@mri-robust/core';
import { vegaBundles } from './assets.ts';
import { buildCharts } from './charts/index.ts';
import { TRACKING_FILE, type Tracking } from '@mri-robust/tracking';
import { openTrackingReader, readSweepData, readSweepSummaries, readSweeps, resolveSweep } from './data.ts';
import { renderIndexPage, type IndexEntry } from './index-page.ts';
import { renderReportPage } from './page.ts';
import { REPORT_DEFAULTS, reportSchemaPart, reportSettings, type ReportSettings } from './schema.ts';
import { readStageArtifacts } from './stages.ts';
import type { SweepInfo } from './types.ts';

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
}

export interface BuiltReport {
  sweepId: string;
  file: string;
  bytes: number;
  trials: number;
  /** Ids of the charts drawn (those with data). */
  charts: string[];
}

export interface BuildResult {
  reports: BuiltReport[];
  indexFile: string;
}

/** The folder name of a sweep's report (the id, with anything but [A-Za-z0-9._-] replaced). */
export function reportFolderName(sweepId: string): string {
  const safe = sweepId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe || '_';
}

export function reportsDir(runsDir: string): string {
  return path.join(runsDir, 'reports');
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
  const html = renderReportPage({ data, charts, artifacts, bundles: vegaBundles(), generatedAt, indexHref: '../index.html' });
  const file = path.join(reportsDir(opts.runsDir), reportFolderName(sweep.sweepId), 'index.html');
  const bytes = writeAtomic(file, html);
  return { sweepId: sweep.sweepId, file, bytes, trials: data.trials.length, charts: charts.filter((c) => c.spec).map((c) => c.id) };
}

/** Writes the index page listing every sweep in the database. */
export async function writeIndex(db: Tracking, runsDir: string, generatedAt: string): Promise<string> {
  const summaries = await readSweepSummaries(db);
  const dir = reportsDir(runsDir);
  const entries: IndexEntry[] = summaries.map((summary) => {
    const folder = reportFolderName(summary.sweep.sweepId);
    return { summary, href: fs.existsSync(path.join(dir, folder, 'index.html')) ? `${encodeURIComponent(folder)}/index.html` : null };
  });
  const file = path.join(dir, 'index.html');
  writeAtomic(file, renderIndexPage(entries, generatedAt));
  return file;
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
