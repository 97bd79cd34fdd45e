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
  const d = img.data;
  const out = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    out[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
  return out;
}
