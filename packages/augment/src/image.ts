/** A float image in [0, 1], row-major HWC (the layout of core's image-set shards). */
export interface FloatImage {
  height: number;
  width: number;
  channels: number;
  data: Float32Array;
}

/** uint8 HWC pixels → float image in [0, 1]. */
export function floatFromUint8(pixels: Uint8Array, height: number, width: number, channels: number): FloatImage {
  const n = height * width * channels;
  if (pixels.length !== n) throw new RangeError(`pixels have ${pixels.length} bytes, expected ${height}x${width}x${channels} = ${n}`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = pixels[i] / 255;
  return { height, width, channels, data };
}

/** Float image → uint8 (clipped to [0, 1], rounded). */
export function floatToUint8(img: FloatImage): Uint8Array {
  // A clamped array clips to [0, 255] and rounds (half to even) on assignment; NaN becomes 0.
  const out = new Uint8ClampedArray(img.data.length);
  const d = img.data;
  for (let i = 0; i < d.length; i++) out[i] = d[i] * 255;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
