/**
 * Calibration: softmax with temperature, negative log-likelihood, expected calibration error
 * (equal-width confidence bins) and temperature scaling fitted by a 1-D golden-section search.
 * All matrices are row-major `[n, k]`.
 */

/** Row-wise softmax of `logits / temperature` (float64 math, float32 result). */
export function softmaxRows(logits: ArrayLike<number>, k: number, temperature = 1): Float32Array {
  const n = Math.floor(logits.length / k);
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, logits[i * k + j] / temperature);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[i * k + j] / temperature - m);
    for (let j = 0; j < k; j++) out[i * k + j] = Math.exp(logits[i * k + j] / temperature - m) / s;
  }
  return out;
}

/**
 * Logits recovered from probabilities: `log(p)` (softmax is shift-invariant, so softmax(log p / T)
 * equals softmax(z / T) for the logits z that produced p). Probabilities are floored at 1e-38.
 */
export function logitsFromProbabilities(probs: ArrayLike<number>): Float32Array {
  const out = new Float32Array(probs.length);
  for (let i = 0; i < probs.length; i++) out[i] = Math.log(Math.max(probs[i], 1e-38));
  return out;
}

/** Mean negative log-likelihood of `labels` under softmax(logits / temperature). */
export function nllWithTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number, temperature: number): number {
  const n = labels.length;
  if (n === 0) return Number.NaN;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, logits[i * k + j] / temperature);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[i * k + j] / temperature - m);
    total += m + Math.log(s) - logits[i * k + labels[i]] / temperature;
  }
  return total / n;
}

export interface EceResult {
  ece: number;
  /** Per bin: number of samples, mean confidence, accuracy (NaN for an empty bin). */
  bins: { count: number; confidence: number; accuracy: number }[];
}

/**
 * Expected calibration error with `nBins` equal-width bins over the top-class confidence:
 * bin b holds confidences in (b/B, (b+1)/B] (confidence 0 goes to the first bin);
 * ECE = Σ_b (n_b / N) · |accuracy_b − confidence_b|.
 */
export function expectedCalibrationError(probs: ArrayLike<number>, labels: ArrayLike<number>, k: number, nBins = 15): EceResult {
  const n = labels.length;
  if (probs.length !== n * k) throw new Error(`probabilities have ${probs.length} values, expected ${n}×${k}`);
  const count = new Float64Array(nBins);
  const confSum = new Float64Array(nBins);
  const correct = new Float64Array(nBins);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let conf = probs[i * k];
    for (let j = 1; j < k; j++) {
      if (probs[i * k + j] > conf) {
        conf = probs[i * k + j];
        best = j;
      }
    }
    const b = Math.min(nBins - 1, Math.max(0, Math.ceil(conf * nBins) - 1));
    count[b]++;
    confSum[b] += conf;
    if (best === labels[i]) correct[b]++;
  }
  let ece = 0;
  const bins = [];
  for (let b = 0; b < nBins; b++) {
    const c = count[b];
    const confidence = c > 0 ? confSum[b] / c : Number.NaN;
    const acc = c > 0 ? correct[b] / c : Number.NaN;
    if (c > 0) ece += (c / n) * Math.abs(acc - confidence);
    bins.push({ count: c, confidence, accuracy: acc });
  }
  return { ece: n > 0 ? ece : Number.NaN, bins };
}

/**
 * Temperature T > 0 minimising the NLL of softmax(logits / T) on (validation) `labels`.
 * The NLL is convex in 1/T, hence unimodal in log T: golden-section search over
 * log T ∈ [log minT, log maxT] to a tolerance of 1e-6 in log T. Returns 1 for empty input.
 */
export function fitTemperature(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  k: number,
  { minT = 0.05, maxT = 20 }: { minT?: number; maxT?: number } = {},
): number {
  if (labels.length === 0) return 1;
  const f = (logT: number) => nllWithTemperature(logits, labels, k, Math.exp(logT));
  const g = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(minT);
  let b = Math.log(maxT);
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > 1e-6) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}
