/**
 * The ingest stage (Nx target data:ingest): sources → decoded, de-duplicated, split image set.
 * Output folder runs/cache/ingest/<key>/: imageset.json + shard-NNN.bin (core image-set format) and
 * report.json. Key = settings + seed + source listing fingerprint (paths, sizes, mtimes) + version.
 */
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createProgress,
  hashString,
  ImageSetWriter,
  runStage,
  stageKey,
  UserError,
  type Experiment,
  type ImageRecord,
  type Split,
  codeHash,
  type StageRunner,
} from '@mri-robust/core';
import { BadImageError, type Decoded, decodeImage, processRaw, type DecodeOptions } from './decode.ts';
import { findDuplicateGroups, resolveGroup, type Candidate } from './dedup.ts';
import type { SourceFile, SourceListing } from './layout.ts';
import { renderPhantom } from './phantom.ts';
import { formatReport, type GroupExample, type IngestReport, type SkippedFile, type SplitClassCounts } from './report.ts';
import { type DataSettings, dataSettingsOf } from './schema.ts';
import { displayRoot, isPhantomFile, listingFingerprint, listSources, resolveSources, type ResolvedSource } from './sources.ts';
import { assignSplits, checkSplitSettings } from './split.ts';

const INGEST_STAGE = 'ingest';
const REPORT_FILE = 'report.json';

/** Fields ingest adds to core's ImageRecord. */
export interface IngestRecord extends ImageRecord {
  sha: string;
  phash: string;
  origWidth: number;
  origHeight: number;
  /** Duplicate group id (shared by all copies, only one of which is kept), or the image's own sha prefix. */
  group: string;
  groupSize: number;
  /** Every source that holds a copy of this image (sorted); the kept copy's source is one of them. */
  groupSources: string[];
  /** The split folder the file came from: "train" (Training), "test" (Testing) or null. */
  origSplit: 'train' | 'test' | null;
  /** True for phantom images (generated, not real MRI). */
  synthetic: boolean;
}

export interface IngestContext {
  /** Lines about cache hits and phases (default: stderr). */
  log?: (line: string) => void;
  /** Parallel decodes (default 4). */
  concurrency?: number;
}

export interface IngestResult {
  stage: string;
  key: string;
  dir: string;
  hit: boolean;
}

export interface IngestPlan {
  key: string;
  settings: DataSettings;
  sources: ResolvedSource[];
  listings: SourceListing[];
  fingerprint: string;
  /** Seconds spent listing the sources. */
  listSeconds: number;
}

/** Lists the sources and computes the stage key, without decoding anything. */
export async function planIngest(experiment: Experiment): Promise<IngestPlan> {
  const settings = dataSettingsOf(experiment);
  checkSplitSettings(settings.split);
  for (const [folder, cls] of Object.entries(settings.aliases ?? {})) {
    if (!settings.classes.includes(cls)) {
      throw new UserError(`${experiment.file}: data.aliases.${folder} maps to "${cls}", which is not one of data.classes (${settings.classes.join(', ')})`);
    }
  }
  let sources: ResolvedSource[];
  try {
    sources = resolveSources(experiment, settings);
  } catch (e) {
    throw new UserError(`${experiment.file}: ${(e as Error).message}`);
  }
  const tList = Date.now();
  const listings = await listSources(sources, settings, experiment.seed);
  const listSeconds = (Date.now() - tList) / 1000;
  const fingerprint = listingFingerprint(listings);
  const keySettings = {
    ...settings,
    root: undefined,
    sources: sources.map((s) => (s.kind === 'kaggle' ? { name: s.name, kind: s.kind, root: displayRoot(s.root) } : s)),
  };
  const key = stageKey({ stage: INGEST_STAGE, code: codeHash('ingest'), settings: keySettings, seed: experiment.seed, listing: fingerprint });
  return { key, settings, sources, listings, fingerprint, listSeconds };
}

interface Decodedish {
  file: SourceFile;
  order: number;
  sha: string;
  phash: string;
  thumb: Uint8Array;
  origWidth: number;
  origHeight: number;
}

async function pool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

function emptyCounts(): SplitClassCounts {
  return { train: {}, val: {}, test: {} };
}

function bump(c: SplitClassCounts, split: Split, label: string): void {
  c[split][label] = (c[split][label] ?? 0) + 1;
}

/** Builds the stage output into `dir` (the runStage temp folder). Returns the report. */
async function buildIngest(dir: string, plan: IngestPlan, experiment: Experiment, log: (l: string) => void, concurrency: number): Promise<IngestReport> {
  const t0 = Date.now();
  const { settings, listings } = plan;
  const opts: DecodeOptions = {
    size: settings.image.size,
    channels: settings.image.channels,
    fit: settings.image.fit,
    maxPixels: settings.max_pixels,
  };
  const imageBytes = opts.size * opts.size * opts.channels;
  const skipped: SkippedFile[] = [];
  const files: SourceFile[] = [];
  for (const l of listings) {
    for (const s of l.stray) skipped.push({ source: s.source, path: s.relPath, reason: s.reason });
    for (const f of l.files) {
      if (f.error) skipped.push({ source: f.source, path: f.relPath, reason: f.error });
      else files.push(f);
    }
  }

  // 1. decode everything once; output pixels go to a scratch file until de-duplication is decided
  const tDecode = Date.now();
  const scratchPath = path.join(dir, 'pixels.scratch');
  const scratch = await open(scratchPath, 'w+');
  const decoded: (Decodedish | null)[] = new Array(files.length).fill(null);
  const progress = createProgress('ingest: decode', files.length, { unit: 'img' });
  try {
    await pool(files, concurrency, async (f, i) => {
      try {
        let d: Decoded;
        if (isPhantomFile(f)) {
          const px = renderPhantom({ seed: f.phantomSeed, label: f.label, size: f.phantomSize });
          d = await processRaw(px, f.phantomSize, f.phantomSize, 1, opts);
        } else {
          let bytes: Buffer;
          try {
            bytes = await readFile(f.absPath);
          } catch (e) {
            throw new BadImageError(`unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
          }
          d = await decodeImage(bytes, f.frame === undefined ? opts : { ...opts, frame: f.frame });
        }
        await scratch.write(d.pixels, 0, imageBytes, i * imageBytes);
        decoded[i] = { file: f, order: i, sha: d.sha, phash: d.phash, thumb: d.thumb, origWidth: d.origWidth, origHeight: d.origHeight };
      } catch (e) {
        if (!(e instanceof BadImageError)) throw e;
        skipped.push({ source: f.source, path: f.relPath, reason: e.reason });
      } finally {
        progress.tick();
      }
    });
  } finally {
    progress.done();
  }
  const secDecode = (Date.now() - tDecode) / 1000;

  // 2. duplicate groups over everything that decoded
  const tDedup = Date.now();
  const ok = decoded.filter((d): d is Decodedish => d !== null);
  const dd = settings.dedup;
  const dup = findDuplicateGroups(ok, { exact: dd.exact, near: dd.near, hamming: dd.hamming, minCorrelation: dd.min_correlation });
  const honourTest = settings.split.mode === 'source_test';
  const cands: Candidate[] = ok.map((d) => ({
    label: d.file.label,
    fromTest: honourTest && d.file.origSplit === 'test',
    pixels: d.origWidth * d.origHeight,
    order: d.order,
  }));
  const idOf = (d: Decodedish) => `${d.file.source}/${d.file.relPath}`;
  interface Kept {
    item: number;
    label: string;
    forcedTest: boolean;
    group: string;
    groupSize: number;
    groupSources: string[];
  }
  const kept: Kept[] = [];
  let conflictGroups = 0;
  let conflictDropped = 0;
  let majorityKept = 0;
  const conflictExamples: number[] = [];
  const groupInfo = dup.groups.map((members) => {
    const res = resolveGroup(members, cands, dd.conflicts);
    const gid = `g${hashString(members.map((m) => idOf(ok[m])).join('\n')).slice(0, 12)}`;
    if (res.conflict) {
      conflictGroups++;
      if (res.keep === null) conflictDropped += members.length;
      else majorityKept++;
      if (conflictExamples.length < 5) conflictExamples.push(dup.groupOf[members[0]]);
    }
    if (res.keep !== null) {
      const groupSources = [...new Set(members.map((m) => ok[m].file.source))].sort();
      kept.push({ item: res.keep, label: res.label!, forcedTest: res.touchesTest, group: gid, groupSize: members.length, groupSources });
    }
    return { members, res, gid };
  });
  ok.forEach((d, i) => {
    if (dup.groupOf[i] !== -1) return;
    kept.push({ item: i, label: d.file.label, forcedTest: cands[i].fromTest, group: `s${d.sha.slice(0, 12)}`, groupSize: 1, groupSources: [d.file.source] });
  });
  kept.sort((a, b) => a.item - b.item);

  // 3. splits
  const splits = assignSplits(
    kept.map((k) => ({ id: idOf(ok[k.item]), label: k.label, forcedTest: k.forcedTest })),
    settings.split,
    experiment.seed,
  );

  // 4. class minimum
  const perClass = new Map<string, number>(settings.classes.map((c) => [c, 0]));
  for (const k of kept) perClass.set(k.label, (perClass.get(k.label) ?? 0) + 1);
  const short = [...perClass.entries()].filter(([, n]) => n < settings.min_per_class);
  if (short.length > 0) {
    throw new UserError(
      `ingest: class${short.length > 1 ? 'es' : ''} ${short.map(([c, n]) => `"${c}" has ${n}`).join(', ')} image(s) after de-duplication, ` +
        `below data.min_per_class = ${settings.min_per_class} (${experiment.file}). ` +
        `Counts: ${[...perClass.entries()].map(([c, n]) => `${c} ${n}`).join(', ')}; ${skipped.length} files skipped.`,
    );
  }
  if (honourTest && !splits.includes('test')) {
    throw new UserError(`ingest: data.split.mode is source_test but no source has a Testing folder (${experiment.file})`);
  }
  const secDedup = (Date.now() - tDedup) / 1000;

  // 5. write the image set
  const tWrite = Date.now();
  const synthetic = plan.sources.filter((s) => s.kind === 'phantom').map((s) => s.name);
  const note =
    synthetic.length > 0
      ? `Sources ${synthetic.join(', ')} are SYNTHETIC phantoms (procedurally generated brain-like slices), not real MRI.`
      : 'All sources are real image folders.';
  const writer = await ImageSetWriter.create(
    dir,
    { height: opts.size, width: opts.size, channels: opts.channels, classes: settings.classes },
    { info: { stage: INGEST_STAGE, key: plan.key, experiment: experiment.name, synthetic, note } },
  );
  const counts = emptyCounts();
  const perSourceKept = new Map<string, SplitClassCounts>(listings.map((l) => [l.source, emptyCounts()]));
  const buf = new Uint8Array(imageBytes);
  for (let k = 0; k < kept.length; k++) {
    const kk = kept[k];
    const d = ok[kk.item];
    await scratch.read(buf, 0, imageBytes, d.order * imageBytes);
    const rec: IngestRecord = {
      id: idOf(d),
      label: kk.label,
      split: splits[k],
      source: d.file.source,
      path: d.file.relPath,
      sha: d.sha,
      phash: d.phash,
      origWidth: d.origWidth,
      origHeight: d.origHeight,
      group: kk.group,
      groupSize: kk.groupSize,
      groupSources: kk.groupSources,
      origSplit: d.file.origSplit,
      synthetic: isPhantomFile(d.file),
    };
    await writer.add(buf, rec);
    bump(counts, splits[k], kk.label);
    bump(perSourceKept.get(d.file.source)!, splits[k], kk.label);
  }
  await writer.close();
  await scratch.close();
  await rm(scratchPath, { force: true });
  const secWrite = (Date.now() - tWrite) / 1000;

  // 6. report
  const keptSplitOf = new Map<number, Split>();
  kept.forEach((k, i) => {
    keptSplitOf.set(k.item, splits[i]);
  });
  const member = (m: number) => ({ source: ok[m].file.source, path: ok[m].file.relPath, label: ok[m].file.label, origSplit: ok[m].file.origSplit });
  const linksByGroup = new Map<number, typeof dup.links>();
  for (const l of dup.links) {
    const g = dup.groupOf[l.a];
    const arr = linksByGroup.get(g) ?? [];
    if (arr.length < 12) arr.push(l);
    linksByGroup.set(g, arr);
  }
  const example = (g: number, kind: GroupExample['kind']): GroupExample => {
    const { members, res } = groupInfo[g];
    return {
      kind,
      members: members.slice(0, 12).map(member),
      kept: res.keep === null ? null : { ...member(res.keep), label: res.label!, split: keptSplitOf.get(res.keep)! },
      links: (linksByGroup.get(g) ?? []).map((l) => ({
        a: idOf(ok[l.a]),
        b: idOf(ok[l.b]),
        kind: l.kind,
        hamming: l.hamming,
        correlation: Math.round(l.correlation * 1000) / 1000,
      })),
    };
  };
  const bySha = new Map<string, number[]>();
  ok.forEach((d, i) => {
    bySha.set(d.sha, [...(bySha.get(d.sha) ?? []), i]);
  });
  const exactGroups = [...bySha.values()].filter((g) => g.length > 1);
  const nearGroups = new Set(dup.links.filter((l) => l.kind === 'near').map((l) => dup.groupOf[l.a]));
  const sourcesOf = (ms: number[]) => new Set(ms.map((m) => ok[m].file.source)).size;
  const examples: GroupExample[] = [];
  const firstExact = dup.groups.findIndex((g) => !nearGroups.has(dup.groupOf[g[0]]));
  if (firstExact >= 0) examples.push(example(firstExact, 'exact'));
  let nearShown = 0;
  for (const g of nearGroups) {
    if (nearShown++ >= 3) break;
    examples.push(example(g, 'near'));
  }
  for (const g of conflictExamples) examples.push(example(g, 'conflict'));
  const touching = groupInfo.filter((gi) => gi.res.touchesTest && gi.members.some((m) => !cands[m].fromTest));
  for (const gi of touching.slice(0, 2)) examples.push(example(dup.groupOf[gi.members[0]], 'test-touching'));

  const found = (l: SourceListing) => {
    const f: Record<string, Record<string, number>> = {};
    for (const file of l.files) {
      const s = file.origSplit === 'train' ? 'Training' : file.origSplit === 'test' ? 'Testing' : '(no split folder)';
      f[s] = f[s] ?? {};
      f[s][file.label] = (f[s][file.label] ?? 0) + 1;
    }
    return f;
  };
  const decodedBySource = new Map<string, number>();
  for (const d of ok) decodedBySource.set(d.file.source, (decodedBySource.get(d.file.source) ?? 0) + 1);
  const skippedBySource = new Map<string, number>();
  for (const s of skipped) skippedBySource.set(s.source, (skippedBySource.get(s.source) ?? 0) + 1);
  const totalFiles = listings.reduce((a, l) => a + l.files.length + l.stray.length, 0);
  const report: IngestReport = {
    stage: 'ingest',
    key: plan.key,
    synthetic,
    note,
    classes: settings.classes,
    image: { size: opts.size, channels: opts.channels, fit: opts.fit },
    split: { ...settings.split, seed: experiment.seed },
    totals: {
      files: totalFiles,
      decoded: ok.length,
      skipped: skipped.length,
      kept: kept.length,
      dropped: ok.length - kept.length,
    },
    counts,
    sources: listings.map((l) => ({
      name: l.source,
      kind: plan.sources.find((s) => s.name === l.source)!.kind,
      synthetic: synthetic.includes(l.source),
      root: displayRoot(l.root),
      layout: l.layout,
      files: l.files.length + l.stray.length,
      decoded: decodedBySource.get(l.source) ?? 0,
      skipped: skippedBySource.get(l.source) ?? 0,
      kept: perSourceKept.get(l.source)!,
      found: found(l),
    })),
    duplicates: {
      settings: { ...dd },
      exact: {
        groups: exactGroups.length,
        copies: exactGroups.reduce((a, g) => a + g.length, 0),
        extraCopies: exactGroups.reduce((a, g) => a + g.length - 1, 0),
        crossSourceGroups: exactGroups.filter((g) => sourcesOf(g) > 1).length,
        labelConflicts: exactGroups.filter((g) => new Set(g.map((m) => ok[m].file.label)).size > 1).length,
      },
      near: { links: dup.links.filter((l) => l.kind === 'near').length, rejectedByCorrelation: dup.rejectedNear, groupsWithNearLinks: nearGroups.size },
      groups: dup.groups.length,
      imagesInGroups: dup.groups.reduce((a, g) => a + g.length, 0),
      removedAsCopies: dup.groups.reduce((a, g) => a + g.length, 0) - groupInfo.filter((g) => g.res.keep !== null).length - conflictDropped,
      largestGroup: dup.groups.reduce((a, g) => Math.max(a, g.length), 0),
      crossSourceGroups: dup.groups.filter((g) => sourcesOf(g) > 1).length,
      touchingTestGroups: touching.length,
      conflicts: { rule: dd.conflicts, groups: conflictGroups, imagesDropped: conflictDropped, groupsKeptByMajority: majorityKept },
      examples,
    },
    skipped: skipped.sort((a, b) => (a.source + a.path < b.source + b.path ? -1 : 1)),
    seconds: {
      list: plan.listSeconds,
      decode: secDecode,
      dedup: secDedup,
      write: secWrite,
      total: (Date.now() - t0) / 1000,
    },
  };
  await writeFile(path.join(dir, REPORT_FILE), JSON.stringify(report, null, 2));
  log(`[ingest] ${kept.length} kept of ${files.length} files in ${report.seconds.total.toFixed(1)} s`);
  return report;
}

/** Reads the report of an ingest output folder. */
export async function readIngestReport(dir: string): Promise<IngestReport> {
  return JSON.parse(await readFile(path.join(dir, REPORT_FILE), 'utf8')) as IngestReport;
}

/** Runs (or finds in the cache) the ingest stage of an experiment. */
export async function runIngest(experiment: Experiment, ctx: IngestContext = {}): Promise<IngestResult> {
  const log = ctx.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const plan = await planIngest(experiment);
  const result = await runStage({
    runsDir: experiment.runsDir,
    stage: INGEST_STAGE,
    key: plan.key,
    meta: { code: codeHash('ingest'), experiment: experiment.file, listing: plan.fingerprint, settings: plan.settings, seed: experiment.seed },
    log,
    build: async (tmp) => {
      await buildIngest(tmp, plan, experiment, log, ctx.concurrency ?? 4);
    },
  });
  return { stage: result.stage, key: result.key, dir: result.dir, hit: result.hit };
}

export { formatReport };

/** The ingest stage as the pipeline runs it (core/pipeline.ts): no upstream stage. */
export const ingestRunner: StageRunner = (experiment, _upstream, ctx) => runIngest(experiment, { log: ctx.log });
