// Generic (scalar) dot products for every weight type, bit-identical to llama.cpp's x86 AVX2 ("haswell"
// build: AVX2 + FMA + F16C, no AVX-512) kernels, which makes them the reference that the SIMD kernels of
// this directory's siblings are tested against (exact equality).
//
// Why exact: this model family re-quantizes every activation to 8 bits, so a one-ulp difference in a dot
// product can flip a rounding downstream and grow from layer to layer (see ops/cpu/ops.h).
//
// How: llama.cpp's AVX2 kernels compute, per block, 8 exact int32 lane sums (lane k = the integer partial
// sum over bytes 4k..4k+3 of each 32-byte group, with whatever integer scale factors the kernel applies),
// convert them to float and FMA them into ONE 8-lane accumulator in block order; a horizontal sum
// (hsum_float_8: hi + lo, then (t0 + t2) + (t1 + t3)) ends it. Integer sums are exact, so only the lane
// assignment of every integer term matters; it is reproduced literally here (lane[k] below). Float
// operations: one fmaf per lane and block, products of scales rounded once, the separate terms (Q4_1 / Q5_1
// min sums, Q4_K's 4-lane min accumulator, Q5_K's scalar min sum, IQ4_NL's two accumulators and scalar
// tail, the float types' four accumulators and reductions) exactly as llama.cpp orders them. Its C code is
// built with GCC's default -ffp-contract=fast, so its `s += a * b` lines are fused: they are fmaf here.
// LLAMA4_FMA_CLONES turns the compiler's own contraction off, so the only fused operations are the fmaf's.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "ops/blocks.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/ops.h"
#include "ops/quants_ref.h"

namespace llama4 {

namespace {

inline float f16(uint16_t h) { return fp16_to_fp32(h); }

// hsum_float_8
inline float hsum8(const float* a) {
  const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
  return (t0 + t2) + (t1 + t3);
}

// the nibble / element layout of the 32-element blocks: element e < 16 = low nibble of qs[e], else high of qs[e-16]
inline int nib32(const uint8_t* qs, int e) { return e < 16 ? qs[e] & 0x0F : qs[e - 16] >> 4; }

// ---- 32-element blocks against Q8_0 / Q8_1 ----------------------------------------------------------------
// val(block, e) = the signed (Q8_0 family) or unsigned (Q8_1 family) integer weight of element e.

template <typename B, typename BY, typename V>
inline void lanes32(const B& bx, const BY& by, V val, int32_t* l) {
  for (int m = 0; m < 8; m++) {
    int32_t s = 0;
    for (int e = 4 * m; e < 4 * m + 4; e++) s += val(bx, e) * by.qs[e];
    l[m] = s;
  }
}

// Q4_0 / Q5_0 / Q8_0: acc = fma(dx*dy, lanes, acc) per block, hsum.
template <typename B, typename V>
inline float dot_x_0(int64_t n, const void* x, const void* y, V val) {
  const B* bx = (const B*)x;
  const block_q8_0* by = (const block_q8_0*)y;
  float acc[8] = {};
  for (int64_t i = 0; i < n / QK8_0; i++) {
    const float d = f16(bx[i].d) * f16(by[i].d);
    int32_t l[8];
    lanes32(bx[i], by[i], val, l);
    for (int m = 0; m < 8; m++) acc[m] = fmaf(d, (float)l[m], acc[m]);
  }
  return hsum8(acc);
}

// Q4_1 / Q5_1: the same plus the min terms in a scalar chain summs = fma(mx, sy, summs); hsum + summs.
template <typename B, typename V>
inline float dot_x_1(int64_t n, const void* x, const void* y, V val) {
  const B* bx = (const B*)x;
  const block_q8_1* by = (const block_q8_1*)y;
  float acc[8] = {};
  float summs = 0.0f;
  for (int64_t i = 0; i < n / QK8_1; i++) {
    const float d = f16(bx[i].d) * f16(by[i].d);
    summs = fmaf(f16(bx[i].m), f16(by[i].s), summs);
    int32_t l[8];
    lanes32(bx[i], by[i], val, l);
    for (int m = 0; m < 8; m++) acc[m] = fmaf(d, (float)l[m], acc[m]);
  }
  return hsum8(acc) + summs;
}

int q4_0_val(const block_q4_0& b, int e) { return nib32(b.qs, e) - 8; }
int q4_1_val(const block_q4_1& b, int e) { return nib32(b.qs, e); }
int q5_0_val(const block_q5_0& b, int e) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  return (nib32(b.qs, e) | (int)(((qh >> e) & 1) << 4)) - 16;
}
int q5_1_val(const block_q5_1& b, int e) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  return nib32(b.qs, e) | (int)(((qh >> e) & 1) << 4);
}
int q8_0_val(const block_q8_0& b, int e) { return b.qs[e]; }
int iq4_nl_val(const block_iq4_nl& b, int e) { return kvalues_iq4nl[nib32(b.qs, e)]; }

LLAMA4_FMA_CLONES void vec_dot_q4_0(int64_t n, float* s, const void* x, const void* y) {
  *s = dot_x_0<block_q4_0>(n, x, y, q4_0_val);
}
LLAMA4_FMA_CLONES void vec_dot_q5_0(int64_t n, float* s, const void* x, const void* y) {
  *s = dot_x_0<block_q5_0>(n, x, y, q5_0_val);
}
LLAMA4_FMA_CLONES void vec_dot_q8_0(int64_t n, float* s, const void* x, const void* y) {
  *s = dot_x_0<block_q8_0>(n, x, y, q8_0_val);
}
LLAMA4_FMA_CLONES void vec_dot_q4_1(int64_t n, float* s, const void* x, const void* y) {
  *s = dot_x_1<block_q4_1>(n, x, y, q4_1_val);
}
LLAMA4_FMA_CLONES void vec_dot_q5_1(int64_t n, float* s, const void* x, const void* y) {
  *s = dot_x_1<block_q5_1>(n, x, y, q5_1_val);
}

// IQ4_NL: blocks in pairs, the even one into accumulator 1, the odd one into accumulator 2;
// hsum(acc1 + acc2); an odd last block is added in scalar: sumf = fma(dy*dx, (float)sumi, sumf).
LLAMA4_FMA_CLONES void vec_dot_iq4_nl(int64_t n, float* s, const void* x, const void* y) {
  const block_iq4_nl* bx = (const block_iq4_nl*)x;
  const block_q8_0* by = (const block_q8_0*)y;
  const int64_t nb = n / QK4_NL;
  float a1[8] = {}, a2[8] = {};
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    int32_t l1[8], l2[8];
    lanes32(bx[i], by[i], iq4_nl_val, l1);
    lanes32(bx[i + 1], by[i + 1], iq4_nl_val, l2);
    const float d1 = f16(by[i].d) * f16(bx[i].d), d2 = f16(by[i + 1].d) * f16(bx[i + 1].d);
    for (int m = 0; m < 8; m++) {
      a1[m] = fmaf(d1, (float)l1[m], a1[m]);
      a2[m] = fmaf(d2, (float)l2[m], a2[m]);
    }
  }
  float a[8];
  for (int m = 0; m < 8; m++) a[m] = a1[m] + a2[m];
  float sumf = hsum8(a);
  for (; i < nb; i++) {
    int32_t l[8];
    lanes32(bx[i], by[i], iq4_nl_val, l);
    int32_t sumi = 0;
    for (int m = 0; m < 8; m++) sumi += l[m];
    sumf = fmaf(f16(by[i].d) * f16(bx[i].d), (float)sumi, sumf);
  }
  *s = sumf;
}

// ---- K-quants against Q8_K ----------------------------------------------------------------------------------
// A super-block is eight 32-byte groups c (y bytes 32c..32c+31); lane k of group c = bytes 4k..4k+3; the scale
// of byte b of group c is that of the 16-element sub-block 2c + (b >= 16).

// lane k of Σ_c scale(c, b) * Σ_b q(c, b) * y[32c + b]
template <typename Q, typename S>
inline void lanes_k(const int8_t* q8, Q q, S scale, int32_t* l) {
  for (int k = 0; k < 8; k++) l[k] = 0;
  for (int c = 0; c < 8; c++)
    for (int k = 0; k < 8; k++) {
      int32_t p = 0;
      for (int b = 4 * k; b < 4 * k + 4; b++) p += q(c, b) * q8[32 * c + b];
      l[k] += scale(c, 4 * k) * p;
    }
}

LLAMA4_FMA_CLONES void vec_dot_q2_k(int64_t n, float* s, const void* x, const void* y) {
  const block_q2_K* bx = (const block_q2_K*)x;
  const block_q8_K* by = (const block_q8_K*)y;
  float acc[8] = {};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const block_q2_K& b = bx[i];
    const float d = by[i].d * f16(b.d);
    const float dmin = -by[i].d * f16(b.dmin);
    // mins first, into the same accumulator: lane k = min[2k] * bsum[2k] + min[2k+1] * bsum[2k+1]
    for (int k = 0; k < 8; k++) {
      const int32_t p = (b.scales[2 * k] >> 4) * by[i].bsums[2 * k] + (b.scales[2 * k + 1] >> 4) * by[i].bsums[2 * k + 1];
      acc[k] = fmaf(dmin, (float)p, acc[k]);
    }
    int32_t l[8];
    lanes_k(
        by[i].qs, [&](int c, int e) { return (b.qs[32 * (c / 4) + e] >> (2 * (c % 4))) & 3; },
        [&](int c, int e) { return b.scales[2 * c + (e >= 16)] & 0x0F; }, l);
    for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)l[k], acc[k]);
  }
  *s = hsum8(acc);
}

LLAMA4_FMA_CLONES void vec_dot_q3_k(int64_t n, float* s, const void* x, const void* y) {
  const block_q3_K* bx = (const block_q3_K*)x;
  const block_q8_K* by = (const block_q8_K*)y;
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  float acc[8] = {};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const block_q3_K& b = bx[i];
    const float d = by[i].d * f16(b.d);
    uint32_t a[3], u[4];
    std::memcpy(a, b.scales, 12);
    u[0] = (a[0] & kmask2) | (((a[2] >> 0) & kmask1) << 4);
    u[1] = (a[1] & kmask2) | (((a[2] >> 2) & kmask1) << 4);
    u[2] = ((a[0] >> 4) & kmask2) | (((a[2] >> 4) & kmask1) << 4);
    u[3] = ((a[1] >> 4) & kmask2) | (((a[2] >> 6) & kmask1) << 4);
    int8_t sc[16];
    std::memcpy(sc, u, 16);
    for (int g = 0; g < 16; g++) sc[g] = (int8_t)(sc[g] - 32);
    // value = low 2 bits - (high bit clear ? 4 : 0); the hmask bit of group c is bit c
    int32_t l[8];
    lanes_k(
        by[i].qs,
        [&](int c, int e) {
          return ((b.qs[32 * (c / 4) + e] >> (2 * (c % 4))) & 3) - (((b.hmask[e] >> c) & 1) ? 0 : 4);
        },
        [&](int c, int e) { return (int)sc[2 * c + (e >= 16)]; }, l);
    for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)l[k], acc[k]);
  }
  *s = hsum8(acc);
}

// Q4_K / Q5_K: the 6-bit scales and mins
inline void scales_mins_k4(const uint8_t* q, int* sc, int* mn) {
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      sc[j] = q[j] & 63;
      mn[j] = q[j + 4] & 63;
    } else {
      sc[j] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
      mn[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
  }
}

// 64-element chunk j: group 2j = low nibbles of qs[32j..], scale 2j; group 2j+1 = high nibbles, scale 2j+1
LLAMA4_FMA_CLONES void vec_dot_q4_k(int64_t n, float* s, const void* x, const void* y) {
  const block_q4_K* bx = (const block_q4_K*)x;
  const block_q8_K* by = (const block_q8_K*)y;
  float acc[8] = {}, accm[4] = {};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const block_q4_K& b = bx[i];
    const float d = by[i].d * f16(b.d);
    const float dmin = -by[i].d * f16(b.dmin);
    int sc[8], mn[8];
    scales_mins_k4(b.scales, sc, mn);
    const int16_t* bs = by[i].bsums;
    for (int m = 0; m < 4; m++) {
      const int32_t p = mn[2 * m] * (bs[4 * m] + bs[4 * m + 1]) + mn[2 * m + 1] * (bs[4 * m + 2] + bs[4 * m + 3]);
      accm[m] = fmaf(dmin, (float)p, accm[m]);
    }
    int32_t l[8];
    lanes_k(
        by[i].qs, [&](int c, int e) { return c & 1 ? b.qs[32 * (c / 2) + e] >> 4 : b.qs[32 * (c / 2) + e] & 0xF; },
        [&](int c, int) { return sc[c]; }, l);
    for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)l[k], acc[k]);
  }
  *s = hsum8(acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]));
}

// the min terms go to a scalar: summs = fma(dmin, (float)Σ_m prod_m, summs)
LLAMA4_FMA_CLONES void vec_dot_q5_k(int64_t n, float* s, const void* x, const void* y) {
  const block_q5_K* bx = (const block_q5_K*)x;
  const block_q8_K* by = (const block_q8_K*)y;
  float acc[8] = {};
  float summs = 0.0f;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const block_q5_K& b = bx[i];
    const float d = by[i].d * f16(b.d);
    const float dmin = -by[i].d * f16(b.dmin);
    int sc[8], mn[8];
    scales_mins_k4(b.scales, sc, mn);
    int32_t p = 0;
    for (int j = 0; j < 8; j++) p += mn[j] * (by[i].bsums[2 * j] + by[i].bsums[2 * j + 1]);
    summs = fmaf(dmin, (float)p, summs);
    int32_t l[8];
    lanes_k(
        by[i].qs,
        [&](int c, int e) {
          const int lo = c & 1 ? b.qs[32 * (c / 2) + e] >> 4 : b.qs[32 * (c / 2) + e] & 0xF;
          return lo | (((b.qh[e] >> c) & 1) << 4);
        },
        [&](int c, int) { return sc[c]; }, l);
    for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)l[k], acc[k]);
  }
  *s = hsum8(acc) + summs;
}

// Q6_K: unsigned 6-bit values times y, minus 32 * (sc[2k] * bsum[2k] + sc[2k+1] * bsum[2k+1]) in lane k.
// Group c = 4h + t (h: 128-element half): t = 0: ql[64h + b] low | qh bits 0-1; t = 1: ql[64h + 32 + b] low |
// bits 2-3; t = 2: ql[64h + b] high | bits 4-5; t = 3: ql[64h + 32 + b] high | bits 6-7 (qh[32h + b]).
LLAMA4_FMA_CLONES void vec_dot_q6_k(int64_t n, float* s, const void* x, const void* y) {
  const block_q6_K* bx = (const block_q6_K*)x;
  const block_q8_K* by = (const block_q8_K*)y;
  float acc[8] = {};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const block_q6_K& b = bx[i];
    const float d = by[i].d * f16(b.d);
    int32_t l[8];
    lanes_k(
        by[i].qs,
        [&](int c, int e) {
          const int h = c / 4, t = c % 4;
          const uint8_t lb = b.ql[64 * h + 32 * (t & 1) + e];
          const int lo = t < 2 ? lb & 0xF : lb >> 4;
          return lo | (((b.qh[32 * h + e] >> (2 * t)) & 3) << 4);
        },
        [&](int c, int e) { return (int)b.scales[2 * c + (e >= 16)]; }, l);
    for (int k = 0; k < 8; k++) {
      l[k] -= 32 * (by[i].bsums[2 * k] * b.scales[2 * k] + by[i].bsums[2 * k + 1] * b.scales[2 * k + 1]);
      acc[k] = fmaf(d, (float)l[k], acc[k]);
    }
  }
  *s = hsum8(acc);
}

// IQ4_XS: 32-element sub-block ib = group c = ib (bytes: low nibbles of qs[16ib..] then high), scale ls(ib)
LLAMA4_FMA_CLONES void vec_dot_iq4_xs(int64_t n, float* s, const void* x, const void* y) {
  const block_iq4_xs* bx = (const block_iq4_xs*)x;
  const block_q8_K* by = (const block_q8_K*)y;
  float acc[8] = {};
  for (int64_t i = 0; i < n / QK_K; i++) {
    const block_iq4_xs& b = bx[i];
    const float d = f16(b.d) * by[i].d;
    int ls[8];
    for (int ib = 0; ib < 8; ib++) {
      const int lo = ib & 1 ? b.scales_l[ib / 2] >> 4 : b.scales_l[ib / 2] & 0xF;
      ls[ib] = (lo | (((b.scales_h >> (2 * ib)) & 3) << 4)) - 32;
    }
    int32_t l[8];
    lanes_k(
        by[i].qs, [&](int c, int e) { return (int)kvalues_iq4nl[nib32(b.qs + 16 * c, e)]; },
        [&](int c, int) { return ls[c]; }, l);
    for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)l[k], acc[k]);
  }
  *s = hsum8(acc);
}

// ---- float types ------------------------------------------------------------------------------------------
// 32-element steps, four 8-lane accumulators (accumulator j takes elements 8j..8j+7 of each step).
template <typename L>
inline void float_steps(int64_t np, L&& xy, float (&a)[4][8]) {
  for (int j = 0; j < 4; j++)
    for (int l = 0; l < 8; l++) a[j][l] = 0.0f;
  for (int64_t i = 0; i < np; i += 32)
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 8; l++) {
        const int64_t e = i + 8 * j + l;
        a[j][l] = fmaf(xy(e, 0), xy(e, 1), a[j][l]);
      }
}
// (a0 + a2) + (a1 + a3), then GGML_F32x8_REDUCE's tail: t = lo + hi, (t0 + t1) + (t2 + t3)
inline float reduce_hadd(float (&a)[4][8]) {
  float v[8];
  for (int l = 0; l < 8; l++) v[l] = (a[0][l] + a[2][l]) + (a[1][l] + a[3][l]);
  const float t0 = v[0] + v[4], t1 = v[1] + v[5], t2 = v[2] + v[6], t3 = v[3] + v[7];
  return (t0 + t1) + (t2 + t3);
}

// F32: float sum. The tail loop `sumf += x[i]*y[i]` as GCC compiled it (vectorized): groups of 8, then one of
// 4, each product rounded and added in order; the last 0..3 elements fused (sumf = fma(x, y, sumf)).
LLAMA4_FMA_CLONES void vec_dot_f32(int64_t n, float* s, const void* vx, const void* vy) {
  const float* x = (const float*)vx;
  const float* y = (const float*)vy;
  const int64_t np = n & ~(int64_t)31;
  float a[4][8];
  float_steps(np, [&](int64_t e, int w) { return w ? y[e] : x[e]; }, a);
  float sumf = reduce_hadd(a);
  int64_t i = np;
  for (const int64_t e8 = np + ((n - np) & ~(int64_t)7); i < e8; i++) sumf = sumf + x[i] * y[i];  // not fused
  if (i + 4 <= n)
    for (int64_t e = i + 4; i < e; i++) sumf = sumf + x[i] * y[i];
  for (; i < n; i++) sumf = fmaf(x[i], y[i], sumf);
  *s = sumf;
}

// F16: the reduction goes to a double, the tail adds the (exact) f32 products in double
LLAMA4_FMA_CLONES void vec_dot_f16(int64_t n, float* s, const void* vx, const void* vy) {
  const uint16_t* x = (const uint16_t*)vx;
  const uint16_t* y = (const uint16_t*)vy;
  const int64_t np = n & ~(int64_t)31;
  float a[4][8];
  float_steps(np, [&](int64_t e, int w) { return f16(w ? y[e] : x[e]); }, a);
  double sumf = reduce_hadd(a);
  for (int64_t i = np; i < n; i++) sumf += (double)(f16(x[i]) * f16(y[i]));
  *s = (float)sumf;
}

// BF16 (AVX2 path of ggml_vec_dot_bf16): c = c + x*y (the product is exact: fused or not, the same),
// (c1 + c3) + (c2 + c4), then hsum_float_8's order; double sum, tail in double.
LLAMA4_FMA_CLONES void vec_dot_bf16(int64_t n, float* s, const void* vx, const void* vy) {
  const uint16_t* x = (const uint16_t*)vx;
  const uint16_t* y = (const uint16_t*)vy;
  const int64_t np = n & ~(int64_t)31;
  float a[4][8];
  float_steps(np, [&](int64_t e, int w) { return bf16_to_fp32(w ? y[e] : x[e]); }, a);
  float v[8];
  for (int l = 0; l < 8; l++) v[l] = (a[0][l] + a[2][l]) + (a[1][l] + a[3][l]);
  double sumf = hsum8(v);
  for (int64_t i = np; i < n; i++) sumf += (double)(bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]));
  *s = (float)sumf;
}

struct Bf16Elem {  // a BF16 element (mm_tinyblas tells it from F16 by type)
  uint16_t bits;
};
// llamafile's tinyBLAS (its AVX2 build: tinyBLAS<8, __m256>): one 8-lane chain per output from element 0,
// c[l] = fma(w, y, c[l]) over 8-element steps, then its hsum (= hsum_float_8's order). n % 8 == 0.
template <typename E>
LLAMA4_FMA_CLONES void mm_tinyblas(int64_t n, int64_t nr, int64_t nt, const void* x, size_t bx, const void* y,
                                   size_t by, float* s, int64_t ss) {
  auto at = [](const uint8_t* row, int64_t i) {
    const E* p = (const E*)row;
    if constexpr (std::is_same_v<E, float>)
      return p[i];
    else if constexpr (std::is_same_v<E, uint16_t>)
      return f16(p[i]);
    else
      return bf16_to_fp32(p[i].bits);
  };
  for (int64_t t = 0; t < nt; t++)
    for (int64_t r = 0; r < nr; r++) {
      const uint8_t* xr = (const uint8_t*)x + (size_t)r * bx;
      const uint8_t* yt = (const uint8_t*)y + (size_t)t * by;
      float c[8] = {};
      for (int64_t i = 0; i < n; i += 8)
        for (int l = 0; l < 8; l++) c[l] = fmaf(at(xr, i + l), at(yt, i + l), c[l]);
      s[t * ss + r] = hsum8(c);
    }
}
}  // namespace

void init_generic_kernels(CpuKernels& k) {
  using T = GgmlType;
  for (uint32_t i = 0; i < kGgmlTypeCount; i++) {
    k.vec_dot[i] = nullptr;
    k.mm_tile[i] = nullptr;
    k.mm_tinyblas[i] = nullptr;
    k.quantize_act[i] = nullptr;
    k.mm_packed[i] = nullptr;
  }
  k.vec_dot[(int)T::F32] = vec_dot_f32;
  k.vec_dot[(int)T::F16] = vec_dot_f16;
  k.vec_dot[(int)T::BF16] = vec_dot_bf16;
  k.mm_tinyblas[(int)T::F32] = mm_tinyblas<float>;
  k.mm_tinyblas[(int)T::F16] = mm_tinyblas<uint16_t>;
  k.mm_tinyblas[(int)T::BF16] = mm_tinyblas<Bf16Elem>;
  k.vec_dot[(int)T::Q4_0] = vec_dot_q4_0;
  k.vec_dot[(int)T::Q4_1] = vec_dot_q4_1;
  k.vec_dot[(int)T::Q5_0] = vec_dot_q5_0;
  k.vec_dot[(int)T::Q5_1] = vec_dot_q5_1;
  k.vec_dot[(int)T::Q8_0] = vec_dot_q8_0;
  k.vec_dot[(int)T::IQ4_NL] = vec_dot_iq4_nl;
  k.vec_dot[(int)T::Q2_K] = vec_dot_q2_k;
  k.vec_dot[(int)T::Q3_K] = vec_dot_q3_k;
  k.vec_dot[(int)T::Q4_K] = vec_dot_q4_k;
  k.vec_dot[(int)T::Q5_K] = vec_dot_q5_k;
  k.vec_dot[(int)T::Q6_K] = vec_dot_q6_k;
  k.vec_dot[(int)T::IQ4_XS] = vec_dot_iq4_xs;
  k.quantize_act[(int)T::F32] = from_float_f32;
  k.quantize_act[(int)T::F16] = from_float_f16;
  k.quantize_act[(int)T::BF16] = from_float_bf16;
  k.quantize_act[(int)T::Q8_0] = quantize_q8_0_act;
  k.quantize_act[(int)T::Q8_1] = quantize_q8_1_act;
  k.quantize_act[(int)T::Q8_K] = quantize_q8_k_ref;
  k.mm_packed[(int)T::Q8_0] = mm_packed_q8_0_ref;
  k.mm_packed[(int)T::Q6_K] = mm_packed_q6_k_ref;
  k.mm_packed[(int)T::Q4_0] = mm_packed_q4_0_ref;
  k.mm_packed[(int)T::Q4_K] = mm_packed_q4_k_ref;
  k.mm_packed[(int)T::Q4_1] = mm_packed_q4_1_ref;
}

}  // namespace llama4
