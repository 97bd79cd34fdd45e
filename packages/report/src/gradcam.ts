/**
 * The best trial's Grad-CAM gallery, written by the sweep to `<runs>/trials/<sweep>/gradcam/`
 * (gallery.json + overlay JPEGs, or PNGs from older sweeps): a few clean test scans per class and the same scans under every
 * noisy test set. The report inlines the images as data: URIs.
 */
import fs from 'node:fs';
import path from 'node:path';

interface GalleryCell {
  set: string;
  id: string;
  label: string;
  predicted: string;
  probability: number;
  correct: boolean;
  /** data: URI of the overlay, or null when its file is missing. */
  dataUri: string | null;
}

export interface GradCamGallery {
  file: string;
  model: string;
  /** The split the scans come from: the sweep draws them from its test split (gallery.json `split`, default 'test'). */
  split: string;
  /** 'clean' first, then the noisy set ids in the order the sweep wrote them. */
  sets: string[];
  /** Scan ids in gallery order (per class). */
  scans: { id: string; label: string }[];
  cells: GalleryCell[];
}

interface GalleryJson {
  model: string;
  split?: string;
  items: { set: string; id: string; label: string; predicted: string; probability: number; correct: boolean; file: string }[];
}

function galleryFile(runsDir: string, sweepId: string): string {
  return path.join(runsDir, 'trials', sweepId, 'gradcam', 'gallery.json');
}

/** Reads the gallery of a sweep, or null when the sweep wrote none. */
export function readGallery(runsDir: string, sweepId: string): GradCamGallery | null {
  const file = galleryFile(runsDir, sweepId);
  if (!fs.existsSync(file)) return null;
  let json: GalleryJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as GalleryJson;
  } catch {
    return null;
  }
  const dir = path.dirname(file);
  const sets: string[] = [];
  const scans: { id: string; label: string }[] = [];
  const cells = json.items.map((it): GalleryCell => {
    if (!sets.includes(it.set)) sets.push(it.set);
    if (!scans.some((s) => s.id === it.id)) scans.push({ id: it.id, label: it.label });
    const image = path.resolve(dir, it.file);
    // Only files inside the gallery folder are read.
    const inside = image.startsWith(dir + path.sep) && fs.existsSync(image);
    const mime = /\.jpe?g$/i.test(image) ? 'image/jpeg' : 'image/png';
    const dataUri = inside ? `data:${mime};base64,${fs.readFileSync(image).toString('base64')}` : null;
    return { set: it.set, id: it.id, label: it.label, predicted: it.predicted, probability: it.probability, correct: it.correct, dataUri };
  });
  return { file, model: json.model, split: typeof json.split === 'string' && json.split ? json.split : 'test', sets, scans, cells };
}
