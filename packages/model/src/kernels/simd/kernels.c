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
 * C[K][N] = sum_m A[m][K] * B[m][N]   (Aᵀ·B without a transpose: the filter gradient of a 1×1
 * convolution, A = x as [M, Cin], B = dy as [M, Cout]). Register blocks of 4 rows × 16 columns of
 * C; M is walked in chunks so that the A and B panels stay in cache.
 */
EXPORT void matmul_tn(const f32 *A, const f32 *B, f32 *C, int M, int K, int N) {
  zero(C, K * N);
  const int MB = 512;
  for (int m0 = 0; m0 < M; m0 += MB) {
    const int m1 = m0 + MB < M ? m0 + MB : M;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
      int n = 0;
      for (; n + 16 <= N; n += 16) {
        v128_t c00 = wasm_v128_load(C + (k + 0) * N + n), c01 = wasm_v128_load(C + (k + 0) * N + n + 4);
        v128_t c02 = wasm_v128_load(C + (k + 0) * N + n + 8), c03 = wasm_v128_load(C + (k + 0) * N + n + 12);
        v128_t c10 = wasm_v128_load(C + (k + 1) * N + n), c11 = wasm_v128_load(C + (k + 1) * N + n + 4);
        v128_t c12 = wasm_v128_load(C + (k + 1) * N + n + 8), c13 = wasm_v128_load(C + (k + 1) * N + n + 12);
        v128_t c20 = wasm_v128_load(C + (k + 2) * N + n), c21 = wasm_v128_load(C + (k + 2) * N + n + 4);
        v128_t c22 = wasm_v128_load(C + (k + 2) * N + n + 8), c23 = wasm_v128_load(C + (k + 2) * N + n + 12);
        v128_t c30 = wasm_v128_load(C + (k + 3) * N + n), c31 = wasm_v128_load(C + (k + 3) * N + n + 4);
        v128_t c32 = wasm_v128_load(C + (k + 3) * N + n + 8), c33 = wasm_v128_load(C + (k + 3) * N + n + 12);
        for (int m = m0; m < m1; m++) {
          const f32 *b = B + m * N + n;
          const f32 *a = A + m * K + k;
          v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), b2 = wasm_v128_load(b + 8), b3 = wasm_v128_load(b + 12);
          v128_t a0 = wasm_f32x4_splat(a[0]);
          c00 = fma4(c00, a0, b0); c01 = fma4(c01, a0, b1); c02 = fma4(c02, a0, b2); c03 = fma4(c03, a0, b3);
          v128_t a1 = wasm_f32x4_splat(a[1]);
          c10 = fma4(c10, a1, b0); c11 = fma4(c11, a1, b1); c12 = fma4(c12, a1, b2); c13 = fma4(c13, a1, b3);
          v128_t a2 = wasm_f32x4_splat(a[2]);
          c20 = fma4(c20, a2, b0); c21 = fma4(c21, a2, b1); c22 = fma4(c22, a2, b2); c23 = fma4(c23, a2, b3);
          v128_t a3 = wasm_f32x4_splat(a[3]);
          c30 = fma4(c30, a3, b0); c31 = fma4(c31, a3, b1); c32 = fma4(c32, a3, b2); c33 = fma4(c33, a3, b3);
        }
        wasm_v128_store(C + (k + 0) * N + n, c00); wasm_v128_store(C + (k + 0) * N + n + 4, c01);
        wasm_v128_store(C + (k + 0) * N + n + 8, c02); wasm_v128_store(C + (k + 0) * N + n + 12, c03);
        wasm_v128_store(C + (k + 1) * N + n, c10); wasm_v128_store(C + (k + 1) * N + n + 4, c11);
        wasm_v128_store(C + (k + 1) * N + n + 8, c12); wasm_v128_store(C + (k + 1) * N + n + 12, c13);
        wasm_v128_store(C + (k + 2) * N + n, c20); wasm_v128_store(C + (k + 2) * N + n + 4, c21);
        wasm_v128_store(C + (k + 2) * N + n + 8, c22); wasm_v128_store(C + (k + 2) * N + n + 12, c23);
        wasm_v128_store(C + (k + 3) * N + n, c30); wasm_v128_store(C + (k + 3) * N + n + 4, c31);
        wasm_v128_store(C + (k + 3) * N + n + 8, c32); wasm_v128_store(C + (k + 3) * N + n + 12, c33);
      }
      for (; n + 4 <= N; n += 4) {
        v128_t c0 = wasm_v128_load(C + (k + 0) * N + n), c1 = wasm_v128_load(C + (k + 1) * N + n);
        v128_t c2 = wasm_v128_load(C + (k + 2) * N + n), c3 = wasm_v128_load(C + (k + 3) * N + n);
        for (int m = m0; m < m1; m++) {
          const f32 *a = A + m * K + k;
          v128_t b0 = wasm_v128_load(B + m * N + n);
          c0 = fma4(c0, wasm_f32x4_splat(a[0]), b0);
          c1 = fma4(c1, wasm_f32x4_splat(a[1]), b0);
          c2 = fma4(c2, wasm_f32x4_splat(a[2]), b0);
          c3 = fma4(c3, wasm_f32x4_splat(a[3]), b0);
        }
        wasm_v128_store(C + (k + 0) * N + n, c0); wasm_v128_store(C + (k + 1) * N + n, c1);
        wasm_v128_store(C + (k + 2) * N + n, c2); wasm_v128_store(C + (k + 3) * N + n, c3);
      }
      for (; n < N; n++) {
        f32 s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int m = m0; m < m1; m++) {
          const f32 bv = B[m * N + n];
          const f32 *a = A + m * K + k;
          s0 += a[0] * bv; s1 += a[1] * bv; s2 += a[2] * bv; s3 += a[3] * bv;
        }
        C[(k + 0) * N + n] += s0; C[(k + 1) * N + n] += s1; C[(k + 2) * N + n] += s2; C[(k + 3) * N + n] += s3;
      }
    }
    for (; k < K; k++) {
      int n = 0;
      for (; n + 4 <= N; n += 4) {
        v128_t c0 = wasm_v128_load(C + k * N + n);
        for (int m = m0; m < m1; m++) c0 = fma4(c0, wasm_f32x4_splat(A[m * K + k]), wasm_v128_load(B + m * N + n));
        wasm_v128_store(C + k * N + n, c0);
      }
      for (; n < N; n++) {
        f32 s = 0;
        for (int m = m0; m < m1; m++) s += A[m * K + k] * B[m * N + n];
        C[k * N + n] += s;
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
