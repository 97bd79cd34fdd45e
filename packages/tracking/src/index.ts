// Public API of @mri-robust/tracking: the DuckDB tracking store (schema, writer connection, read API).
// The sweep orchestrator (tuning) is its only writer; the report and tuning:best read it.
export {
  Tracking,
  openTracking,
  openTrackingReader,
  TRACKING_FILE,
  TRACKING_TABLES,
  toRunsRelative,
  trackingError,
  listSweeps,
  getSweep,
  latestSweep,
  listTrials,
  listEpochs,
  listEvaluations,
  listConfusion,
  rankedTrials,
  bestTrial,
  type TrialRow,
  type EpochRow,
  type TrialStatus,
  type TrackingStatement,
  type SqlValue,
  type SqlType,
  SQL_DOUBLE,
  SQL_INTEGER,
} from './tracking.ts';
export { checkTrackingFile } from './integrity.ts';
