// Public API of @mri-robust/data.
// --- ingest (owner: ingest helper) ---
export { dataSchemaPart, dataSchema, type DataSettings, type SourceSettings, type KaggleSource, type PhantomSource } from './schema.ts';
export {
  runIngest,
  ingestRunner,
  planIngest,
  readIngestReport,
  formatReport,
  INGEST_STAGE,
  REPORT_FILE,
  type IngestRecord,
  type IngestResult,
  type IngestContext,
  type IngestPlan,
} from './stage-ingest.ts';
export type { IngestReport, SkippedFile, GroupExample, SplitClassCounts } from './report.ts';
export { renderPhantom, PHANTOM_CLASSES, type PhantomOptions } from './phantom.ts';
export { decodeImage, processRaw, BadImageError, type DecodeOptions, type Decoded, type Fit } from './decode.ts';
export { decodeBmp, isBmp } from './bmp.ts';
export { decodeDicom, readDicomHeader, isDicom, DicomError, type DicomImage, type DicomHeader, type DicomWindow } from './dicom.ts';
export { phashFromThumb, hamming, PHASH_SIZE } from './phash.ts';
export { findDuplicateGroups, resolveGroup, mirrorCorrelation, normalizeThumb, type DedupOptions, type DedupResult } from './dedup.ts';
export { assignSplits, apportion, type SplitItem, type SplitSettings } from './split.ts';
export { listKaggleSource, classForFolder, BUILTIN_ALIASES, type SourceFile, type SourceListing } from './layout.ts';
export { dataSettings, resolveSources, listSources, listingFingerprint, type ResolvedSource } from './sources.ts';
export { dataFingerprint, experimentFiles } from './fingerprint.ts';
// --- end ingest ---

export { writeContactSheet, sampleByClass, type ContactRow, type ContactSheetOptions } from './contact-sheet.ts';
