/**
 * Pure numeric core of Grad-CAM (Selvaraju et al. 2017): channel weights are the spatial means of
 * the gradients of the class score with respect to the feature map, the map is the ReLU of the
 * weighted sum of the feature channels, normalised to [0, 1] and resized (bilinear) to the image.
 * Arrays are row-major HWC (feature map, gradients) and HW (maps).
 */

/** α_k = mean_ij ∂y/∂A_ijk; cam_ij = ReLU(Σ_k α_k A_ijk). Returns the raw (unnormalised) `h × w` map. */
export function camFromGradients(activations: ArrayLike<number>, gradients: ArrayLike<number>, height: number, width: number, channels: number): Float32Array {
  const n = height * width;
  if (activations.length !== n * channels || gradients.length !== n * channels) {
    throw new Error(`Grad-CAM: activations (${activations.length}) and gradients (${gradients.length}) must both hold ${height}×${width}×${channels} values`);
  }
  const alpha = new Float64Array(channels);
  for (let p = 0; p < n; p++) for (let k = 0; k < channels; k++) alpha[k] += gradients[p * channels + k];
  for (let k = 0; k < channels; k++) alpha[k] /= n;
  const cam = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    let s = 0;
    for (let k = 0; k < channels; k++) s += alpha[k] * activations[p * channels + k];
    cam[p] = s > 0 ? s : 0;
  }
  return cam;
}

/**
 * Layer-CAM (Jiang et al. 2021): cam_ij = ReLU(Σ_k ReLU(∂y/∂A_ijk) · A_ijk) — each location weighted
 * by its own positive gradients instead of the channel mean, which keeps the map sharp at layers
 * below the last one. Returns the raw `h × w` map.
 */
export function layerCamFromGradients(
  activations: ArrayLike<number>,
  gradients: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
): Float32Array {
  const n = height * width;
  if (activations.length !== n * channels || gradients.length !== n * channels) {
    throw new Error(`Layer-CAM: activations (${activations.length}) and gradients (${gradients.length}) must both hold ${height}×${width}×${channels} values`);
  }
  const cam = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    let s = 0;
    for (let k = 0; k < channels; k++) {
      const g = gradients[p * channels + k];
      if (g > 0) s += g * activations[p * channels + k];
    }
    cam[p] = s > 0 ? s : 0;
  }
  return cam;
}

export interface NormalizedMap {
  /** Values in [0, 1]: ReLU(v) / max. All zeros when the map has no positive value. */
  map: Float32Array;
  /** Largest value before normalisation (≤ 0 when the map was empty). */
  max: number;
  /** True when every value was equal (no spatial information, e.g. an all-zero map). */
  constant: boolean;
}

/** ReLU then divide by the maximum. Non-finite values count as 0. */
export function normalizeMap(values: ArrayLike<number>): NormalizedMap {
  const map = new Float32Array(values.length);
  let max = 0;
  let first = Number.NaN;
  let constant = true;
  for (let i = 0; i < values.length; i++) {
    const raw = values[i];
    const v = Number.isFinite(raw) && raw > 0 ? raw : 0;
    map[i] = v;
    if (v > max) max = v;
    if (i === 0) first = v;
    else if (v !== first) constant = false;
  }
  if (max > 0) for (let i = 0; i < map.length; i++) map[i] /= max;
  return { map, max, constant };
}

/**
 * Bilinear resize of an `h × w` map to `H × W` with half-pixel centres (as tf.image.resizeBilinear
 * with halfPixelCenters, and OpenCV's INTER_LINEAR): edges are clamped.
 */
export function resizeBilinear(map: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  if (map.length !== h * w) throw new Error(`resizeBilinear: map has ${map.length} values, expected ${h}×${w}`);
  if (h < 1 || w < 1 || outH < 1 || outW < 1) throw new Error('resizeBilinear: sizes must be ≥ 1');
  const out = new Float32Array(outH * outW);
  const sy = h / outH;
  const sx = w / outW;
  for (let y = 0; y < outH; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(h - 1, y0 + 1);
    const dy = fy - y0;
    for (let x = 0; x < outW; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(w - 1, x0 + 1);
      const dx = fx - x0;
      const top = map[y0 * w + x0] * (1 - dx) + map[y0 * w + x1] * dx;
      const bottom = map[y1 * w + x0] * (1 - dx) + map[y1 * w + x1] * dx;
      out[y * outW + x] = top * (1 - dy) + bottom * dy;
    }
  }
  return out;
}
