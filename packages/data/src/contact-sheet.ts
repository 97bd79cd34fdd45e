import sharp from 'sharp';

/** One row of a contact sheet: a label and tiles (uint8 HWC, all of the same shape). */
export interface ContactRow {
  label: string;
  tiles: (Uint8Array | null)[];
}

export interface ContactSheetOptions {
  height: number;
  width: number;
  channels: number;
  rows: ContactRow[];
  /** Column headings (e.g. the class of each column). */
  columns?: string[];
  /** Side of a tile in the sheet (default: the image side, at most 128). */
  tile?: number;
  title?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Renders a labelled grid of images to a PNG file (sharp; labels through SVG text). */
export async function writeContactSheet(file: string, o: ContactSheetOptions): Promise<void> {
  const tile = o.tile ?? Math.min(128, Math.max(o.height, o.width));
  const labelW = 170;
  const headH = (o.title ? 22 : 0) + (o.columns ? 18 : 0) + 4;
  const gap = 2;
  const cols = Math.max(1, ...o.rows.map((r) => r.tiles.length));
  const width = labelW + cols * (tile + gap);
  const height = headH + o.rows.length * (tile + gap);
  const texts: string[] = [];
  if (o.title) texts.push(`<text x="4" y="16" font-size="14" font-family="sans-serif" fill="#000">${esc(o.title)}</text>`);
  (o.columns ?? []).forEach((c, i) => {
    const y = (o.title ? 22 : 0) + 14;
    texts.push(`<text x="${labelW + i * (tile + gap) + 2}" y="${y}" font-size="11" font-family="sans-serif" fill="#000">${esc(c)}</text>`);
  });
  o.rows.forEach((r, i) => {
    const y = headH + i * (tile + gap) + tile / 2 + 4;
    texts.push(`<text x="4" y="${y}" font-size="12" font-family="sans-serif" fill="#000">${esc(r.label)}</text>`);
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`;
  const composites: sharp.OverlayOptions[] = [{ input: Buffer.from(svg), left: 0, top: 0 }];
  for (let i = 0; i < o.rows.length; i++) {
    for (let j = 0; j < o.rows[i].tiles.length; j++) {
      const px = o.rows[i].tiles[j];
      if (!px) continue;
      const buf = await sharp(Buffer.from(px.buffer, px.byteOffset, px.byteLength), {
        raw: { width: o.width, height: o.height, channels: o.channels as 1 | 3 },
      })
        .resize(tile, tile, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
        .toColourspace('srgb')
        .png()
        .toBuffer();
      composites.push({ input: buf, left: labelW + j * (tile + gap), top: headH + i * (tile + gap) });
    }
  }
  await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(composites)
    .png()
    .toFile(file);
}

/** Up to `perClass` record indices per class, in class order (the first ones of each class). */
export function sampleByClass(
  records: readonly { label: string }[],
  classes: readonly string[],
  perClass: number,
  keep: (i: number) => boolean = () => true,
): number[] {
  const out: number[] = [];
  for (const c of classes) {
    let n = 0;
    for (let i = 0; i < records.length && n < perClass; i++) {
      if (records[i].label === c && keep(i)) {
        out.push(i);
        n++;
      }
    }
  }
  return out;
}
