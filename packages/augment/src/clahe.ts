/**
 * Contrast-limited adaptive histogram equalisation (Zuiderveld 1994, as in OpenCV's createCLAHE):
 * the image is cut into a `tiles × tiles` grid; each tile's 256-bin histogram is clipped at
 * `clipLimit × (tile pixels / 256)`, the excess is spread evenly over all bins, and the tile's
 * cumulative histogram becomes its grey-level map; each pixel is mapped by bilinear interpolation
 * between the maps of the four nearest tile centres. Works on one plane of values in [0, 1].
 */
export function clahePlane(plane: Float32Array, height: number, width: number, tiles: number, clipLimit: number): Float32Array {
  const ty = Math.max(1, Math.min(tiles, height));
  const tx = Math.max(1, Math.min(tiles, width));
  const q = new Uint8Array(plane.length);
  for (let i = 0; i < plane.length; i++) {
    const v = plane[i];
    q[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
  const y0s = Int32Array.from({ length: ty + 1 }, (_, i) => Math.round((i * height) / ty));
  const x0s = Int32Array.from({ length: tx + 1 }, (_, i) => Math.round((i * width) / tx));
  const luts = new Float32Array(ty * tx * 256);
  const hist = new Int32Array(256);
  for (let a = 0; a < ty; a++) {
    for (let b = 0; b < tx; b++) {
      hist.fill(0);
      for (let y = y0s[a]; y < y0s[a + 1]; y++) for (let x = x0s[b]; x < x0s[b + 1]; x++) hist[q[y * width + x]]++;
      const area = (y0s[a + 1] - y0s[a]) * (x0s[b + 1] - x0s[b]);
      if (clipLimit > 0) {
        const limit = Math.max(1, Math.floor((clipLimit * area) / 256));
        let excess = 0;
        for (let i = 0; i < 256; i++) {
          if (hist[i] > limit) {
            excess += hist[i] - limit;
            hist[i] = limit;
          }
        }
        const add = Math.floor(excess / 256);
        let residual = excess - add * 256;
        for (let i = 0; i < 256; i++) hist[i] += add;
        if (residual > 0) {
          const step = Math.max(1, Math.floor(256 / residual));
          for (let i = 0; i < 256 && residual > 0; i += step, residual--) hist[i]++;
        }
      }
      const lut = luts.subarray((a * tx + b) * 256, (a * tx + b + 1) * 256);
      let cum = 0;
      const scale = area > 0 ? 1 / area : 0;
      for (let i = 0; i < 256; i++) {
        cum += hist[i];
        lut[i] = cum * scale;
      }
    }
  }
  // Tile centres and interpolation.
  const cy = Float64Array.from({ length: ty }, (_, i) => (y0s[i] + y0s[i + 1] - 1) / 2);
  const cx = Float64Array.from({ length: tx }, (_, i) => (x0s[i] + x0s[i + 1] - 1) / 2);
  const locate = (centres: Float64Array, v: number): [number, number, number] => {
    const n = centres.length;
    if (v <= centres[0]) return [0, 0, 0];
    if (v >= centres[n - 1]) return [n - 1, n - 1, 0];
    let i = 0;
    while (centres[i + 1] < v) i++;
    return [i, i + 1, (v - centres[i]) / (centres[i + 1] - centres[i])];
  };
  const colInfo = Array.from({ length: width }, (_, x) => locate(cx, x));
  const out = new Float32Array(plane.length);
  for (let y = 0; y < height; y++) {
    const [a0, a1, fy] = locate(cy, y);
    for (let x = 0; x < width; x++) {
      const [b0, b1, fx] = colInfo[x];
      const v = q[y * width + x];
      const l00 = luts[(a0 * tx + b0) * 256 + v];
      const l01 = luts[(a0 * tx + b1) * 256 + v];
      const l10 = luts[(a1 * tx + b0) * 256 + v];
      const l11 = luts[(a1 * tx + b1) * 256 + v];
      out[y * width + x] = (1 - fy) * ((1 - fx) * l00 + fx * l01) + fy * ((1 - fx) * l10 + fx * l11);
    }
  }
  return out;
}
