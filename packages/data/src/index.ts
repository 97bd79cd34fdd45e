// Public API of @mri-robust/data: what the other packages (and this package's tests) use.
export { dataSchemaPart, dataSettingsOf } from './schema.ts';
export { runIngest, ingestRunner, planIngest, readIngestReport, type IngestRecord } from './stage-ingest.ts';
export type { IngestReport } from './report.ts';
export { renderPhantom } from './phantom.ts';
export { decodeImage, BadImageError, type DecodeOptions } from './decode.ts';
export { decodeDicom, readDicomHeader, isDicom, DicomError } from './dicom.ts';
export { phashFromThumb, hamming } from './phash.ts';
export { findDuplicateGroups, resolveGroup, mirrorCorrelation, normalizeThumb } from './dedup.ts';
export { assignSplits, apportion } from './split.ts';
export { resolveSources } from './sources.ts';
export { writeContactSheet, sampleByClass, type ContactRow } from './contact-sheet.ts';
