/**
 * What the report reads from the stage outputs named in the sweep's `stages` column: the contact
 * sheets of the noise and augment stages and the ingest `report.json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { SweepInfo } from './types.ts';
import { readGallery, type GradCamGallery } from './gradcam.ts';

interface ContactSheet {
  stage: string;
  caption: string;
  /** data: URI of the sheet re-encoded as JPEG (see sheetDataUri), or null when the file is missing. */
  dataUri: string | null;
  file: string;
}

export interface StageArtifacts {
  /** Resolved folder per stage (only stages whose folder exists). */
  dirs: Record<string, string>;
  sheets: ContactSheet[];
  ingestReport: unknown;
  ingestReportFile: string | null;
  /** The best trial's Grad-CAM overlays, when the sweep wrote them. */
  gallery: GradCamGallery | null;
}

const SHEETS: { stage: string; caption: string }[] = [
  { stage: 'noise', caption: 'noise stage: clean images and their noisy versions' },
  { stage: 'augment', caption: 'augment stage: augmented training examples' },
];

/** A stage folder as stored (absolute, or relative to the runs folder, its parent or the workspace). */
function resolveStageDir(dir: string, bases: readonly string[]): string | null {
  if (path.isAbsolute(dir)) return fs.existsSync(dir) ? dir : null;
  for (const b of bases) {
    const p = path.resolve(b, dir);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * The contact sheet PNG (1–2 MB of noisy pixels each) inlined as JPEG q 80, about 5× smaller, so
 * that the report stays small enough to mail; the PNG next to the stage output stays the original.
 * An unreadable PNG is inlined as it is, for the browser to show or not.
 */
async function sheetDataUri(file: string): Promise<string> {
  const png = fs.readFileSync(file);
  try {
    const jpeg = await sharp(png).flatten({ background: '#ffffff' }).jpeg({ quality: 80 }).toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return `data:image/png;base64,${png.toString('base64')}`;
  }
}

export async function readStageArtifacts(sweep: SweepInfo, bases: readonly string[], runsDir?: string): Promise<StageArtifacts> {
  const dirs: Record<string, string> = {};
  for (const [stage, ref] of Object.entries(sweep.stages)) {
    const d = ref.dir ? resolveStageDir(ref.dir, bases) : null;
    if (d) dirs[stage] = d;
  }
  const sheets: ContactSheet[] = [];
  for (const { stage, caption } of SHEETS) {
    const ref = sweep.stages[stage];
    if (!ref) continue;
    const file = dirs[stage] ? path.join(dirs[stage], 'contact-sheet.png') : path.join(ref.dir ?? '?', 'contact-sheet.png');
    const dataUri = dirs[stage] && fs.existsSync(file) ? await sheetDataUri(file) : null;
    sheets.push({ stage, caption, dataUri, file });
  }
  let ingestReport: unknown = null;
  let ingestReportFile: string | null = null;
  if (dirs.ingest) {
    const f = path.join(dirs.ingest, 'report.json');
    if (fs.existsSync(f)) {
      ingestReportFile = f;
      try {
        ingestReport = JSON.parse(fs.readFileSync(f, 'utf8')) as unknown;
      } catch (e) {
        ingestReport = { error: `unreadable ${f}: ${(e as Error).message}` };
      }
    }
  }
  const gallery = runsDir ? readGallery(runsDir, sweep.sweepId) : null;
  return { dirs, sheets, ingestReport, ingestReportFile, gallery };
}
