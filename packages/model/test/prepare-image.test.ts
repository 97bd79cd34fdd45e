// The upload path of serve:start and model:predict (prepare-image.ts) against the reference path of
// the stages: data's decodeImage for the pixels, imagesToTensor for the network input — equal to the
// byte and to the float, on real scans from ../shared (JPEG as stored, PNG and EXIF-rotated copies).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import { BadImageError, decodeImage } from '@mri-robust/data';
import { selectBackend } from '../src/backend/select.ts';
import { imagesToTensor, PIXEL_SCALINGS } from '../src/nets/preprocess.ts';
import { ImageInputError, pixelsToInput, prepareImage, prepareInput } from '../src/prepare-image.ts';
import type { Preprocessing } from '../src/save.ts';

const testing = path.join(sharedDir(), 'datasets', 'sartaj', 'Testing');
/** The first two scans of each class, as stored (RGB-encoded JPEGs of grey scans, various sizes). */
const scans = readdirSync(testing)
  .sort()
  .flatMap((cls) =>
    readdirSync(path.join(testing, cls))
      .filter((n) => n.endsWith('.jpg'))
      .sort()
      .slice(0, 2)
      .map((n) => ({ name: `${cls}/${n}`, bytes: readFileSync(path.join(testing, cls, n)) })),
  );

const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));

beforeAll(async () => {
  await selectBackend('auto');
});

describe('upload decode (no hashes) = decodeImage', () => {
  it('same pixels and size for real JPEGs, PNG and EXIF-rotated copies, every fit, grey and RGB, two sizes', async () => {
    const meningioma = scans.find((s) => s.name.startsWith('meningioma'))!.bytes;
    const uploads = [
      ...scans,
      // A PNG with alpha (flattened on black) and a JPEG whose EXIF orientation swaps width and height.
      { name: 'png-rgba', bytes: await sharp(meningioma).ensureAlpha(0.6).png().toBuffer() },
      { name: 'jpeg-exif-6', bytes: await sharp(meningioma).jpeg().withMetadata({ orientation: 6 }).toBuffer() },
    ];
    let compared = 0;
    for (const { name, bytes } of uploads) {
      for (const fit of ['pad', 'crop', 'fill'] as const) {
        for (const channels of [1, 3] as const) {
          for (const size of [224, 48]) {
            const pre: Preprocessing = { decode: { size, channels, fit }, inputSize: size, inputChannels: 3, scaling: 'scale_-1_1' };
            const got = await prepareInput(bytes, pre, 50_000_000);
            const ref = await decodeImage(bytes, { size, channels, fit, maxPixels: 50_000_000 });
            expect({ name, w: got.origWidth, h: got.origHeight }).toEqual({ name, w: ref.origWidth, h: ref.origHeight });
            expect(Buffer.from(got.scan.pixels).equals(Buffer.from(ref.pixels)), `${name} ${fit} ${channels} ${size}`).toBe(true);
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(uploads.length * 12);
    // The rotated copy really is rotated (256×162 stored, 162×256 shown).
    const rotated = await prepareInput(
      uploads[uploads.length - 1].bytes,
      { decode: { size: 48, channels: 1, fit: 'pad' }, inputSize: 48, inputChannels: 3, scaling: 'scale_-1_1' },
      5e7,
    );
    expect([rotated.origWidth, rotated.origHeight]).toEqual([162, 256]);
  });

  it("a truncated JPEG is refused with decodeImage's reason", async () => {
    const bytes = scans[0].bytes.subarray(0, Math.floor(scans[0].bytes.length / 2));
    const pre: Preprocessing = { decode: { size: 48, channels: 1, fit: 'pad' }, inputSize: 48, inputChannels: 3, scaling: 'scale_-1_1' };
    const reason = await decodeImage(bytes, { size: 48, channels: 1, fit: 'pad', maxPixels: 5e7 }).then(
      () => 'decoded',
      (e: unknown) => (e instanceof BadImageError ? e.reason : String(e)),
    );
    expect(reason).toMatch(/truncated|corrupt/);
    const err = await prepareInput(bytes, pre, 5e7).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageInputError);
    expect((err as ImageInputError).message).toBe(`unusable JPEG image: ${reason}`);
  });
});

describe('network input without tfjs = imagesToTensor', () => {
  // Every byte value, in a 16×16 grey image and a 16×16 RGB image whose channels differ.
  const grey = Uint8Array.from({ length: 256 }, (_, i) => i);
  const rgb = Uint8Array.from({ length: 256 * 3 }, (_, i) => (i % 3 === 0 ? i / 3 : i % 3 === 1 ? 255 - Math.floor(i / 3) : (Math.floor(i / 3) * 7) % 256));
  const reference = (pixels: Uint8Array, channels: number, inputSize: number, inputChannels: number, scaling: (typeof PIXEL_SCALINGS)[number]) => {
    const t = imagesToTensor(pixels, 1, { height: 16, width: 16, channels }, { inputSize, inputChannels, scaling });
    const data = t.dataSync();
    t.dispose();
    return data;
  };

  it.each(PIXEL_SCALINGS)('%s: every byte value, grey → 3, grey → 1, RGB → 3 (table) and with a resize (tfjs)', (scaling) => {
    const cases = [
      { pixels: grey, channels: 1, inputChannels: 3, inputSize: 16 },
      { pixels: grey, channels: 1, inputChannels: 1, inputSize: 16 },
      { pixels: rgb, channels: 3, inputChannels: 3, inputSize: 16 },
      { pixels: rgb, channels: 3, inputChannels: 1, inputSize: 16 },
      { pixels: grey, channels: 1, inputChannels: 3, inputSize: 12 },
    ].filter((c) => scaling !== 'caffe_bgr_mean' || c.inputChannels === 3);
    for (const c of cases) {
      const got = pixelsToInput(
        { pixels: c.pixels, width: 16, height: 16, channels: c.channels },
        { inputSize: c.inputSize, inputChannels: c.inputChannels, scaling },
      );
      const want = reference(c.pixels, c.channels, c.inputSize, c.inputChannels, scaling);
      expect(got).toBeInstanceOf(Float32Array);
      expect(same(got, want), `${scaling} ${c.channels} → ${c.inputChannels} at ${c.inputSize}`).toBe(true);
    }
  });

  it('prepareImage (the tensor) holds what prepareInput gives', async () => {
    const pre: Preprocessing = { decode: { size: 64, channels: 1, fit: 'pad' }, inputSize: 64, inputChannels: 3, scaling: 'caffe_bgr_mean' };
    const [a, b] = [await prepareInput(scans[1].bytes, pre, 5e7), await prepareImage(scans[1].bytes, pre, 5e7)];
    expect(b.input.shape).toEqual([1, 64, 64, 3]);
    expect(same(a.input, b.input.dataSync())).toBe(true);
    b.input.dispose();
  });
});
