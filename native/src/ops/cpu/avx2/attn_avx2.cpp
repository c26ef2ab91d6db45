// AVX2 versions of the attention helpers (ops.h): lane for lane what the scalar reference in ops.cpp computes.
// Vector intrinsics only where a product meets a sum, so the compiler cannot contract anything on its own;
// scalar tails use explicit _ss intrinsics and an optimisation barrier on unfused products.
#include "ops/cpu/avx2/attn_avx2.h"
#include "ops/cpu/avx2/simd_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/blocks.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/ops.h"
#include "ops/types.h"

namespace llama4 {
namespace avx2 {
void vec_dot_f32(int64_t n, float* s, const void* vx, const void* vy);  // ops/cpu/avx2/kernels_avx2.cpp
}  // namespace avx2
namespace attn_avx2 {

namespace {

inline float unfused(float v) {
  __asm__("" : "+x"(v));
  return v;
}
inline float fma_ss(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

// ggml_v_expf (AVX2), the vector the scalar expf_lane emulates one lane of.
inline __m256 v_expf(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b =
      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
  const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
  const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.f), n);
  const __m256 c = _mm256_cmp_ps(an, _mm256_set1_ps(126), _CMP_GT_OQ);
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
  if (!_mm256_movemask_ps(c)) return _mm256_fmadd_ps(j, k, k);
  const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                     _mm256_set1_epi32((int)0x82000000u));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
  const __m256 d = _mm256_cmp_ps(an, _mm256_set1_ps(192), _CMP_GT_OQ);
  return _mm256_or_ps(
      _mm256_and_ps(d, _mm256_mul_ps(s1, s1)),
      _mm256_andnot_ps(d, _mm256_or_ps(_mm256_and_ps(c, _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                       _mm256_andnot_ps(c, _mm256_fmadd_ps(j, k, k)))));
}

// lanes (k, k+4) first, then (0+2)+(1+3): hsum_float_8 / tinyBLAS hsum (scalar hsum8_movehl)
inline float hsum_movehl(__m256 v) {
  __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  t = _mm_add_ps(t, _mm_movehl_ps(t, t));
  t = _mm_add_ss(t, _mm_movehdup_ps(t));
  return _mm_cvtss_f32(t);
}
// lanes (k, k+4) first, then (0+1)+(2+3): GGML_F32x8_REDUCE (scalar hsum8_hadd)
inline float hsum_hadd(__m256 v) {
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t1 = _mm_hadd_ps(t, t);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return _cvtsh_ss(*p); }

// ggml_vec_dot_f16 for an f16 x and an f32 y holding f16 values: 4 accumulators of 8 lanes over 32-element
// steps, reduce4x8, then the tail in double. (The f32 dot is the matmul kernels' vec_dot_f32.)
inline float dot_ggml(const uint16_t* x, const float* y, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int64_t np = n & ~(int64_t)31;
  for (int64_t i = 0; i < np; i += 32) {
    a0 = _mm256_fmadd_ps(load8(x + i), load8(y + i), a0);
    a1 = _mm256_fmadd_ps(load8(x + i + 8), load8(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(load8(x + i + 16), load8(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(load8(x + i + 24), load8(y + i + 24), a3);
  }
  a0 = _mm256_add_ps(a0, a2);
  a1 = _mm256_add_ps(a1, a3);
  a0 = _mm256_add_ps(a0, a1);
  double sum = hsum_hadd(a0);
  for (int64_t i = np; i < n; i++) sum += (double)unfused(load1(x + i) * y[i]);
  return (float)sum;
}

template <typename X>
inline void weighted_rows_t(const float* p, const uint8_t* rows, size_t stride, int64_t first_cell, int64_t n,
                            int64_t dim, int lanes, float* acc, float* out) {
  std::fill(acc, acc + lanes * dim, 0.0f);
  const int64_t dv = dim & ~(int64_t)7;
  int64_t lane = first_cell % lanes;
  for (int64_t j = 0; j < n; j++) {
    const X* r = (const X*)(rows + (size_t)j * stride);
    float* a = acc + lane * dim;
    if (++lane == lanes) lane = 0;
    const float pj = p[j];
    const __m256 vp = _mm256_set1_ps(pj);
    int64_t d = 0;
    for (; d < dv; d += 8) _mm256_storeu_ps(a + d, _mm256_fmadd_ps(load8(r + d), vp, _mm256_loadu_ps(a + d)));
    for (; d < dim; d++) a[d] = fma_ss(load1(r + d), pj, a[d]);
  }
  const float* A[32];
  for (int l = 0; l < lanes; l++) A[l] = acc + l * dim;
  int64_t d = 0;
  if (lanes == 8) {
    // hsum8_movehl over the 8 lanes, 8 dims at a time
    for (; d < dv; d += 8) {
      const __m256 t0 = _mm256_add_ps(load8(A[0] + d), load8(A[4] + d));
      const __m256 t1 = _mm256_add_ps(load8(A[1] + d), load8(A[5] + d));
      const __m256 t2 = _mm256_add_ps(load8(A[2] + d), load8(A[6] + d));
      const __m256 t3 = _mm256_add_ps(load8(A[3] + d), load8(A[7] + d));
      _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)));
    }
    for (; d < dim; d++) {
      const float t0 = A[0][d] + A[4][d], t1 = A[1][d] + A[5][d], t2 = A[2][d] + A[6][d], t3 = A[3][d] + A[7][d];
      out[d] = (t0 + t2) + (t1 + t3);
    }
  } else {
    // reduce4x8: a[l] += a[16+l]; a[8+l] += a[24+l]; a[l] += a[8+l]; then hsum8_hadd
    for (; d < dv; d += 8) {
      __m256 v[8];
      for (int l = 0; l < 8; l++) {
        const __m256 lo = _mm256_add_ps(load8(A[l] + d), load8(A[16 + l] + d));
        const __m256 hi = _mm256_add_ps(load8(A[8 + l] + d), load8(A[24 + l] + d));
        v[l] = _mm256_add_ps(lo, hi);
      }
      const __m256 t0 = _mm256_add_ps(v[0], v[4]), t1 = _mm256_add_ps(v[1], v[5]);
      const __m256 t2 = _mm256_add_ps(v[2], v[6]), t3 = _mm256_add_ps(v[3], v[7]);
      _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)));
    }
    for (; d < dim; d++) {
      float v[8];
      for (int l = 0; l < 8; l++) v[l] = (A[l][d] + A[16 + l][d]) + (A[8 + l][d] + A[24 + l][d]);
      const float t0 = v[0] + v[4], t1 = v[1] + v[5], t2 = v[2] + v[6], t3 = v[3] + v[7];
      out[d] = (t0 + t1) + (t2 + t3);
    }
  }
}

}  // namespace

double soft_max_exp(const float* x, float* y, int64_t n, float max) {
  double sum = 0.0;
  int64_t i = 0;
  const __m256 vm = _mm256_set1_ps(max);
  for (; i + 7 < n; i += 8) {
    const __m256 v = v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(y + i, v);
    sum += (double)hsum_movehl(v);
  }
  for (; i < n; i++) {
    const float v = expf(x[i] - max);
    sum += (double)v;
    y[i] = v;
  }
  return sum;
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; i + 7 < n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, v_expf(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; i++) {
    const float g = gate[i];
    out[i] = (g / (1.0f + expf(-g))) * up[i];
  }
}

float dot_f32(const float* x, const float* y, int64_t n) {
  float s;
  avx2::vec_dot_f32(n, &s, x, y);  // ggml_vec_dot_f32, the one implementation of this level
  return s;
}

float dot_f16(const uint16_t* x, const float* y, int64_t n, bool tinyblas) {
  if (!tinyblas || n % 8 != 0) return dot_ggml(x, y, n);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(load8(x + i), load8(y + i), acc);
  return hsum_movehl(acc);
}

void dot_rows(const uint8_t* rows, size_t stride, bool f16, int64_t n_rows, const float* y, int64_t n, bool tinyblas,
              float* out) {
  int64_t i = 0;
  if (f16 && tinyblas && n % 8 == 0) {
    // four rows at a time: four independent chains of the one-accumulator tinyBLAS order
    for (; i + 3 < n_rows; i += 4) {
      const uint16_t* x0 = (const uint16_t*)(rows + (size_t)i * stride);
      const uint16_t* x1 = (const uint16_t*)(rows + (size_t)(i + 1) * stride);
      const uint16_t* x2 = (const uint16_t*)(rows + (size_t)(i + 2) * stride);
      const uint16_t* x3 = (const uint16_t*)(rows + (size_t)(i + 3) * stride);
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t k = 0; k < n; k += 8) {
        const __m256 vy = _mm256_loadu_ps(y + k);
        a0 = _mm256_fmadd_ps(load8(x0 + k), vy, a0);
        a1 = _mm256_fmadd_ps(load8(x1 + k), vy, a1);
        a2 = _mm256_fmadd_ps(load8(x2 + k), vy, a2);
        a3 = _mm256_fmadd_ps(load8(x3 + k), vy, a3);
      }
      out[i] = hsum_movehl(a0);
      out[i + 1] = hsum_movehl(a1);
      out[i + 2] = hsum_movehl(a2);
      out[i + 3] = hsum_movehl(a3);
    }
  }
  for (; i < n_rows; i++) {
    const uint8_t* r = rows + (size_t)i * stride;
    out[i] = f16 ? dot_f16((const uint16_t*)r, y, n, tinyblas) : dot_f32((const float*)r, y, n);
  }
}

void weighted_rows(const float* p, const uint8_t* rows, size_t stride, bool f16, int64_t first_cell, int64_t n,
                   int64_t dim, bool single_token, float* acc, float* out) {
  const int lanes = single_token ? 32 : 8;
  if (f16)
    weighted_rows_t<uint16_t>(p, rows, stride, first_cell, n, dim, lanes, acc, out);
  else
    weighted_rows_t<float>(p, rows, stride, first_cell, n, dim, lanes, acc, out);
}

void round_to_f16(const float* x, float scale, float* y, int64_t n) {
  // vcvtps2ph with round-to-nearest-even is ggml's F16C conversion; fp32_to_fp16 is its bit-exact scalar twin
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
  }
  for (; i < n; i++) {
    const __m128 v = _mm_mul_ss(_mm_set_ss(x[i]), _mm_set_ss(scale));
    y[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
  }
}

namespace {

inline __m256 v_row8(const uint8_t* r, bool f16, int64_t d) {
  return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)r + d))) : _mm256_loadu_ps((const float*)r + d);
}

// acc[h0 + j][d0 .. d0 + 8W) += sum_c p[h0 + j][c] * V_c[d0 ..], the HG x W accumulators in registers.
template <int HG, int W>
void v_block(const float* s, int64_t n, int64_t h0, const uint8_t* v, size_t v_stride, bool v16, int64_t d0,
             int64_t hdv, float* acc) {
  __m256 a[HG][W];
  for (int j = 0; j < HG; j++)
    for (int w = 0; w < W; w++) a[j][w] = _mm256_setzero_ps();
  for (int64_t c = 0; c < n; c++) {
    const uint8_t* vr = v + (size_t)c * v_stride;
    __m256 x[W];
    for (int w = 0; w < W; w++) x[w] = v_row8(vr, v16, d0 + 8 * w);
    for (int j = 0; j < HG; j++) {
      const __m256 p = _mm256_broadcast_ss(s + (h0 + j) * n + c);
      for (int w = 0; w < W; w++) a[j][w] = _mm256_fmadd_ps(p, x[w], a[j][w]);
    }
  }
  for (int j = 0; j < HG; j++)
    for (int w = 0; w < W; w++) _mm256_storeu_ps(acc + (h0 + j) * hdv + d0 + 8 * w, a[j][w]);
}

template <int W>
void v_block_heads(int hg, const float* s, int64_t n, int64_t h0, const uint8_t* v, size_t v_stride, bool v16,
                   int64_t d0, int64_t hdv, float* acc) {
  switch (hg) {
    case 1: v_block<1, W>(s, n, h0, v, v_stride, v16, d0, hdv, acc); break;
    case 2: v_block<2, W>(s, n, h0, v, v_stride, v16, d0, hdv, acc); break;
    case 3: v_block<3, W>(s, n, h0, v, v_stride, v16, d0, hdv, acc); break;
    default: v_block<4, W>(s, n, h0, v, v_stride, v16, d0, hdv, acc); break;
  }
}

}  // namespace

void softmax_v(float* s, int64_t g, int64_t n, const uint8_t* v, size_t v_stride, bool v16, int64_t hdv, float* m,
               float* l, float* acc);

void attn_partial(const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride, bool k16, const uint8_t* v,
                  size_t v_stride, bool v16, int64_t hdv, int64_t n, float scale, float* m, float* l, float* acc,
                  float* scratch) {
  float* s = scratch;     // [g][n] scores, then exp(s - m)
  float* kb = s + g * n;  // [8][hd] K rows in f32
  // 1. scores, 8 cells at a time when hd is a multiple of 8: the 8 rows converted once, then per head 8
  // accumulators (one per cell) reduced together into the 8 scores (no horizontal sum per cell)
  int64_t c = 0;
  if (hd % 8 == 0)
    for (; c + 8 <= n; c += 8) {
      const float* kf[8];
      for (int j = 0; j < 8; j++) {
        const uint8_t* kr = k + (size_t)(c + j) * k_stride;
        if (k16) {
          for (int64_t i = 0; i < hd; i += 8)
            _mm256_storeu_ps(kb + j * hd + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)kr + i))));
          kf[j] = kb + j * hd;
        } else {
          kf[j] = (const float*)kr;
        }
      }
      const __m256 vscale = _mm256_set1_ps(scale);
      for (int64_t h = 0; h < g; h++) {
        const float* qh = q + h * hd;
        __m256 a[8];
        for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
        for (int64_t i = 0; i < hd; i += 8) {
          const __m256 qv = _mm256_loadu_ps(qh + i);
          for (int j = 0; j < 8; j++) a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(kf[j] + i), qv, a[j]);
        }
        const __m256 t0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
        const __m256 t1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
        const __m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(t0, t1, 0x20), _mm256_permute2f128_ps(t0, t1, 0x31));
        _mm256_storeu_ps(s + h * n + c, _mm256_mul_ps(sum, vscale));
      }
    }
  // the cells left (and any hd): one row at a time
  for (; c < n; c++) {
    const uint8_t* kr = k + (size_t)c * k_stride;
    const float* kf = (const float*)kr;
    if (k16) {
      int64_t i = 0;
      for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(kb + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)kr + i))));
      for (; i < hd; i++) kb[i] = _cvtsh_ss(((const uint16_t*)kr)[i]);
      kf = kb;
    }
    for (int64_t h = 0; h < g; h++) {
      const float* qh = q + h * hd;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 16 <= hd; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(kf + i), _mm256_loadu_ps(qh + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(kf + i + 8), _mm256_loadu_ps(qh + i + 8), a1);
      }
      if (i + 8 <= hd) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(kf + i), _mm256_loadu_ps(qh + i), a0);
        i += 8;
      }
      float d = hsum_movehl(_mm256_add_ps(a0, a1));
      for (; i < hd; i++) d += kf[i] * qh[i];
      s[h * n + c] = d * scale;
    }
  }
  softmax_v(s, g, n, v, v_stride, v16, hdv, m, l, acc);
}

// Steps 2 and 3 of attn_partial: the softmax state per head of the scores s[g][n] (overwritten by exp(s - m)),
// then acc[h][d] = sum_c exp(s[h][c] - m[h]) * V_c[d] over f16 or f32 rows.
void softmax_v(float* s, int64_t g, int64_t n, const uint8_t* v, size_t v_stride, bool v16, int64_t hdv, float* m,
               float* l, float* acc) {
  // 2. softmax state per head
  for (int64_t h = 0; h < g; h++) {
    float* sh = s + h * n;
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(sh + i));
    float mx = simd::hmax_f32x8(vmx);
    for (; i < n; i++) mx = std::max(mx, sh[i]);
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 vs = _mm256_setzero_ps();
    i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 e = v_expf(_mm256_sub_ps(_mm256_loadu_ps(sh + i), vm));
      _mm256_storeu_ps(sh + i, e);
      vs = _mm256_add_ps(vs, e);
    }
    float sum = hsum_movehl(vs);
    for (; i < n; i++) sum += (sh[i] = expf(sh[i] - mx));
    m[h] = mx;
    l[h] = sum;
  }
  // 3. V: blocks of up to 4 heads x 16 dims in registers, each V row converted once per block of heads
  const int64_t hdv8 = hdv & ~(int64_t)7;
  for (int64_t h0 = 0; h0 < g; h0 += 4) {
    const int hg = (int)std::min<int64_t>(4, g - h0);
    int64_t d0 = 0;
    for (; d0 + 16 <= hdv8; d0 += 16) v_block_heads<2>(hg, s, n, h0, v, v_stride, v16, d0, hdv, acc);
    if (d0 + 8 <= hdv8) {
      v_block_heads<1>(hg, s, n, h0, v, v_stride, v16, d0, hdv, acc);
      d0 += 8;
    }
    for (int64_t d = d0; d < hdv; d++)  // dims past the last 8
      for (int j = 0; j < hg; j++) {
        float a = 0.0f;
        for (int64_t c = 0; c < n; c++) {
          const uint8_t* vr = v + (size_t)c * v_stride;
          a += s[(h0 + j) * n + c] * (v16 ? _cvtsh_ss(((const uint16_t*)vr)[d]) : ((const float*)vr)[d]);
        }
        acc[(h0 + j) * hdv + d] = a;
      }
  }
}

void attn_partial_q(const CpuKernels& kt, const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride,
                    GgmlType k_type, const uint8_t* v, size_t v_stride, GgmlType v_type, int64_t hdv, int64_t n,
                    float scale, float* m, float* l, float* acc) {
  thread_local std::vector<float> s, vf;
  if ((int64_t)s.size() < g * n) s.resize((size_t)(g * n));
  // 1. scores (the table's tiled dot kernel over n cells x g heads), scaled
  attn_q_scores(kt, q, g, hd, k, k_stride, k_type, n, s.data());
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= g * n; i += 8) _mm256_storeu_ps(&s[i], _mm256_mul_ps(_mm256_loadu_ps(&s[i]), vscale));
  for (; i < g * n; i++) s[i] *= scale;
  // 2-3. softmax and V: f16 / f32 rows as they are; quantized rows dequantized once for the whole group
  if (v_type == GgmlType::F16 || v_type == GgmlType::F32) {
    softmax_v(s.data(), g, n, v, v_stride, v_type == GgmlType::F16, hdv, m, l, acc);
    return;
  }
  if ((int64_t)vf.size() < n * hdv) vf.resize((size_t)(n * hdv));
  for (int64_t c = 0; c < n; c++) {
    const uint8_t* vr = v + (size_t)c * v_stride;
    float* out = &vf[c * hdv];
    if (v_type == GgmlType::Q8_0) {
      const block_q8_0* b = (const block_q8_0*)vr;
      for (int64_t j = 0; j < hdv / 32; j++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[j].d));
        for (int w = 0; w < 4; w++) {
          const __m256i x = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(b[j].qs + 8 * w)));
          _mm256_storeu_ps(out + 32 * j + 8 * w, _mm256_mul_ps(d, _mm256_cvtepi32_ps(x)));
        }
      }
    } else if (v_type == GgmlType::Q4_0) {
      const block_q4_0* b = (const block_q4_0*)vr;
      const __m128i lo = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
      for (int64_t j = 0; j < hdv / 32; j++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[j].d));
        const __m128i qs = _mm_loadu_si128((const __m128i*)b[j].qs);
        // elements 0..15: the low nibbles, 16..31: the high ones, each minus 8
        const __m128i x0 = _mm_sub_epi8(_mm_and_si128(qs, lo), eight);
        const __m128i x1 = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(qs, 4), lo), eight);
        const __m128i parts[4] = {x0, _mm_srli_si128(x0, 8), x1, _mm_srli_si128(x1, 8)};
        for (int w = 0; w < 4; w++)
          _mm256_storeu_ps(out + 32 * j + 8 * w, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[w]))));
      }
    } else {
      type_traits(v_type).to_float(vr, out, hdv);
    }
  }
  softmax_v(s.data(), g, n, (const uint8_t*)vf.data(), sizeof(float) * (size_t)hdv, false, hdv, m, l, acc);
}

}  // namespace attn_avx2
}  // namespace llama4
