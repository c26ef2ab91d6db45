// AVX2 + FMA + F16C kernels (compiled with those flags only; called only after a CPU feature check).
// Dot products follow the algebra of spec 2.6: every integer inner sum is exact (maddubs pair sums never
// saturate for the value ranges involved), and only the float combination order differs from the generic
// kernels. Activation quantizers are bit-identical to the scalar ones in ops/quants_ref.cpp.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "ops/blocks.h"
#include "ops/cpu/avx2/float_tile_x86.h"
#include "ops/cpu/avx2/matvec_avx2.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/cpu/avx2/tile_avx2.h"
#include "ops/cpu/kernels.h"
#include "ops/quants_ref.h"

namespace llama4 {
namespace avx2 {

using namespace simd;

// ---- legacy 32-element blocks ---------------------------------------------------------------------------
// llama.cpp's AVX2 order (see simd_avx2.h: blocks1_scaled, scale_and_min, pairs_then_scalar); integer lane
// sums are exact, lane k = bytes 4k..4k+3 of the block.

void vec_dot_q4_0_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_0* x = (const block_q4_0*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  const __m256i eight = _mm256_set1_epi8(8);
  *s = hsum_f32x8(blocks1_scaled(n / QK4_0, x, y, [&](int64_t i) {
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    // Σ (nib - 8) * y as i16 pair sums: nib*y pairs (|.| <= 3810) minus 8*y pairs (|.| <= 2032)
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(nibbles_32(x[i].qs), qy), _mm256_maddubs_epi16(eight, qy));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }));
}

void vec_dot_q4_1_q8_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_1* x = (const block_q4_1*)vx;
  const block_q8_1* y = (const block_q8_1*)vy;
  __m256 acc = _mm256_setzero_ps();
  __m128 summs = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK4_1; i++) {
    const __m256 d = scale_and_min(&x[i].d, &y[i].d, summs);
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8i8(nibbles_32(x[i].qs), qy)), acc);
  }
  *s = hsum_f32x8(acc) + _mm_cvtss_f32(summs);
}

void vec_dot_q5_0_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_0* x = (const block_q5_0*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  const __m256i b4 = _mm256_set1_epi8(0x10);
  *s = hsum_f32x8(blocks1_scaled(n / QK5_0, x, y, [&](int64_t i) {
    // Σ (q5 - 16) * y as i16 pair sums: q5*y pairs (|.| <= 7874) minus 16*y pairs (|.| <= 4064)
    const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), _mm256_and_si256(bits_to_bytes_32(x[i].qh), b4));
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(qx, qy), _mm256_maddubs_epi16(b4, qy));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }));
}

void vec_dot_q5_1_q8_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_1* x = (const block_q5_1*)vx;
  const block_q8_1* y = (const block_q8_1*)vy;
  const __m256i b4 = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  __m128 summs = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK5_1; i++) {
    const __m256 d = scale_and_min(&x[i].d, &y[i].d, summs);
    const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), _mm256_and_si256(bits_to_bytes_32(x[i].qh), b4));
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8i8(qx, qy)), acc);
  }
  *s = hsum_f32x8(acc) + _mm_cvtss_f32(summs);
}

void vec_dot_q8_0_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q8_0* x = (const block_q8_0*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  *s = hsum_f32x8(blocks1_scaled(n / QK8_0, x, y, [&](int64_t i) {
    const __m256i qx = _mm256_loadu_si256((const __m256i*)x[i].qs);
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    return _mm256_cvtepi32_ps(dot_i8i8(qx, qy));
  }));
}

void vec_dot_iq4_nl_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_nl* x = (const block_iq4_nl*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kvalues_iq4nl));
  *s = pairs_then_scalar(n / QK4_NL, x, y, [&](int64_t i) {
    const __m256i qx = _mm256_shuffle_epi8(table, nibbles_32(x[i].qs));
    return dot_i8i8(qx, _mm256_loadu_si256((const __m256i*)y[i].qs));
  });
}

// ---- K-quants (against Q8_K: f32 d, 256 quants, sixteen 16-element sums) --------------------------------

void vec_dot_q2_k_q8_k(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q2_K* x = (const block_q2_K*)vx;
  const block_q8_K* y = (const block_q8_K*)vy;
  const int64_t nb = n / QK_K;
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    const float d = y[i].d * h2f(x[i].d);
    const float dmin = -y[i].d * h2f(x[i].dmin);
    const __m128i sm = _mm_loadu_si128((const __m128i*)x[i].scales);
    const __m128i sc8 = _mm_and_si128(sm, m4);
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sm, 4), m4));
    const __m256i bsums = _mm256_loadu_si256((const __m256i*)y[i].bsums);
    // llama.cpp: the min terms go into the same accumulator, first
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, bsums)), acc);
    const int8_t* q8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      const __m256i q2 = _mm256_loadu_si256((const __m256i*)(x[i].qs + 32 * h));
      for (int j = 0; j < 4; j++) {
        const __m256i qx = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
        const __m256i qy = _mm256_loadu_si256((const __m256i*)q8);
        q8 += 32;
        const __m256i p = _mm256_maddubs_epi16(qx, qy);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale_pair_i16(sc8, 8 * h + 2 * j), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *s = hsum_f32x8(acc);
}

void vec_dot_q3_k_q8_k(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q3_K* x = (const block_q3_K*)vx;
  const block_q8_K* y = (const block_q8_K*)vy;
  const int64_t nb = n / QK_K;
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    const float d = y[i].d * h2f(x[i].d);
    const __m128i sc8 = unpack_scales_q3k(x[i].scales);
    const __m256i hm = _mm256_loadu_si256((const __m256i*)x[i].hmask);
    const int8_t* q8 = y[i].qs;
    // llama.cpp's lane split: Σ sc * (Σ q2*y - Σ h*y), h = 4 where the group's hmask bit is CLEAR
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      const __m256i q2 = _mm256_loadu_si256((const __m256i*)(x[i].qs + 32 * h));
      for (int j = 0; j < 4; j++) {
        const int b = 4 * h + j;  // hmask bit of this 32-element group
        const __m256i hb = _mm256_slli_epi16(_mm256_srli_epi16(_mm256_andnot_si256(hm, _mm256_slli_epi16(one, b)), b), 2);
        const __m256i ql = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
        const __m256i qy = _mm256_loadu_si256((const __m256i*)q8);
        q8 += 32;
        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(ql, qy), _mm256_maddubs_epi16(hb, qy));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale_pair_i16(sc8, 8 * h + 2 * j), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *s = hsum_f32x8(acc);
}

void vec_dot_q4_k_q8_k(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_K* x = (const block_q4_K*)vx;
  const block_q8_K* y = (const block_q8_K*)vy;
  const int64_t nb = n / QK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  __m128 accm = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    const float d = y[i].d * h2f(x[i].d);
    const float dmin = -y[i].d * h2f(x[i].dmin);
    const __m128i sm = unpack_scales_mins_k4(x[i].scales);
    accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins_k4(sm, y[i].bsums)), accm);
    const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const uint8_t* q4 = x[i].qs;
    const int8_t* q8 = y[i].qs;
    __m256i sumi0 = _mm256_setzero_si256(), sumi1 = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
      const __m256i qb = _mm256_loadu_si256((const __m256i*)(q4 + 32 * j));
      const __m256i ql = _mm256_and_si256(qb, m4);
      const __m256i qh = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
      const __m256i yl = _mm256_loadu_si256((const __m256i*)(q8 + 64 * j));
      const __m256i yh = _mm256_loadu_si256((const __m256i*)(q8 + 64 * j + 32));
      const __m256i pl = _mm256_madd_epi16(scale_bcast_i16(sc, 2 * j), _mm256_maddubs_epi16(ql, yl));
      const __m256i ph = _mm256_madd_epi16(scale_bcast_i16(sc, 2 * j + 1), _mm256_maddubs_epi16(qh, yh));
      sumi0 = _mm256_add_epi32(sumi0, pl);
      sumi1 = _mm256_add_epi32(sumi1, ph);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_add_epi32(sumi0, sumi1)), acc);
  }
  *s = hsum_f32x8(acc) + hsum_f32x4(accm);
}

void vec_dot_q5_k_q8_k(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_K* x = (const block_q5_K*)vx;
  const block_q8_K* y = (const block_q8_K*)vy;
  const int64_t nb = n / QK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i b4 = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  __m128 summs = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    const float d = y[i].d * h2f(x[i].d);
    const float dmin = -y[i].d * h2f(x[i].dmin);
    const __m128i sm = unpack_scales_mins_k4(x[i].scales);
    summs = min_k5(summs, dmin, sm, y[i].bsums);
    const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const __m256i hbits = _mm256_loadu_si256((const __m256i*)x[i].qh);
    const uint8_t* q4 = x[i].qs;
    const int8_t* q8 = y[i].qs;
    __m256i sumi0 = _mm256_setzero_si256(), sumi1 = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
      const __m256i qb = _mm256_loadu_si256((const __m256i*)(q4 + 32 * j));
      // 5th bit of the low nibbles = qh bit 2j, of the high nibbles = bit 2j+1; move it to bit 4
      const int bl = 2 * j, bh = 2 * j + 1;
      const __m256i hl = bl <= 4 ? _mm256_slli_epi16(hbits, 4 - bl) : _mm256_srli_epi16(hbits, bl - 4);
      const __m256i hh = bh <= 4 ? _mm256_slli_epi16(hbits, 4 - bh) : _mm256_srli_epi16(hbits, bh - 4);
      const __m256i ql = _mm256_or_si256(_mm256_and_si256(qb, m4), _mm256_and_si256(hl, b4));
      const __m256i qh = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4), _mm256_and_si256(hh, b4));
      const __m256i yl = _mm256_loadu_si256((const __m256i*)(q8 + 64 * j));
      const __m256i yh = _mm256_loadu_si256((const __m256i*)(q8 + 64 * j + 32));
      sumi0 = _mm256_add_epi32(sumi0, _mm256_madd_epi16(scale_bcast_i16(sc, 2 * j), _mm256_maddubs_epi16(ql, yl)));
      sumi1 = _mm256_add_epi32(sumi1, _mm256_madd_epi16(scale_bcast_i16(sc, 2 * j + 1), _mm256_maddubs_epi16(qh, yh)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_add_epi32(sumi0, sumi1)), acc);
  }
  *s = hsum_f32x8(acc) + _mm_cvtss_f32(summs);
}

void vec_dot_q6_k_q8_k(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q6_K* x = (const block_q6_K*)vx;
  const block_q8_K* y = (const block_q8_K*)vy;
  const int64_t nb = n / QK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    const float d = y[i].d * h2f(x[i].d);
    const __m128i sc8 = _mm_loadu_si128((const __m128i*)x[i].scales);
    // value = q6 - 32: the -32 part is -32 * sum_g sc_g * bsum_g
    const __m256i bsums = _mm256_loadu_si256((const __m256i*)y[i].bsums);
    __m256i sumi0 = _mm256_sub_epi32(_mm256_setzero_si256(),
                                     _mm256_slli_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), bsums), 5));
    __m256i sumi1 = _mm256_setzero_si256();
    const int8_t* q8 = y[i].qs;
    for (int h = 0; h < 2; h++) {
      const __m256i l0 = _mm256_loadu_si256((const __m256i*)(x[i].ql + 64 * h));
      const __m256i l1 = _mm256_loadu_si256((const __m256i*)(x[i].ql + 64 * h + 32));
      const __m256i hb = _mm256_loadu_si256((const __m256i*)(x[i].qh + 32 * h));
      const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2));
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2));
      const __m256i q3 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2));
      const __m256i y0 = _mm256_loadu_si256((const __m256i*)(q8 + 0));
      const __m256i y1 = _mm256_loadu_si256((const __m256i*)(q8 + 32));
      const __m256i y2 = _mm256_loadu_si256((const __m256i*)(q8 + 64));
      const __m256i y3 = _mm256_loadu_si256((const __m256i*)(q8 + 96));
      q8 += 128;
      const int g = 8 * h;
      sumi0 = _mm256_add_epi32(sumi0, _mm256_madd_epi16(scale_pair_i16(sc8, g + 0), _mm256_maddubs_epi16(q0, y0)));
      sumi1 = _mm256_add_epi32(sumi1, _mm256_madd_epi16(scale_pair_i16(sc8, g + 2), _mm256_maddubs_epi16(q1, y1)));
      sumi0 = _mm256_add_epi32(sumi0, _mm256_madd_epi16(scale_pair_i16(sc8, g + 4), _mm256_maddubs_epi16(q2, y2)));
      sumi1 = _mm256_add_epi32(sumi1, _mm256_madd_epi16(scale_pair_i16(sc8, g + 6), _mm256_maddubs_epi16(q3, y3)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_add_epi32(sumi0, sumi1)), acc);
  }
  *s = hsum_f32x8(acc);
}

void vec_dot_iq4_xs_q8_k(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_xs* x = (const block_iq4_xs*)vx;
  const block_q8_K* y = (const block_q8_K*)vy;
  const int64_t nb = n / QK_K;
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kvalues_iq4nl));
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    const float d = y[i].d * h2f(x[i].d);
    uint16_t sh = x[i].scales_h;
    const int8_t* q8 = y[i].qs;
    __m256i sumi0 = _mm256_setzero_si256(), sumi1 = _mm256_setzero_si256();
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
      const int ls0 = ((x[i].scales_l[ib / 2] & 0xF) | ((sh << 4) & 0x30)) - 32;
      const int ls1 = ((x[i].scales_l[ib / 2] >> 4) | ((sh << 2) & 0x30)) - 32;
      sh >>= 4;
      const __m256i v0 = _mm256_shuffle_epi8(table, nibbles_32(x[i].qs + 16 * ib));
      const __m256i v1 = _mm256_shuffle_epi8(table, nibbles_32(x[i].qs + 16 * ib + 16));
      const __m256i y0 = _mm256_loadu_si256((const __m256i*)(q8 + 32 * ib));
      const __m256i y1 = _mm256_loadu_si256((const __m256i*)(q8 + 32 * ib + 32));
      const __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(v0, v0), _mm256_sign_epi8(y0, v0));
      const __m256i p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(v1, v1), _mm256_sign_epi8(y1, v1));
      sumi0 = _mm256_add_epi32(sumi0, _mm256_madd_epi16(p0, _mm256_set1_epi16((short)ls0)));
      sumi1 = _mm256_add_epi32(sumi1, _mm256_madd_epi16(p1, _mm256_set1_epi16((short)ls1)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_add_epi32(sumi0, sumi1)), acc);
  }
  *s = hsum_f32x8(acc);
}

// ---- float types ----------------------------------------------------------------------------------------

namespace {

inline __m256 load_f16x8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
inline __m256 load_bf16x8(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}
inline float bf2f(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ggml_vec_dot_{f32,f16,bf16} (AVX2): 32-element steps with four accumulators, a = fma(x, y, a) (for F16 /
// BF16 the product is exact, so bf16's unfused mul + add is the same); returns (a0 + a2) + (a1 + a3).
template <typename T, typename L>
inline __m256 steps32(int64_t np, const T* x, const T* y, L&& load) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  for (int64_t i = 0; i < np; i += 32) {
    a0 = _mm256_fmadd_ps(load(x + i + 0), load(y + i + 0), a0);
    a1 = _mm256_fmadd_ps(load(x + i + 8), load(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(load(x + i + 16), load(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(load(x + i + 24), load(y + i + 24), a3);
  }
  return _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
}

// GGML_F32x8_REDUCE's tail: t = lo + hi, hadd, hadd: (t0 + t1) + (t2 + t3)
inline float reduce_hadd(__m256 v) {
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t1 = _mm_hadd_ps(t, t);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// keeps a product out of any fused multiply-add
inline float unfused(float v) {
  __asm__("" : "+x"(v));
  return v;
}

}  // namespace

void vec_dot_f32(int64_t n, float* s, const void* vx, const void* vy) {
  const float* x = (const float*)vx;
  const float* y = (const float*)vy;
  const int64_t np = n & ~(int64_t)31;
  float sumf = reduce_hadd(steps32(np, x, y, [](const float* p) { return _mm256_loadu_ps(p); }));
  // the tail `sumf += x*y` as GCC compiled it for llama.cpp: groups of 8, then of 4, each product rounded and
  // added in order; the last 0..3 elements fused
  int64_t i = np;
  for (const int64_t e8 = np + ((n - np) & ~(int64_t)7); i < e8; i++) sumf = sumf + unfused(x[i] * y[i]);
  if (i + 4 <= n)
    for (const int64_t e4 = i + 4; i < e4; i++) sumf = sumf + unfused(x[i] * y[i]);
  for (; i < n; i++) sumf = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(x[i]), _mm_set_ss(y[i]), _mm_set_ss(sumf)));
  *s = sumf;
}

void vec_dot_f16(int64_t n, float* s, const void* vx, const void* vy) {
  const uint16_t* x = (const uint16_t*)vx;
  const uint16_t* y = (const uint16_t*)vy;
  const int64_t np = n & ~(int64_t)31;
  double sumf = reduce_hadd(steps32(np, x, y, load_f16x8));
  for (int64_t i = np; i < n; i++) sumf += (double)(h2f(x[i]) * h2f(y[i]));  // exact products
  *s = (float)sumf;
}

void vec_dot_bf16(int64_t n, float* s, const void* vx, const void* vy) {
  const uint16_t* x = (const uint16_t*)vx;
  const uint16_t* y = (const uint16_t*)vy;
  const int64_t np = n & ~(int64_t)31;
  double sumf = hsum_f32x8(steps32(np, x, y, load_bf16x8));
  for (int64_t i = np; i < n; i++) sumf += (double)(bf2f(x[i]) * bf2f(y[i]));  // exact products
  *s = (float)sumf;
}

// ---- activation quantizers (bit-identical to quantize_q8_0_act / quantize_q8_1_act / quantize_q8_k_ref) --

namespace {

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// x*id rounded to nearest-even, as i32
inline __m256i round_i32(__m256 v, __m256 id) {
  return _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// four 8 x i32 vectors (elements 0..31 in order) -> 32 int8 in element order (values already in range)
inline __m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One block of 32: returns the integer sum of the quants.
inline int quantize_block32(const float* x, uint16_t* d_out, int8_t* qs, float* d_f32) {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
               v3 = _mm256_loadu_ps(x + 24);
  const __m256 mx = _mm256_max_ps(_mm256_max_ps(abs_ps(v0), abs_ps(v1)), _mm256_max_ps(abs_ps(v2), abs_ps(v3)));
  const float amax = hmax_f32x8(mx);
  const float d = amax / 127.f;
  *d_out = fp32_to_fp16(d);
  *d_f32 = d;
  const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
  const __m256i i0 = round_i32(v0, id), i1 = round_i32(v1, id), i2 = round_i32(v2, id), i3 = round_i32(v3, id);
  _mm256_storeu_si256((__m256i*)qs, pack_i32_to_i8(i0, i1, i2, i3));
  return hsum_i32x8(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
}

}  // namespace

void quantize_q8_0_act(const float* x, void* dst, int64_t n) {
  block_q8_0* y = (block_q8_0*)dst;
  float d;
  for (int64_t i = 0; i < n / QK8_0; i++) quantize_block32(x + i * QK8_0, &y[i].d, y[i].qs, &d);
}

void quantize_q8_1_act(const float* x, void* dst, int64_t n) {
  block_q8_1* y = (block_q8_1*)dst;
  for (int64_t i = 0; i < n / QK8_1; i++) {
    float d;
    const int sum = quantize_block32(x + i * QK8_1, &y[i].d, y[i].qs, &d);
    y[i].s = fp32_to_fp16(d * (float)sum);
  }
}

void quantize_q8_k(const float* x, void* dst, int64_t n) {
  block_q8_K* y = (block_q8_K*)dst;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    __m256 mx = _mm256_setzero_ps();
    for (int j = 0; j < QK_K; j += 8) mx = _mm256_max_ps(mx, abs_ps(_mm256_loadu_ps(x + j)));
    const float amax = hmax_f32x8(mx);
    if (!(amax > 0.0f)) {
      std::memset(&y[i], 0, sizeof(block_q8_K));
      continue;
    }
    // the scalar code keeps the FIRST element with the largest |x| (and its sign)
    float max = 0.0f;
    const __m256 va = _mm256_set1_ps(amax);
    for (int j = 0; j < QK_K; j += 8) {
      const int m = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), va, _CMP_EQ_OQ));
      if (m) {
        max = x[j + __builtin_ctz((unsigned)m)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127);
    const __m256i ones8 = _mm256_set1_epi8(1);
    for (int j = 0; j < QK_K; j += 32) {
      const __m256i i0 = _mm256_min_epi32(round_i32(_mm256_loadu_ps(x + j + 0), vs), lim);
      const __m256i i1 = _mm256_min_epi32(round_i32(_mm256_loadu_ps(x + j + 8), vs), lim);
      const __m256i i2 = _mm256_min_epi32(round_i32(_mm256_loadu_ps(x + j + 16), vs), lim);
      const __m256i i3 = _mm256_min_epi32(round_i32(_mm256_loadu_ps(x + j + 24), vs), lim);
      const __m256i q = pack_i32_to_i8(i0, i1, i2, i3);
      _mm256_storeu_si256((__m256i*)(y[i].qs + j), q);
      // sums of 16: low lane = elements j..j+15, high lane = j+16..j+31
      __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), _mm256_set1_epi16(1));
      p = _mm256_hadd_epi32(p, p);
      p = _mm256_hadd_epi32(p, p);
      y[i].bsums[j / 16] = (int16_t)_mm256_extract_epi32(p, 0);
      y[i].bsums[j / 16 + 1] = (int16_t)_mm256_extract_epi32(p, 4);
    }
    y[i].d = 1 / iscale;
  }
}

// ---- tiled matmul (bit-identical to the kernels above; see tile_avx2.h) -----------------------------------

namespace {

// Decode (one token): the multi-row mat-vec of matvec_avx2.h (rows' chains interleaved, next row group
// prefetched linearly; up to 4 rows: 16 ymm registers). Prompts: 4 rows x 2 tokens per micro-kernel.
template <typename K, VecDotFn kDot>
void mm_tile_blocks(int64_t n, int64_t nr, int64_t nt, const void* x, size_t bx, const void* y, size_t by, float* s,
                    int64_t ss) {
  if (nt >= 2) {
    tile::tile_blocks<4, 2, K>(n, nr, nt, x, bx, y, by, s, ss);
    return;
  }
  mv::matvec<K, K::kMin ? 3 : 4>(n, nr, x, bx, y, s);
}

}  // namespace

}  // namespace avx2

namespace avx2 { void mm_packed_q4_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx2 { void mm_packed_q4_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx2 { void mm_packed_q6_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx2 { void mm_packed_q8_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx2 { void mm_packed_q4_1(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
void init_avx2_kernels(CpuKernels& k) {
  using T = GgmlType;
  k.vec_dot[(int)T::F32] = avx2::vec_dot_f32;
  k.vec_dot[(int)T::F16] = avx2::vec_dot_f16;
  k.vec_dot[(int)T::BF16] = avx2::vec_dot_bf16;
  k.vec_dot[(int)T::Q4_0] = avx2::vec_dot_q4_0_q8_0;
  k.vec_dot[(int)T::Q4_1] = avx2::vec_dot_q4_1_q8_1;
  k.vec_dot[(int)T::Q5_0] = avx2::vec_dot_q5_0_q8_0;
  k.vec_dot[(int)T::Q5_1] = avx2::vec_dot_q5_1_q8_1;
  k.vec_dot[(int)T::Q8_0] = avx2::vec_dot_q8_0_q8_0;
  k.vec_dot[(int)T::IQ4_NL] = avx2::vec_dot_iq4_nl_q8_0;
  k.vec_dot[(int)T::Q2_K] = avx2::vec_dot_q2_k_q8_k;
  k.vec_dot[(int)T::Q3_K] = avx2::vec_dot_q3_k_q8_k;
  k.vec_dot[(int)T::Q4_K] = avx2::vec_dot_q4_k_q8_k;
  k.vec_dot[(int)T::Q5_K] = avx2::vec_dot_q5_k_q8_k;
  k.vec_dot[(int)T::Q6_K] = avx2::vec_dot_q6_k_q8_k;
  k.vec_dot[(int)T::IQ4_XS] = avx2::vec_dot_iq4_xs_q8_k;
  k.quantize_act[(int)T::Q8_0] = avx2::quantize_q8_0_act;
  k.quantize_act[(int)T::Q8_1] = avx2::quantize_q8_1_act;
  k.quantize_act[(int)T::Q8_K] = avx2::quantize_q8_k;
  namespace tl = simd::tile;
  k.mm_tile[(int)T::Q4_0] = avx2::mm_tile_blocks<tl::Q4_0x2, avx2::vec_dot_q4_0_q8_0>;
  k.mm_tile[(int)T::Q4_1] = avx2::mm_tile_blocks<tl::Q4_1x2, avx2::vec_dot_q4_1_q8_1>;
  k.mm_tile[(int)T::Q5_0] = avx2::mm_tile_blocks<tl::Q5_0x2, avx2::vec_dot_q5_0_q8_0>;
  k.mm_tile[(int)T::Q5_1] = avx2::mm_tile_blocks<tl::Q5_1x2, avx2::vec_dot_q5_1_q8_1>;
  k.mm_tile[(int)T::Q8_0] = avx2::mm_tile_blocks<tl::Q8_0x2, avx2::vec_dot_q8_0_q8_0>;
  k.mm_tile[(int)T::IQ4_NL] = avx2::mm_tile_blocks<tl::IQ4_NLx2, avx2::vec_dot_iq4_nl_q8_0>;
  // 4 rows x 3 tokens: 12 accumulators + 3 token vectors + 1 row vector = the 16 ymm registers
  k.mm_tinyblas[(int)T::F32] = simd::ftile::mm_tinyblas<float, 3>;
  k.mm_tinyblas[(int)T::F16] = simd::ftile::mm_tinyblas<uint16_t, 3>;
  k.mm_tinyblas[(int)T::BF16] = simd::ftile::mm_tinyblas<uint16_t, 3, true>;
  // (Float tiles measured no faster than vec_dot per output for F16 prompts on EPYC: none.)
  k.mm_packed[(int)T::Q8_0] = avx2::mm_packed_q8_0;
  k.mm_packed[(int)T::Q6_K] = avx2::mm_packed_q6_k;
  k.mm_packed[(int)T::Q4_0] = avx2::mm_packed_q4_0;
  k.mm_packed[(int)T::Q4_K] = avx2::mm_packed_q4_k;
  k.mm_packed[(int)T::Q4_1] = avx2::mm_packed_q4_1;
}

}  // namespace llama4
