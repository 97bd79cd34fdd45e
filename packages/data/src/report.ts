/** The ingest report (report.json) and its printed summary. */
import type { Split } from '@mri-robust/core';

export interface SkippedFile {
  source: string;
  path: string;
  reason: string;
}

export interface GroupExample {
  kind: 'exact' | 'near' | 'conflict' | 'test-touching';
  members: { source: string; path: string; label: string; origSplit: string | null }[];
  kept: { source: string; path: string; label: string; split: Split } | null;
  links: { a: string; b: string; kind: 'exact' | 'near'; hamming: number; correlation: number }[];
}

export type SplitClassCounts = Record<Split, Record<string, number>>;

interface SourceReport {
  name: string;
  kind: 'kaggle' | 'phantom';
  synthetic: boolean;
  root: string;
  layout: string;
  files: number;
  decoded: number;
  skipped: number;
  /** Images of this source kept after de-duplication, by split and class. */
  kept: SplitClassCounts;
  /** Files per original folder split (Training/Testing/none) and class, before de-duplication. */
  found: Record<string, Record<string, number>>;
}

export interface IngestReport {
  stage: 'ingest';
  key: string;
  /** Names of synthetic (phantom) sources: their images are generated, not real MRI. */
  synthetic: string[];
  note: string;
  classes: string[];
  image: { size: number; channels: number; fit: string };
  split: { mode: string; train: number; val: number; test: number; seed: number };
  totals: { files: number; decoded: number; skipped: number; kept: number; dropped: number };
  counts: SplitClassCounts;
  sources: SourceReport[];
  duplicates: {
    settings: { exact: boolean; near: boolean; hamming: number; min_correlation: number; conflicts: string };
    exact: { groups: number; copies: number; extraCopies: number; crossSourceGroups: number; labelConflicts: number };
    near: { links: number; rejectedByCorrelation: number; groupsWithNearLinks: number };
    groups: number;
    imagesInGroups: number;
    removedAsCopies: number;
    largestGroup: number;
    crossSourceGroups: number;
    touchingTestGroups: number;
    conflicts: { rule: string; groups: number; imagesDropped: number; groupsKeptByMajority: number };
    examples: GroupExample[];
  };
  skipped: SkippedFile[];
  seconds: { list: number; decode: number; dedup: number; write: number; total: number };
}

const SPLITS: Split[] = ['train', 'val', 'test'];

function table(counts: SplitClassCounts, classes: readonly string[]): string[] {
  const w = Math.max(8, ...classes.map((c) => c.length)) + 2;
  const lines = [''.padEnd(8) + classes.map((c) => c.padStart(w)).join('') + 'total'.padStart(w)];
  const colTotals = classes.map(() => 0);
  for (const s of SPLITS) {
    const row = classes.map((c) => counts[s]?.[c] ?? 0);
    row.forEach((v, i) => {
      colTotals[i] += v;
    });
    lines.push(s.padEnd(8) + row.map((v) => String(v).padStart(w)).join('') + String(row.reduce((a, b) => a + b, 0)).padStart(w));
  }
  lines.push('total'.padEnd(8) + colTotals.map((v) => String(v).padStart(w)).join('') + String(colTotals.reduce((a, b) => a + b, 0)).padStart(w));
  return lines;
}

/** Human-readable summary: per-class per-split counts, duplicates, skipped files. */
export function formatReport(r: IngestReport, maxSkipped = 50): string {
  const out: string[] = [];
  out.push(
    `ingest ${r.key}: ${r.totals.kept} images kept of ${r.totals.files} files (${r.image.size}×${r.image.size}×${r.image.channels}, fit ${r.image.fit}; split ${r.split.mode}, seed ${r.split.seed})`,
  );
  if (r.synthetic.length > 0) out.push(`NOTE: source(s) ${r.synthetic.join(', ')} are SYNTHETIC phantoms, not real MRI.`);
  out.push('', 'kept images per split and class:', ...table(r.counts, r.classes));
  for (const s of r.sources) {
    out.push('', `source ${s.name}${s.synthetic ? ' (synthetic)' : ''}: ${s.root} — ${s.layout}; ${s.files} files, ${s.decoded} decoded, ${s.skipped} skipped`);
    out.push(...table(s.kept, r.classes).map((l) => `  ${l}`));
  }
  const d = r.duplicates;
  out.push(
    '',
    `duplicates (exact=${d.settings.exact}, near=${d.settings.near}: hamming ≤ ${d.settings.hamming} and thumbnail correlation ≥ ${d.settings.min_correlation}):`,
    `  exact: ${d.exact.groups} groups of identical pixels holding ${d.exact.copies} files (${d.exact.extraCopies} extra copies; ${d.exact.crossSourceGroups} groups span sources; ${d.exact.labelConflicts} with conflicting labels)`,
    `  near: ${d.near.links} near-duplicate links (${d.near.rejectedByCorrelation} hash matches rejected by the correlation check); ${d.near.groupsWithNearLinks} groups contain near links`,
    `  all: ${d.groups} groups holding ${d.imagesInGroups} images; ${d.removedAsCopies} removed as copies; largest group ${d.largestGroup}; ${d.crossSourceGroups} span sources${
      r.split.mode === 'source_test'
        ? `; ${d.touchingTestGroups} touch a Testing folder (kept copy in test)`
        : ' (split fractions: Testing folders are pooled, one copy per group is split)'
    }`,
    `  label conflicts: ${d.conflicts.groups} groups (rule "${d.conflicts.rule}": ${d.conflicts.imagesDropped} images dropped, ${d.conflicts.groupsKeptByMajority} kept by majority)`,
  );
  out.push('', `skipped files: ${r.skipped.length}`);
  for (const s of r.skipped.slice(0, maxSkipped)) out.push(`  ${s.source}/${s.path}: ${s.reason}`);
  if (r.skipped.length > maxSkipped) out.push(`  … ${r.skipped.length - maxSkipped} more in report.json`);
  return out.join('\n');
}
