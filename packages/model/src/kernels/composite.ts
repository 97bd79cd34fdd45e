/**
 * Backprop convolution kernels composed from forward kernels that every backend has (transpose,
 * pad, strided slice, conv2d, depthwiseConv2d, matMul, mul, sum). Pure tensor functions: they
 * dispatch to whatever backend is active, so they are tested against the cpu backend's native
 * kernels and registered for wasm, which lacks the originals.
 *
 * All functions take NHWC tensors and support dilation 1 only (tfjs's own gradients of conv2d and
 * depthwiseConv2d refuse dilation > 1 as well).
 */
import * as tf from '@tensorflow/tfjs-core';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Pair = number | [number, number];

interface Geometry {
  padTop: number;
  padLeft: number;
  sh: number;
  sw: number;
  oh: number;
  ow: number;
  fh: number;
  fw: number;
}

function geometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode: Rounding,
  depthwise: boolean,
): Geometry {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, depthwise, 'channelsLast');
  return {
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    sh: info.strideHeight,
    sw: info.strideWidth,
    oh: info.outHeight,
    ow: info.outWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
  };
}

/**
 * Pad/crop axes (ah, aw) of `t` so that index 0 is original index -top / -left and the lengths are
 * exactly `needH`, `needW`.
 */
function window2d(t: tf.Tensor, ah: number, aw: number, top: number, left: number, needH: number, needW: number): tf.Tensor {
  const H = t.shape[ah];
  const W = t.shape[aw];
  const bottom = needH - top - H;
  const right = needW - left - W;
  const padding: [number, number][] = t.shape.map(() => [0, 0] as [number, number]);
  padding[ah] = [Math.max(0, top), Math.max(0, bottom)];
  padding[aw] = [Math.max(0, left), Math.max(0, right)];
  let out = padding.some(([a, b]) => a > 0 || b > 0) ? tf.pad(t, padding) : t;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) {
    const begin = t.shape.map(() => 0);
    const size = out.shape.slice();
    begin[ah] = Math.max(0, -top);
    begin[aw] = Math.max(0, -left);
    size[ah] = needH;
    size[aw] = needW;
    out = tf.slice(out, begin, size);
  }
  return out;
}

/**
 * dL/dW of conv2d(x, W). As a convolution: swap batch and channels (x → [Cin, H, W, N], dy → filter
 * [OH, OW, N, Cout]) and convolve with dilation = forward stride; the output [Cin, fh, fw, Cout] is
 * the filter gradient, transposed. Uses the backend's fast forward Conv2D (XNNPACK on wasm).
 */
function conv2dBackpropFilterViaConv(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, false);
    const needH = (g.oh - 1) * g.sh + g.fh;
    const needW = (g.ow - 1) * g.sw + g.fw;
    const xT = tf.transpose(x, [3, 1, 2, 0]); // [Cin, H, W, N]
    const xW = window2d(xT, 1, 2, g.padTop, g.padLeft, needH, needW) as tf.Tensor4D;
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [OH, OW, N, Cout]
    const r = tf.conv2d(xW, dyT, 1, 'valid', 'NHWC', [g.sh, g.sw]); // [Cin, fh, fw, Cout]
    return tf.transpose(r, [1, 2, 0, 3]);
  });
}

/**
 * dL/dW of depthwiseConv2d(x, W), W [fh, fw, C, M]: per filter tap, the strided slice of the padded
 * input times dy, summed over batch and space.
 */
function depthwiseBackpropFilterViaSlices(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , c] = x.shape;
    const m = filterShape[3];
    const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, true);
    const needH = (g.oh - 1) * g.sh + g.fh;
    const needW = (g.ow - 1) * g.sw + g.fw;
    const xW = window2d(x, 1, 2, g.padTop, g.padLeft, needH, needW);
    const dyR = m === 1 ? dy : tf.reshape(dy, [n, g.oh, g.ow, c, m]);
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < g.fh; i++) {
      for (let j = 0; j < g.fw; j++) {
        let s: tf.Tensor = tf.stridedSlice(xW, [0, i, j, 0], [n, i + (g.oh - 1) * g.sh + 1, j + (g.ow - 1) * g.sw + 1, c], [1, g.sh, g.sw, 1]);
        if (m !== 1) s = tf.expandDims(s, 4);
        taps.push(tf.sum(tf.mul(s, dyR), [0, 1, 2]));
      }
    }
    return tf.reshape(tf.stack(taps), [g.fh, g.fw, c, m]);
  });
}

/**
 * dL/dW of depthwiseConv2d as a depthwise convolution: batch moved into channels (x → [1, H, W, N·C],
 * dy → filter [OH, OW, N·C, 1]), dilation = forward stride, then summed over the batch.
 * Channel multiplier 1 only.
 */
export function depthwiseBackpropFilterViaConv(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  if (filterShape[3] !== 1) return depthwiseBackpropFilterViaSlices(x, dy, filterShape, strides, pad, dimRoundingMode);
  return tf.tidy(() => {
    const [n, , , c] = x.shape;
    const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, true);
    const needH = (g.oh - 1) * g.sh + g.fh;
    const needW = (g.ow - 1) * g.sw + g.fw;
    const xW = window2d(x, 1, 2, g.padTop, g.padLeft, needH, needW);
    const xT = tf.reshape(tf.transpose(xW, [1, 2, 0, 3]), [1, needH, needW, n * c]) as tf.Tensor4D;
    const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [g.oh, g.ow, n * c, 1]) as tf.Tensor4D;
    const r = tf.depthwiseConv2d(xT, f, 1, 'valid', 'NHWC', [g.sh, g.sw]); // [1, fh, fw, N·C]
    return tf.reshape(tf.sum(tf.reshape(r, [g.fh, g.fw, n, c]), 2), [g.fh, g.fw, c, 1]);
  });
}

/**
 * dL/dx of depthwiseConv2d(x, W): insert (stride − 1) zeros between dy's pixels, pad by
 * (f − 1 − pad), and correlate with the spatially flipped filter (stride 1, 'valid'). A channel
 * multiplier M > 1 is handled as C·M depthwise channels summed back to C.
 */
export function depthwiseBackpropInputComposite(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = inputShape;
    const [fh, fw, , m] = filter.shape;
    const g = geometry(inputShape, filter.shape, strides, pad, dimRoundingMode, true);
    let up: tf.Tensor = dy; // [N, OH, OW, C·M]
    if (g.sh > 1 || g.sw > 1) {
      const cm = c * m;
      up = tf.reshape(dy, [n, g.oh, 1, g.ow, 1, cm]);
      up = tf.pad(up, [
        [0, 0],
        [0, 0],
        [0, g.sh - 1],
        [0, 0],
        [0, g.sw - 1],
        [0, 0],
      ]);
      up = tf.reshape(up, [n, g.oh * g.sh, g.ow * g.sw, cm]);
    }
    // dx[h] = Σ_k up[h + padTop − (fh−1) + k] · Wflip[k]
    const upW = window2d(up, 1, 2, fh - 1 - g.padTop, fw - 1 - g.padLeft, h + fh - 1, w + fw - 1) as tf.Tensor4D;
    const flipped = fh === 1 && fw === 1 ? filter : tf.reverse(filter, [0, 1]); // wasm's Reverse is slow
    const f = tf.reshape(flipped, [fh, fw, c * m, 1]) as tf.Tensor4D;
    const r = tf.depthwiseConv2d(upW, f, 1, 'valid'); // [N, H, W, C·M]
    return m === 1 ? r : tf.sum(tf.reshape(r, [n, h, w, c, m]), 4);
  });
}

/**
 * dL/dW of conv2d: 1×1 stride-1 filters as one plain matMul (xᵀ materialised by a transpose, as
 * transposed matMuls are slow on wasm); larger filters through the backend's forward conv
 * (`conv2dBackpropFilterViaConv`).
 */
export function conv2dBackpropFilterFast(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, false);
  if (g.fh === 1 && g.fw === 1 && g.sh === 1 && g.sw === 1 && g.padTop === 0 && g.padLeft === 0 && g.oh === x.shape[1] && g.ow === x.shape[2]) {
    return tf.tidy(() => {
      const [n, h, w, cin] = x.shape;
      const cout = dy.shape[3];
      const xT = tf.transpose(tf.reshape(x, [n * h * w, cin]));
      return tf.reshape(tf.matMul(xT, tf.reshape(dy, [n * h * w, cout])), [1, 1, cin, cout]);
    });
  }
  return conv2dBackpropFilterViaConv(x, dy, filterShape, strides, pad, dimRoundingMode);
}

/**
 * dL/dx of conv2d(x, W): dy with (stride − 1) zeros inserted, padded by (f − 1 − pad), convolved
 * (stride 1, 'valid') with W flipped in space and with in/out channels swapped. Runs on the
 * backend's forward conv, which on wasm is far faster than its Conv2DBackpropInput kernel.
 */
export function conv2dBackpropInputViaConv(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = inputShape;
    const [fh, fw, , cout] = filter.shape;
    const g = geometry(inputShape, filter.shape, strides, pad, dimRoundingMode, false);
    let up: tf.Tensor = dy;
    if (g.sh > 1 || g.sw > 1) {
      up = tf.reshape(dy, [n, g.oh, 1, g.ow, 1, cout]);
      up = tf.pad(up, [
        [0, 0],
        [0, 0],
        [0, g.sh - 1],
        [0, 0],
        [0, g.sw - 1],
        [0, 0],
      ]);
      up = tf.reshape(up, [n, g.oh * g.sh, g.ow * g.sw, cout]);
    }
    const upW = window2d(up, 1, 2, fh - 1 - g.padTop, fw - 1 - g.padLeft, h + fh - 1, w + fw - 1) as tf.Tensor4D;
    const flipped = fh === 1 && fw === 1 ? filter : tf.reverse(filter, [0, 1]); // wasm's Reverse is slow
    const f = tf.transpose(flipped, [0, 1, 3, 2]) as tf.Tensor4D; // [fh, fw, Cout, Cin]
    return tf.conv2d(upW, f, 1, 'valid');
  });
}
