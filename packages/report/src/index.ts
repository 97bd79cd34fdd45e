export {
  buildReport,
  buildComparison,
  writeIndex,
  listComparisons,
  reportFolderName,
  reportsDir,
  type BuildReportOptions,
  type BuildResult,
  type BuiltReport,
  type BuildComparisonOptions,
  type BuiltComparison,
  type BaselineProvider,
} from './build.ts';
export { reportSchemaPart, reportSettings, REPORT_DEFAULTS, type ReportSettings } from './schema.ts';
export { openTrackingReader, readSweeps, resolveSweep, readSweepData, readSweepSummaries } from './data.ts';
export { renderReportPage, trialsTable, REPORT_CSP, type PageInput } from './page.ts';
export { renderIndexPage, type IndexEntry, type ComparisonEntry } from './index-page.ts';
export { esc, jsonForScript, scriptSafe, renderJson } from './html.ts';
export { vegaBundles, type VegaBundle } from './assets.ts';
export { readStageArtifacts, type StageArtifacts, type ContactSheet } from './stages.ts';
export * from './charts/index.ts';
export * from './rows.ts';
export type * from './types.ts';
