// Public API of @mri-robust/report: only what other packages use. tuning composes the `report`
// schema part into its experiment schema and its end-to-end test builds a report; everything else
// runs through the CLI (src/cli.ts: report:build, report:compare).
export { buildReport } from './build.ts';
export { reportSchemaPart } from './schema.ts';
