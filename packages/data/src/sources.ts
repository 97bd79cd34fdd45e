/**
 * Sources of an experiment's `data` section: resolving their folders, listing them (Kaggle folders
 * on disk or synthetic phantoms) and fingerprinting the listings for the stage key and for Nx.
 */
import path from 'node:path';
import { deriveSeed, hashObject, resolveFrom, workspaceRoot, type Experiment } from '@mri-robust/core';
import { listKaggleSource, type SourceFile, type SourceListing } from './layout.ts';
import { type DataSettings, dataSettingsOf, type PhantomSource, type SourceSettings } from './schema.ts';

export type ResolvedSource = { name: string; kind: 'kaggle'; root: string } | ({ kind: 'phantom' } & PhantomSource);

/** A phantom "file": where it would sit in a Kaggle layout, and the seed that draws it. */
export interface PhantomFile extends SourceFile {
  phantomSeed: number;
  phantomSize: number;
}

/** Absolute folders: `data.root` relative to the experiment file, source roots relative to `data.root`. */
export function resolveSources(experiment: Experiment, settings: DataSettings = dataSettingsOf(experiment)): ResolvedSource[] {
  const dataRoot = resolveFrom(experiment.file, settings.root ?? '.');
  const seen = new Set<string>();
  return settings.sources.map((s: SourceSettings) => {
    if (seen.has(s.name)) throw new Error(`data.sources: the name "${s.name}" is used twice`);
    seen.add(s.name);
    if (s.kind === 'phantom') return { ...s, kind: 'phantom' as const };
    const root = path.isAbsolute(s.root) ? s.root : path.resolve(dataRoot, s.root);
    return { name: s.name, kind: 'kaggle' as const, root };
  });
}

/** Lists phantoms as if they were files: <Training|Testing>/<class>/phantom-NNNNN.png. */
function listPhantomSource(src: Extract<ResolvedSource, { kind: 'phantom' }>, classes: readonly string[], seed: number): SourceListing {
  const files: PhantomFile[] = [];
  const nTest = Math.round(src.count_per_class * src.test_fraction);
  classes.forEach((label) => {
    for (let i = 0; i < src.count_per_class; i++) {
      const test = i < nTest;
      const relPath = `${test ? 'Testing' : 'Training'}/${label}/phantom-${String(i).padStart(5, '0')}.png`;
      files.push({
        source: src.name,
        relPath,
        absPath: `phantom://${src.name}/${relPath}`,
        label,
        origSplit: test ? 'test' : 'train',
        size: 0,
        mtimeMs: 0,
        phantomSeed: deriveSeed(seed, 'phantom', src.name, label, i),
        phantomSize: src.size,
      });
    }
  });
  return { source: src.name, root: `phantom://${src.name}`, layout: 'synthetic phantoms (not real MRI)', files, stray: [] };
}

export function isPhantomFile(f: SourceFile): f is PhantomFile {
  return 'phantomSeed' in f;
}

export async function listSources(sources: readonly ResolvedSource[], settings: DataSettings, seed: number): Promise<SourceListing[]> {
  const out: SourceListing[] = [];
  for (const s of sources) {
    if (s.kind === 'phantom') out.push(listPhantomSource(s, settings.classes, seed));
    else out.push(await listKaggleSource(s.name, s.root, settings.classes, settings.aliases ?? {}));
  }
  return out;
}

/** Hash of what a listing depends on: per file path, size, mtime and class; phantoms by their seeds. */
export function listingFingerprint(listings: readonly SourceListing[]): string {
  return hashObject(
    listings.map((l) => ({
      source: l.source,
      files: l.files.map((f) => [f.relPath, f.label, f.origSplit, f.size, f.mtimeMs, f.error ?? '', isPhantomFile(f) ? f.phantomSeed : 0]),
      stray: l.stray.map((s) => s.relPath),
    })),
  );
}

/** A root as written into keys and reports: relative to the workspace (stable across clones). */
export function displayRoot(root: string): string {
  if (root.startsWith('phantom://')) return root;
  return path.relative(workspaceRoot(), root).split(path.sep).join('/') || '.';
}
