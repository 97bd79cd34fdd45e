/** A float image in [0, 1], row-major HWC (the layout of core's image-set shards). */
export interface FloatImage {
  height: number;
  width: number;
  channels: number;
  data: Float32Array;
}

function createImage(height: number, width: number, channels: number, data?: Float32Array): FloatImage {
  const n = height * width * channels;
  if (data && data.length !== n) throw new RangeError(`image data has ${data.length} values, expected ${height}x${width}x${channels} = ${n}`);
  return { height, width, channels, data: data ?? new Float32Array(n) };
}

/** uint8 HWC pixels (an image-set record) → float image in [0, 1]. */
export function fromUint8(pixels: Uint8Array, height: number, width: number, channels: number): FloatImage {
  const img = createImage(height, width, channels);
  const d = img.data;
  if (pixels.length !== d.length) throw new RangeError(`pixels have ${pixels.length} bytes, expected ${d.length}`);
  for (let i = 0; i < d.length; i++) d[i] = pixels[i] / 255;
  return img;
}

/** Float image → uint8 (clipped to [0, 1], rounded). */
export function toUint8(img: FloatImage): Uint8Array {
  // A clamped array clips to [0, 255] and rounds (half to even) on assignment; NaN becomes 0.
  const out = new Uint8ClampedArray(img.data.length);
  const d = img.data;
  for (let i = 0; i < d.length; i++) out[i] = d[i] * 255;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Splits HWC data into one plane per channel. */
export function toPlanes(img: FloatImage): Float32Array[] {
  const { height, width, channels, data } = img;
  const n = height * width;
  if (channels === 1) return [data.slice()];
  const planes = Array.from({ length: channels }, () => new Float32Array(n));
  for (let i = 0, j = 0; i < n; i++) for (let c = 0; c < channels; c++, j++) planes[c][i] = data[j];
  return planes;
}

/** Joins planes back into HWC data, clipping to [0, 1] (NaN → 0). */
export function fromPlanes(planes: Float32Array[], height: number, width: number, channels: number): FloatImage {
  const n = height * width;
  const data = new Float32Array(n * channels);
  for (let c = 0; c < channels; c++) {
    const p = planes.length === 1 ? planes[0] : planes[c];
    for (let i = 0; i < n; i++) {
      const v = p[i];
      data[i * channels + c] = v > 0 ? Math.min(v, 1) : 0;
    }
  }
  return { height, width, channels, data };
}

/** True when every channel holds the same values (a grey image stored as RGB). */
export function isGrey(img: FloatImage): boolean {
  const { channels, data } = img;
  if (channels === 1) return true;
  for (let i = 0; i < data.length; i += channels) {
    const v = data[i];
    for (let c = 1; c < channels; c++) if (data[i + c] !== v) return false;
  }
  return true;
}

/** The first channel as a plane (for grey images). */
export function firstPlane(img: FloatImage): Float32Array {
  const { height, width, channels, data } = img;
  const n = height * width;
  if (channels === 1) return data.slice();
  const p = new Float32Array(n);
  for (let i = 0; i < n; i++) p[i] = data[i * channels];
  return p;
}
