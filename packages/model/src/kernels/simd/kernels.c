/*
 * Training kernels for the tfjs wasm backend, WebAssembly SIMD (simd128), NHWC float32.
 *
 * The module imports the wasm backend's own memory (env.memory): every pointer argument is a byte
 * offset of a tensor in that heap, so nothing is copied. For that to be safe the code must not use
 * linear memory of its own: no static data, no stack (no arrays, no address-taken locals); the
 * test checks the built module has no data section. Outputs are fully written (zeroed first
 * where a kernel accumulates).
 *
 * Build (Debian clang/lld 14+; the exact command is in build.sh):
 *   clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--import-memory
 *     -Wl,--export-dynamic -Wl,-z,stack-size=0 -o kernels.wasm kernels.c
 */
#include <wasm_simd128.h>

#define EXPORT __attribute__((visibility("default")))

typedef float f32;

static inline v128_t fma4(v128_t acc, v128_t a, v128_t b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }

static void zero(f32 *p, int n) {
  int i = 0;
  v128_t z = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, z);
  for (; i < n; i++) p[i] = 0.0f;
}

/*
 * The filter-gradient GEMM: C[K][N] += sum_{m in [m0, m1)} A_m[k] * B[m][n], where A_m is the row
 * of K floats at byte address R[m - m0] (R: a row table, so that the rows may be the shifted input
 * pixels of a convolution tap, or a zero row for padding) and B rows are N floats apart.
 * For each panel of 8 columns of B (packed contiguously into P: rows N floats apart, e.g. N = 1280,
 * would fall into a few cache sets and evict each other), blocks of 6 rows of C are accumulated in
 * 12 SIMD registers (few enough not to spill on 16).
 */
#define MB 256
static void tn_chunk(const int *R, const f32 *B, f32 *C, int m0, int m1, int K, int N, f32 *P) {
  int n = 0;
  for (; n + 8 <= N; n += 8) {
    for (int m = m0; m < m1; m++) {
      wasm_v128_store(P + (m - m0) * 8, wasm_v128_load(B + m * N + n));
      wasm_v128_store(P + (m - m0) * 8 + 4, wasm_v128_load(B + m * N + n + 4));
    }
    const int rows = m1 - m0;
    int k = 0;
    for (; k + 6 <= K; k += 6) {
      f32 *c0 = C + k * N + n;
      v128_t c00 = wasm_v128_load(c0), c01 = wasm_v128_load(c0 + 4);
      v128_t c10 = wasm_v128_load(c0 + N), c11 = wasm_v128_load(c0 + N + 4);
      v128_t c20 = wasm_v128_load(c0 + 2 * N), c21 = wasm_v128_load(c0 + 2 * N + 4);
      v128_t c30 = wasm_v128_load(c0 + 3 * N), c31 = wasm_v128_load(c0 + 3 * N + 4);
      v128_t c40 = wasm_v128_load(c0 + 4 * N), c41 = wasm_v128_load(c0 + 4 * N + 4);
      v128_t c50 = wasm_v128_load(c0 + 5 * N), c51 = wasm_v128_load(c0 + 5 * N + 4);
      for (int r = 0; r < rows; r++) {
        const f32 *b = P + r * 8;
        const f32 *a = (const f32 *)R[r] + k;
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        v128_t a0 = wasm_f32x4_splat(a[0]);
        c00 = fma4(c00, a0, b0); c01 = fma4(c01, a0, b1);
        v128_t a1 = wasm_f32x4_splat(a[1]);
        c10 = fma4(c10, a1, b0); c11 = fma4(c11, a1, b1);
        v128_t a2 = wasm_f32x4_splat(a[2]);
        c20 = fma4(c20, a2, b0); c21 = fma4(c21, a2, b1);
        v128_t a3 = wasm_f32x4_splat(a[3]);
        c30 = fma4(c30, a3, b0); c31 = fma4(c31, a3, b1);
        v128_t a4 = wasm_f32x4_splat(a[4]);
        c40 = fma4(c40, a4, b0); c41 = fma4(c41, a4, b1);
        v128_t a5 = wasm_f32x4_splat(a[5]);
        c50 = fma4(c50, a5, b0); c51 = fma4(c51, a5, b1);
      }
      wasm_v128_store(c0, c00); wasm_v128_store(c0 + 4, c01);
      wasm_v128_store(c0 + N, c10); wasm_v128_store(c0 + N + 4, c11);
      wasm_v128_store(c0 + 2 * N, c20); wasm_v128_store(c0 + 2 * N + 4, c21);
      wasm_v128_store(c0 + 3 * N, c30); wasm_v128_store(c0 + 3 * N + 4, c31);
      wasm_v128_store(c0 + 4 * N, c40); wasm_v128_store(c0 + 4 * N + 4, c41);
      wasm_v128_store(c0 + 5 * N, c50); wasm_v128_store(c0 + 5 * N + 4, c51);
    }
    for (; k + 2 <= K; k += 2) {
      f32 *c0 = C + k * N + n;
      v128_t c00 = wasm_v128_load(c0), c01 = wasm_v128_load(c0 + 4);
      v128_t c10 = wasm_v128_load(c0 + N), c11 = wasm_v128_load(c0 + N + 4);
      for (int r = 0; r < rows; r++) {
        const f32 *b = P + r * 8;
        const f32 *a = (const f32 *)R[r] + k;
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        v128_t a0 = wasm_f32x4_splat(a[0]);
        c00 = fma4(c00, a0, b0); c01 = fma4(c01, a0, b1);
        v128_t a1 = wasm_f32x4_splat(a[1]);
        c10 = fma4(c10, a1, b0); c11 = fma4(c11, a1, b1);
      }
      wasm_v128_store(c0, c00); wasm_v128_store(c0 + 4, c01);
      wasm_v128_store(c0 + N, c10); wasm_v128_store(c0 + N + 4, c11);
    }
    for (; k < K; k++) {
      f32 *c0 = C + k * N + n;
      v128_t c00 = wasm_v128_load(c0), c01 = wasm_v128_load(c0 + 4);
      for (int r = 0; r < rows; r++) {
        const f32 *b = P + r * 8;
        v128_t a0 = wasm_f32x4_splat(((const f32 *)R[r])[k]);
        c00 = fma4(c00, a0, wasm_v128_load(b)); c01 = fma4(c01, a0, wasm_v128_load(b + 4));
      }
      wasm_v128_store(c0, c00); wasm_v128_store(c0 + 4, c01);
    }
  }
  for (; n < N; n++) {
    for (int k = 0; k < K; k++) {
      f32 s = 0;
      for (int m = m0; m < m1; m++) s += ((const f32 *)R[m - m0])[k] * B[m * N + n];
      C[k * N + n] += s;
    }
  }
}

/*
 * C[K][N] = sum_m A[m][K] * B[m][N]   (Aᵀ·B without a transpose: the filter gradient of a 1×1
 * convolution, A = x as [M, Cin], B = dy as [M, Cout]).
 * S: scratch of MB × 8 floats + MB ints (packed panel, row table).
 */
EXPORT void matmul_tn(const f32 *A, const f32 *B, f32 *C, int M, int K, int N, f32 *S) {
  f32 *P = S;
  int *R = (int *)(S + MB * 8);
  zero(C, K * N);
  for (int m0 = 0; m0 < M; m0 += MB) {
    const int m1 = m0 + MB < M ? m0 + MB : M;
    for (int m = m0; m < m1; m++) R[m - m0] = (int)(A + m * K);
    tn_chunk(R, B, C, m0, m1, K, N, P);
  }
}

/*
 * Filter gradient of a convolution (NHWC, dilation 1), any filter size, stride and padding:
 *   dW[i][j][ci][co] = sum_{b,oy,ox} x[b][oy*sh + i - pt][ox*sw + j - pl][ci] * dy[b][oy][ox][co]
 * one Aᵀ·B per tap, A's rows the shifted input pixels (a zero row where they fall in the padding).
 * S: scratch of MB × 8 floats + MB ints + cin floats (panel, row table, zero row).
 */
EXPORT void conv_filter_grad(const f32 *x, const f32 *dy, f32 *dw, int n, int h, int w, int cin, int oh, int ow, int cout,
                             int fh, int fw, int sh, int sw, int pt, int pl, f32 *S) {
  f32 *P = S;
  int *R = (int *)(S + MB * 8);
  f32 *Z = S + MB * 8 + MB;
  zero(Z, cin);
  zero(dw, fh * fw * cin * cout);
  const int M = n * oh * ow;
  for (int i = 0; i < fh; i++) {
    for (int j = 0; j < fw; j++) {
      f32 *C = dw + (i * fw + j) * cin * cout;
      for (int m0 = 0; m0 < M; m0 += MB) {
        const int m1 = m0 + MB < M ? m0 + MB : M;
        for (int m = m0; m < m1; m++) {
          const int b = m / (oh * ow), rest = m - b * oh * ow, oy = rest / ow, ox = rest - oy * ow;
          const int iy = oy * sh + i - pt, ix = ox * sw + j - pl;
          R[m - m0] = (iy < 0 || iy >= h || ix < 0 || ix >= w) ? (int)Z : (int)(x + ((b * h + iy) * w + ix) * cin);
        }
        tn_chunk(R, dy, C, m0, m1, cin, cout, P);
      }
    }
  }
}

/*
 * Depthwise convolution (channel multiplier 1), filter gradient:
 *   dW[i][j][c] = sum_{n,oh,ow} x[n][oh*sh + i - pt][ow*sw + j - pl][c] * dy[n][oh][ow][c]
 * x [N, H, W, C], dy [N, OH, OW, C], dW [FH, FW, C].
 */
EXPORT void depthwise_filter_grad(const f32 *x, const f32 *dy, f32 *dw, int n, int h, int w, int c, int oh, int ow, int fh,
                                  int fw, int sh, int sw, int pt, int pl) {
  zero(dw, fh * fw * c);
  for (int b = 0; b < n; b++) {
    for (int y = 0; y < oh; y++) {
      for (int xo = 0; xo < ow; xo++) {
        const f32 *g = dy + ((b * oh + y) * ow + xo) * c;
        for (int i = 0; i < fh; i++) {
          const int iy = y * sh + i - pt;
          if (iy < 0 || iy >= h) continue;
          for (int j = 0; j < fw; j++) {
            const int ix = xo * sw + j - pl;
            if (ix < 0 || ix >= w) continue;
            const f32 *px = x + ((b * h + iy) * w + ix) * c;
            f32 *acc = dw + (i * fw + j) * c;
            int k = 0;
            for (; k + 8 <= c; k += 8) {
              wasm_v128_store(acc + k, fma4(wasm_v128_load(acc + k), wasm_v128_load(px + k), wasm_v128_load(g + k)));
              wasm_v128_store(acc + k + 4, fma4(wasm_v128_load(acc + k + 4), wasm_v128_load(px + k + 4), wasm_v128_load(g + k + 4)));
            }
            for (; k + 4 <= c; k += 4) wasm_v128_store(acc + k, fma4(wasm_v128_load(acc + k), wasm_v128_load(px + k), wasm_v128_load(g + k)));
            for (; k < c; k++) acc[k] += px[k] * g[k];
          }
        }
      }
    }
  }
}

/*
 * Depthwise convolution (channel multiplier 1), input gradient, as a scatter of every output pixel:
 *   dx[n][oh*sh + i - pt][ow*sw + j - pl][c] += dy[n][oh][ow][c] * W[i][j][c]
 * dy [N, OH, OW, C], W [FH, FW, C], dx [N, H, W, C].
 */
EXPORT void depthwise_input_grad(const f32 *dy, const f32 *wt, f32 *dx, int n, int h, int w, int c, int oh, int ow, int fh,
                                 int fw, int sh, int sw, int pt, int pl) {
  zero(dx, n * h * w * c);
  for (int b = 0; b < n; b++) {
    for (int y = 0; y < oh; y++) {
      for (int xo = 0; xo < ow; xo++) {
        const f32 *g = dy + ((b * oh + y) * ow + xo) * c;
        for (int i = 0; i < fh; i++) {
          const int iy = y * sh + i - pt;
          if (iy < 0 || iy >= h) continue;
          for (int j = 0; j < fw; j++) {
            const int ix = xo * sw + j - pl;
            if (ix < 0 || ix >= w) continue;
            f32 *out = dx + ((b * h + iy) * w + ix) * c;
            const f32 *f = wt + (i * fw + j) * c;
            int k = 0;
            for (; k + 8 <= c; k += 8) {
              wasm_v128_store(out + k, fma4(wasm_v128_load(out + k), wasm_v128_load(f + k), wasm_v128_load(g + k)));
              wasm_v128_store(out + k + 4, fma4(wasm_v128_load(out + k + 4), wasm_v128_load(f + k + 4), wasm_v128_load(g + k + 4)));
            }
            for (; k + 4 <= c; k += 4) wasm_v128_store(out + k, fma4(wasm_v128_load(out + k), wasm_v128_load(f + k), wasm_v128_load(g + k)));
            for (; k < c; k++) out[k] += f[k] * g[k];
          }
        }
      }
    }
  }
}

/* dx = (lo <= x <= hi) ? dy : 0 — the gradient of clipByValue (ReLU6 is relu + clip(0, 6)). */
EXPORT void clip_grad(const f32 *x, const f32 *dy, f32 *dx, int n, f32 lo, f32 hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t keep = wasm_v128_and(wasm_f32x4_ge(v, vlo), wasm_f32x4_le(v, vhi));
    wasm_v128_store(dx + i, wasm_v128_and(keep, wasm_v128_load(dy + i)));
  }
  for (; i < n; i++) dx[i] = (x[i] >= lo && x[i] <= hi) ? dy[i] : 0.0f;
}

/* dx = x > 0 ? dy : 0 — the gradient of relu (tfjs: dy · step(x), step(0) = 0). */
EXPORT void relu_grad(const f32 *x, const f32 *dy, f32 *dx, int n) {
  const v128_t z = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t keep = wasm_f32x4_gt(wasm_v128_load(x + i), z);
    wasm_v128_store(dx + i, wasm_v128_and(keep, wasm_v128_load(dy + i)));
  }
  for (; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

/* out[a][n] = scale · sum_m x[a][m][n]: a sum (scale 1) or mean (1/M) over a run of axes that ends
   before the last (bias gradients and batch-norm moments with A = 1, global average pooling). */
EXPORT void mid_sum(const f32 *x, f32 *out, int A, int M, int N, f32 scale) {
  const v128_t vs = wasm_f32x4_splat(scale);
  for (int a = 0; a < A; a++, x += M * N, out += N) {
    int n = 0;
    for (; n + 16 <= N; n += 16) {
      v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
      for (int m = 0; m < M; m++) {
        const f32 *r = x + m * N + n;
        s0 = wasm_f32x4_add(s0, wasm_v128_load(r));
        s1 = wasm_f32x4_add(s1, wasm_v128_load(r + 4));
        s2 = wasm_f32x4_add(s2, wasm_v128_load(r + 8));
        s3 = wasm_f32x4_add(s3, wasm_v128_load(r + 12));
      }
      wasm_v128_store(out + n, wasm_f32x4_mul(s0, vs)); wasm_v128_store(out + n + 4, wasm_f32x4_mul(s1, vs));
      wasm_v128_store(out + n + 8, wasm_f32x4_mul(s2, vs)); wasm_v128_store(out + n + 12, wasm_f32x4_mul(s3, vs));
    }
    for (; n + 4 <= N; n += 4) {
      v128_t s0 = wasm_f32x4_splat(0.0f);
      for (int m = 0; m < M; m++) s0 = wasm_f32x4_add(s0, wasm_v128_load(x + m * N + n));
      wasm_v128_store(out + n, wasm_f32x4_mul(s0, vs));
    }
    for (; n < N; n++) {
      f32 s = 0;
      for (int m = 0; m < M; m++) s += x[m * N + n];
      out[n] = s * scale;
    }
  }
}

/* dx[a][m][n] = dy[a][n] / d: the gradient of a mean over the middle axes (tfjs: dy · 1 / d). */
EXPORT void mid_broadcast_div(const f32 *dy, f32 *dx, int A, int M, int N, f32 d) {
  const v128_t vd = wasm_f32x4_splat(d);
  for (int a = 0; a < A; a++, dy += N) {
    for (int m = 0; m < M; m++, dx += N) {
      int n = 0;
      for (; n + 4 <= N; n += 4) wasm_v128_store(dx + n, wasm_f32x4_div(wasm_v128_load(dy + n), vd));
      for (; n < N; n++) dx[n] = dy[n] / d;
    }
  }
}

/* dx = (0 < y < hi) ? dy : 0 — the gradient of relu (hi = +inf) or relu6 (hi = 6) from its output y
   (y = 0 exactly where the input was ≤ 0; y = 6 where it was ≥ 6). */
EXPORT void act_grad(const f32 *y, const f32 *dy, f32 *dx, int n, f32 hi) {
  const v128_t z = wasm_f32x4_splat(0.0f), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(y + i);
    v128_t keep = wasm_v128_and(wasm_f32x4_gt(v, z), wasm_f32x4_lt(v, vhi));
    wasm_v128_store(dx + i, wasm_v128_and(keep, wasm_v128_load(dy + i)));
  }
  for (; i < n; i++) dx[i] = (y[i] > 0.0f && y[i] < hi) ? dy[i] : 0.0f;
}

/*
 * Max-pool gradient (NHWC): every dy pixel goes to the first strict maximum of its window in
 * row-major order (tfjs cpu's rule, which matters for ties such as all-zero ReLU windows); windows
 * are clipped to the input (padding never wins).
 */
EXPORT void maxpool_grad(const f32 *x, const f32 *dy, f32 *dx, int n, int h, int w, int c, int oh, int ow, int fh, int fw,
                         int sh, int sw, int pt, int pl) {
  zero(dx, n * h * w * c);
  for (int b = 0; b < n; b++) {
    for (int y = 0; y < oh; y++) {
      const int y0 = y * sh - pt;
      const int i0 = y0 < 0 ? -y0 : 0, i1 = y0 + fh > h ? h - y0 : fh;
      for (int xo = 0; xo < ow; xo++) {
        const int x0 = xo * sw - pl;
        const int j0 = x0 < 0 ? -x0 : 0, j1 = x0 + fw > w ? w - x0 : fw;
        const f32 *g = dy + ((b * oh + y) * ow + xo) * c;
        for (int k = 0; k < c; k++) {
          f32 best = -__builtin_inff();
          int at = -1;
          for (int i = i0; i < i1; i++) {
            for (int j = j0; j < j1; j++) {
              const int p = ((b * h + y0 + i) * w + x0 + j) * c + k;
              if (x[p] > best) {
                best = x[p];
                at = p;
              }
            }
          }
          if (at >= 0) dx[at] += g[k];
        }
      }
    }
  }
}

/*
 * Batch-norm gradient, one pass (NHWC, per-channel statistics): with k = scale / sqrt(var + eps),
 *   dx = dy · k,  s1[c] = Σ dy,  s2[c] = Σ dy · (x − mean)
 * from which the caller forms d offset = s1, d scale = s2 / sqrt(var + eps), d mean = −k · s1 and
 * d variance = −k · s2 / (2 (var + eps)). x, dy, dx [M, C]; mean, k, s1, s2 [C].
 */
EXPORT void batchnorm_grad(const f32 *x, const f32 *dy, const f32 *mean, const f32 *k, f32 *dx, f32 *s1, f32 *s2, int M, int C) {
  zero(s1, C);
  zero(s2, C);
  for (int m = 0; m < M; m++) {
    const f32 *xr = x + m * C, *gr = dy + m * C;
    f32 *dr = dx + m * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v128_t g = wasm_v128_load(gr + c);
      v128_t xm = wasm_f32x4_sub(wasm_v128_load(xr + c), wasm_v128_load(mean + c));
      wasm_v128_store(s1 + c, wasm_f32x4_add(wasm_v128_load(s1 + c), g));
      wasm_v128_store(s2 + c, fma4(wasm_v128_load(s2 + c), g, xm));
      wasm_v128_store(dr + c, wasm_f32x4_mul(g, wasm_v128_load(k + c)));
    }
    for (; c < C; c++) {
      const f32 g = gr[c];
      s1[c] += g;
      s2[c] += g * (xr[c] - mean[c]);
      dr[c] = g * k[c];
    }
  }
}

/*
 * One Adam step of a variable, the same float32 operations in the same order as tfjs-core's
 * AdamOptimizer (so the same bits):
 *   m1 = m·β1 + g·(1−β1);  v1 = v·β2 + g²·(1−β2)
 *   w1 = (m1 / c[0]) / (√(v1 / c[1]) + ε) · (−lr) + w      (c = [1 − β1ᵗ, 1 − β2ᵗ])
 * w, m, v, g, w1, m1, v1 [n]; c: two floats.
 */
EXPORT void adam_update(const f32 *w, const f32 *m, const f32 *v, const f32 *g, f32 *w1, f32 *m1, f32 *v1, int n, f32 b1,
                        f32 ob1, f32 b2, f32 ob2, const f32 *c1, const f32 *c2, f32 eps, f32 nlr) {
  const v128_t vb1 = wasm_f32x4_splat(b1), vob1 = wasm_f32x4_splat(ob1), vb2 = wasm_f32x4_splat(b2), vob2 = wasm_f32x4_splat(ob2);
  const v128_t vc1 = wasm_f32x4_splat(*c1), vc2 = wasm_f32x4_splat(*c2), veps = wasm_f32x4_splat(eps), vlr = wasm_f32x4_splat(nlr);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t gi = wasm_v128_load(g + i);
    const v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), vb1), wasm_f32x4_mul(gi, vob1));
    const v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), vb2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), vob2));
    const v128_t den = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(vi, vc2)), veps);
    const v128_t step = wasm_f32x4_mul(wasm_f32x4_div(wasm_f32x4_div(mi, vc1), den), vlr);
    wasm_v128_store(m1 + i, mi);
    wasm_v128_store(v1 + i, vi);
    wasm_v128_store(w1 + i, wasm_f32x4_add(step, wasm_v128_load(w + i)));
  }
  for (; i < n; i++) {
    const f32 gi = g[i];
    const f32 a = m[i] * b1, b = gi * ob1;
    const f32 mi = a + b;
    const f32 gg = gi * gi;
    const f32 c = v[i] * b2, d = gg * ob2;
    const f32 vi = c + d;
    const f32 mh = mi / *c1, vh = vi / *c2;
    const f32 den = __builtin_sqrtf(vh) + eps;
    const f32 q = mh / den;
    const f32 step = q * nlr;
    m1[i] = mi;
    v1[i] = vi;
    w1[i] = step + w[i];
  }
}
