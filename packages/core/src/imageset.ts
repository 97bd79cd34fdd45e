import { openSync, readSync, closeSync, existsSync } from 'node:fs';
import { mkdir, open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from './errors.ts';

export type Split = 'train' | 'val' | 'test';

/** One image of a set. Stages add their own fields (hashes, noise, augmentation). */
export interface ImageRecord {
  id: string;
  label: string;
  split: Split;
  source: string;
  /** The original file (relative to its source root), or a synthetic name. */
  path: string;
  [extra: string]: unknown;
}

export interface ImageSetShape {
  height: number;
  width: number;
  channels: number;
  classes: string[];
}

export interface ShardInfo {
  file: string;
  count: number;
}

export interface ImageSetHeader extends ImageSetShape {
  format: 'mri-robust/imageset@1';
  dtype: 'uint8';
  count: number;
  shards: ShardInfo[];
  /** Free-form description of the set (stage, settings). */
  info?: unknown;
}

export const IMAGESET_FILE = 'imageset.json';
const DEFAULT_SHARD_BYTES = 256 * 1024 * 1024;

/** Writes pixels (uint8, HWC) into a few large shard files plus imageset.json. */
export class ImageSetWriter {
  private records: ImageRecord[] = [];
  private shards: ShardInfo[] = [];
  private handle: FileHandle | null = null;
  private shardCount = 0;
  private shardBytes = 0;
  private readonly imageBytes: number;

  private constructor(
    readonly dir: string,
    readonly shape: ImageSetShape,
    private readonly maxShardBytes: number,
    private readonly info: unknown,
  ) {
    this.imageBytes = shape.height * shape.width * shape.channels;
  }

  static async create(dir: string, shape: ImageSetShape, options: { maxShardBytes?: number; info?: unknown } = {}): Promise<ImageSetWriter> {
    await mkdir(dir, { recursive: true });
    return new ImageSetWriter(dir, shape, options.maxShardBytes ?? DEFAULT_SHARD_BYTES, options.info);
  }

  get count(): number {
    return this.records.length;
  }

  async add(pixels: Uint8Array, record: ImageRecord): Promise<void> {
    if (pixels.length !== this.imageBytes) {
      throw new Error(
        `image ${record.id}: ${pixels.length} bytes, expected ${this.shape.height}x${this.shape.width}x${this.shape.channels} = ${this.imageBytes}`,
      );
    }
    if (!this.shape.classes.includes(record.label)) {
      throw new Error(`image ${record.id}: label "${record.label}" is not one of ${this.shape.classes.join(', ')}`);
    }
    if (!this.handle || this.shardBytes + this.imageBytes > this.maxShardBytes) await this.rollShard();
    await this.handle!.write(pixels);
    this.shardBytes += this.imageBytes;
    this.shards[this.shards.length - 1].count++;
    this.records.push(record);
  }

  private async rollShard(): Promise<void> {
    if (this.handle) await this.handle.close();
    const file = `shard-${String(this.shardCount++).padStart(3, '0')}.bin`;
    this.handle = await open(path.join(this.dir, file), 'w');
    this.shards.push({ file, count: 0 });
    this.shardBytes = 0;
  }

  async close(): Promise<ImageSetHeader> {
    if (this.handle) await this.handle.close();
    this.handle = null;
    const header: ImageSetHeader = {
      format: 'mri-robust/imageset@1',
      dtype: 'uint8',
      ...this.shape,
      count: this.records.length,
      shards: this.shards,
      ...(this.info === undefined ? {} : { info: this.info }),
    };
    await writeFile(path.join(this.dir, IMAGESET_FILE), JSON.stringify({ header, records: this.records }));
    return header;
  }
}

/** Read access to an image set; shards are read on demand with positioned reads. */
export interface ImageSet {
  dir: string;
  header: ImageSetHeader;
  records: ImageRecord[];
  /** Bytes per image (height × width × channels). */
  imageBytes: number;
  get(index: number): Uint8Array;
  /** Concatenated pixels of the given images, in order. */
  batch(indices: readonly number[]): Uint8Array;
  /** Indices of the records matching a predicate. */
  indicesWhere(pred: (r: ImageRecord, i: number) => boolean): number[];
  close(): void;
}

export async function openImageSet(dir: string): Promise<ImageSet> {
  const file = path.join(dir, IMAGESET_FILE);
  if (!existsSync(file)) throw new UserError(`not an image set: ${file} does not exist`);
  let parsed: { header: ImageSetHeader; records: ImageRecord[] };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as typeof parsed;
  } catch (e) {
    throw new UserError(
      `${file}: not readable JSON (${(e as Error).message}); the stage folder is damaged: npx nx run tuning:doctor --repair moves it aside, the next run rebuilds it`,
    );
  }
  const { header, records } = parsed;
  if (header.format !== 'mri-robust/imageset@1') throw new UserError(`${file}: unknown format ${String(header.format)}`);
  const imageBytes = header.height * header.width * header.channels;
  // index → (shard, offset)
  const shardOf = new Int32Array(header.count);
  const offsetOf = new Float64Array(header.count);
  let i = 0;
  header.shards.forEach((s, si) => {
    for (let k = 0; k < s.count; k++, i++) {
      shardOf[i] = si;
      offsetOf[i] = k * imageBytes;
    }
  });
  const fds = new Map<number, number>();
  const fdFor = (si: number) => {
    let fd = fds.get(si);
    if (fd === undefined) {
      fd = openSync(path.join(dir, header.shards[si].file), 'r');
      fds.set(si, fd);
    }
    return fd;
  };
  const readInto = (index: number, out: Uint8Array, at: number) => {
    if (index < 0 || index >= header.count) throw new RangeError(`image index ${index} outside 0..${header.count - 1}`);
    const n = readSync(fdFor(shardOf[index]), out, at, imageBytes, offsetOf[index]);
    if (n !== imageBytes) throw new Error(`${dir}: shard ${header.shards[shardOf[index]].file} is truncated`);
  };
  return {
    dir,
    header,
    records,
    imageBytes,
    get(index) {
      const out = new Uint8Array(imageBytes);
      readInto(index, out, 0);
      return out;
    },
    batch(indices) {
      const out = new Uint8Array(imageBytes * indices.length);
      indices.forEach((idx, k) => {
        readInto(idx, out, k * imageBytes);
      });
      return out;
    },
    indicesWhere(pred) {
      const out: number[] = [];
      records.forEach((r, k) => {
        if (pred(r, k)) out.push(k);
      });
      return out;
    },
    close() {
      for (const fd of fds.values()) closeSync(fd);
      fds.clear();
    },
  };
}
