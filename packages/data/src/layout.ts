/**
 * Listing a source folder in the Kaggle layouts of the brain-MRI sets:
 *   <root>/Training/<class>/<files>  and  <root>/Testing/<class>/<files>   (split folders), or
 *   <root>/<class>/<files>                                                   (no split folders).
 * A root holding nothing but one folder (a zip's wrapper folder) is descended into. Folder names are
 * matched case-insensitively; class folders are mapped to class names through the aliases.
 * A multi-frame DICOM file is listed once per frame (`<path>#frame=<n>`, n from 1; `frame` 0-based).
 */
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '@mri-robust/core';
import { isDicom, readDicomHeader } from './dicom.ts';

type OrigSplit = 'train' | 'test' | null;

export interface SourceFile {
  source: string;
  /** Path relative to the source root, with "/" separators. */
  relPath: string;
  absPath: string;
  label: string;
  origSplit: OrigSplit;
  size: number;
  mtimeMs: number;
  /** Set when the file could not even be stat'ed (dangling link, permission): it is skipped. */
  error?: string;
  /** One frame (0-based) of a multi-frame DICOM file; relPath then ends in `#frame=<frame + 1>`. */
  frame?: number;
}

/** A file found outside any class folder (reported as skipped, not ingested). */
interface StrayFile {
  source: string;
  relPath: string;
  reason: string;
}

export interface SourceListing {
  source: string;
  root: string;
  /** How the layout was read, for the report. */
  layout: string;
  files: SourceFile[];
  stray: StrayFile[];
}

/** Names that may hold DICOM: .dcm/.dicom/.ima, or no extension at all (scanner exports). */
const MAYBE_DICOM = /(\.(dcm|dicom|ima)|(^|\/)[^./]+)$/i;
const HEADER_PROBE_BYTES = 64 * 1024;

/**
 * The number of frames of a DICOM file (1 for anything else or an unreadable header: decoding then
 * says why). Reads the first 64 KiB (the whole file when the header is longer), never the pixels'
 * worth of a large file unless it must.
 */
async function dicomFrames(absPath: string): Promise<number> {
  let head: Buffer;
  let size: number;
  try {
    const fh = await open(absPath, 'r');
    try {
      size = (await fh.stat()).size;
      head = Buffer.alloc(Math.min(size, HEADER_PROBE_BYTES));
      await fh.read(head, 0, head.length, 0);
    } finally {
      await fh.close();
    }
  } catch {
    return 1;
  }
  if (!isDicom(head)) return 1;
  for (const bytes of [head, ...(size > head.length ? [null] : [])]) {
    try {
      return readDicomHeader(bytes ?? (await readFile(absPath))).frames;
    } catch {
      // header longer than the probe (or not decodable): try the whole file, else let decoding say why
    }
  }
  return 1;
}

/** One entry per frame for a multi-frame DICOM file, else the entry itself. */
async function expandFrames(f: SourceFile): Promise<SourceFile[]> {
  if (f.error || !MAYBE_DICOM.test(f.relPath)) return [f];
  const frames = await dicomFrames(f.absPath);
  if (frames <= 1) return [f];
  return Array.from({ length: frames }, (_, k) => ({ ...f, relPath: `${f.relPath}#frame=${k + 1}`, frame: k }));
}

/** Built-in folder-name → class aliases (lower case keys, matched after lower-casing). */
const BUILTIN_ALIASES: Readonly<Record<string, string>> = {
  glioma: 'glioma',
  glioma_tumor: 'glioma',
  'glioma tumor': 'glioma',
  meningioma: 'meningioma',
  meningioma_tumor: 'meningioma',
  'meningioma tumor': 'meningioma',
  notumor: 'notumor',
  no_tumor: 'notumor',
  'no tumor': 'notumor',
  'no-tumor': 'notumor',
  normal: 'notumor',
  pituitary: 'pituitary',
  pituitary_tumor: 'pituitary',
  'pituitary tumor': 'pituitary',
};

const TRAIN_NAMES = new Set(['training', 'train']);
const TEST_NAMES = new Set(['testing', 'test']);

/** Maps a folder name to a class, or null. User aliases win over built-in ones; exact class names always match. */
function classForFolder(folder: string, classes: readonly string[], aliases: Readonly<Record<string, string>> = {}): string | null {
  const lower = folder.toLowerCase();
  for (const c of classes) if (c.toLowerCase() === lower) return c;
  for (const [k, v] of Object.entries(aliases)) if (k.toLowerCase() === lower && classes.includes(v)) return v;
  const builtin = BUILTIN_ALIASES[lower];
  return builtin && classes.includes(builtin) ? builtin : null;
}

async function dirents(dir: string) {
  const list = await readdir(dir, { withFileTypes: true });
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** What a listing walk shares: the source's real root, folders reached through links, skipped entries. */
interface WalkState {
  source: string;
  base: string;
  realRoot: string;
  /** Real path of each folder reached through a link → the link's path (relative to base). */
  followed: Map<string, string>;
  stray: StrayFile[];
}

function specialKind(s: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  return s.isFIFO() ? 'named pipe' : s.isSocket() ? 'socket' : s.isCharacterDevice() || s.isBlockDevice() ? 'device' : 'special file';
}

const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/**
 * Every regular file below `dir` (recursively), as paths relative to `st.base`. Hidden entries are
 * skipped. A link to a folder inside the source folder is not followed (it would list files again,
 * under another class, or loop forever); a link to a folder outside is followed once, however many
 * links lead to it. Named pipes, sockets and devices are never opened. Each skip is reported.
 */
async function walk(dir: string, st: WalkState, out: string[]): Promise<void> {
  for (const d of await dirents(dir)) {
    if (d.name.startsWith('.')) continue;
    const abs = path.join(dir, d.name);
    const rel = path.relative(st.base, abs).split(path.sep).join('/');
    if (d.isDirectory()) await walk(abs, st, out);
    else if (d.isFile()) out.push(rel);
    else if (d.isSymbolicLink()) {
      let target: Awaited<ReturnType<typeof stat>>;
      try {
        target = await stat(abs);
      } catch {
        out.push(rel); // a dangling link: listed, and reported unreadable by fileEntry
        continue;
      }
      if (target.isFile()) out.push(rel);
      else if (target.isDirectory()) {
        const real = await realpath(abs);
        const seen = st.followed.get(real);
        if (inside(st.realRoot, real)) {
          const to = path.relative(st.realRoot, real).split(path.sep).join('/') || '.';
          st.stray.push({ source: st.source, relPath: rel, reason: `link back into the source folder (to ${to}); not followed` });
        } else if (inside(real, st.realRoot)) {
          st.stray.push({ source: st.source, relPath: rel, reason: `link back into the source folder (to ${real}, which holds it); not followed` });
        } else if (seen !== undefined) {
          st.stray.push({ source: st.source, relPath: rel, reason: `link to a folder already listed through ${seen}; not followed` });
        } else {
          st.followed.set(real, rel);
          await walk(abs, st, out);
        }
      } else st.stray.push({ source: st.source, relPath: rel, reason: `not a regular file (${specialKind(target)}); not read` });
    } else st.stray.push({ source: st.source, relPath: rel, reason: `not a regular file (${specialKind(d)}); not read` });
  }
}

async function fileEntry(source: string, root: string, relPath: string, label: string, origSplit: OrigSplit): Promise<SourceFile> {
  const absPath = path.join(root, ...relPath.split('/'));
  try {
    const s = await stat(absPath);
    return { source, relPath, absPath, label, origSplit, size: s.size, mtimeMs: Math.round(s.mtimeMs) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return { source, relPath, absPath, label, origSplit, size: -1, mtimeMs: 0, error: `unreadable (${code})` };
  }
}

/** Lists one Kaggle-layout source. Throws UserError when the root is missing or holds no class folder. */
export async function listKaggleSource(
  source: string,
  rootIn: string,
  classes: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): Promise<SourceListing> {
  if (!existsSync(rootIn)) throw new UserError(`data source "${source}": root folder ${rootIn} does not exist`);
  if (!statSync(rootIn).isDirectory()) throw new UserError(`data source "${source}": root ${rootIn} is not a folder`);
  let root = rootIn;
  // descend through a lone wrapper folder
  for (let i = 0; i < 3; i++) {
    const entries = (await dirents(root)).filter((d) => !d.name.startsWith('.'));
    const sub = entries.filter((d) => d.isDirectory());
    const known = sub.some((d) => {
      const n = d.name.toLowerCase();
      return TRAIN_NAMES.has(n) || TEST_NAMES.has(n) || classForFolder(d.name, classes, aliases) !== null;
    });
    if (!known && sub.length === 1 && entries.length === 1) root = path.join(root, sub[0].name);
    else break;
  }

  const files: SourceFile[] = [];
  const stray: StrayFile[] = [];
  const walkState: WalkState = { source, base: root, realRoot: await realpath(root), followed: new Map(), stray };
  const unknownFolders: string[] = [];
  const top = (await dirents(root)).filter((d) => !d.name.startsWith('.'));
  const splitDirs = top.filter((d) => d.isDirectory() && (TRAIN_NAMES.has(d.name.toLowerCase()) || TEST_NAMES.has(d.name.toLowerCase())));

  const readClassDirs = async (dir: string, prefix: string, origSplit: OrigSplit) => {
    for (const d of await dirents(dir)) {
      if (d.name.startsWith('.')) continue;
      const rel = prefix ? `${prefix}/${d.name}` : d.name;
      const abs = path.join(dir, d.name);
      if (!(d.isDirectory() || (d.isSymbolicLink() && (await isDir(abs))))) {
        stray.push({ source, relPath: rel, reason: 'not inside a class folder' });
        continue;
      }
      const label = classForFolder(d.name, classes, aliases);
      if (!label) {
        unknownFolders.push(rel);
        continue;
      }
      const rels: string[] = [];
      await walk(abs, walkState, rels);
      // stat in parallel batches: listing is on the hot path of every (cached) run
      for (let i = 0; i < rels.length; i += 64) {
        const entries = await Promise.all(rels.slice(i, i + 64).map(async (r) => expandFrames(await fileEntry(source, root, r, label, origSplit))));
        files.push(...entries.flat());
      }
    }
  };

  let layout: string;
  if (splitDirs.length > 0) {
    layout = `split folders (${splitDirs.map((d) => d.name).join(', ')}) with class folders`;
    for (const d of top) {
      if (splitDirs.includes(d)) continue;
      if (d.isDirectory()) unknownFolders.push(d.name);
      else stray.push({ source, relPath: d.name, reason: 'not inside a class folder' });
    }
    for (const d of splitDirs) {
      await readClassDirs(path.join(root, d.name), d.name, TEST_NAMES.has(d.name.toLowerCase()) ? 'test' : 'train');
    }
  } else {
    layout = 'class folders';
    await readClassDirs(root, '', null);
  }
  if (unknownFolders.length > 0) {
    throw new UserError(
      `data source "${source}" (${root}): folder(s) ${unknownFolders.map((f) => `"${f}"`).join(', ')} match no class of data.classes ` +
        `(${classes.join(', ')}); add them to data.aliases (folder: class) or remove them`,
    );
  }
  if (files.length === 0) {
    throw new UserError(
      `data source "${source}": no class folders with files under ${root} (expected [Training|Testing/]<class>/<images> with classes ${classes.join(', ')})`,
    );
  }
  if (root !== rootIn) layout += ` inside ${path.relative(rootIn, root)}/`;
  return { source, root, layout, files, stray };
}
