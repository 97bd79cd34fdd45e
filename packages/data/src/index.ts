// Public API of @mri-robust/data.
// --- ingest (owner: ingest helper) ---
export { dataSchemaPart, dataSchema, type DataSettings, type SourceSettings, type KaggleSource, type PhantomSource } from './schema.ts';
export {
  runIngest,
  planIngest,
  readIngestReport,
  formatReport,
  INGEST_STAGE,
  INGEST_VERSION,
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
export { phashFromThumb, hamming, PHASH_SIZE } from './phash.ts';
export { findDuplicateGroups, resolveGroup, mirrorCorrelation, normalizeThumb, type DedupOptions, type DedupResult } from './dedup.ts';
export { assignSplits, apportion, type SplitItem, type SplitSettings } from './split.ts';
export { listKaggleSource, classForFolder, BUILTIN_ALIASES, type SourceFile, type SourceListing } from './layout.ts';
export { dataSettings, resolveSources, listSources, listingFingerprint, type ResolvedSource } from './sources.ts';
export { dataFingerprint, experimentFiles } from './fingerprint.ts';
// --- end ingest ---

// --- augment (owner: augment helper) ---
export { runAugment, augmentKey, augmentInputDir, augmentCopySeed, AUGMENT_STAGE_VERSION, type AugmentContext } from './stage-augment.ts';
export { augmentSchemaPart, augmentSettings } from './augment/schema.ts';
export { applyAugment, planAugment, affinePlane, IDENTITY_PLAN, type AugmentPlan, type AugmentSettings } from './augment/ops.ts';
export { clahePlane } from './augment/clahe.ts';
export { augmentPixels } from './augment/worker.ts';
export { floatFromUint8, floatToUint8, type FloatImage } from './augment/image.ts';
export { writeContactSheet, sampleByClass, type ContactRow, type ContactSheetOptions } from './augment/contact-sheet.ts';
export { WorkerPool, mapOrdered, defaultWorkerCount, transferablesOf, serveWorker } from './augment/worker-pool.ts';
export { writeNoisePointer, readNoisePointer, noisePointerFile } from './augment/pointer.ts';
// --- end augment ---
