// Small AVX2 building blocks shared by the AVX2 and AVX-512 kernel files. Include ONLY from files under
// ops/cpu/avx2/ or ops/cpu/avx512/ (the only ones compiled with AVX2 enabled).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ops/blocks.h"

namespace llama4 {
namespace simd {

// The 4 bytes at p in every int32 lane (the packed kernels' activation broadcast).
static inline __m256i bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// f16 bits -> f32 (F16C; exact for every input, subnormals included).
static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// Two adjacent f16 values (d and m / d and s at the start of a block) -> lanes 0 and 1.
static inline __m128 h2f_pair(const void* p) {
  uint32_t u;
  std::memcpy(&u, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128((int)u));
}

// f32(x[i+k].d) * f32(y[i+k].d) for k = 0..3 (blocks whose first field is the f16 scale): one conversion
// for four blocks instead of four scalar ones.
template <typename BX, typename BY>
static inline __m128 scales4(const BX* x, const BY* y) {
  const __m128i hx = _mm_setr_epi16((short)x[0].d, (short)x[1].d, (short)x[2].d, (short)x[3].d, 0, 0, 0, 0);
  const __m128i hy = _mm_setr_epi16((short)y[0].d, (short)y[1].d, (short)y[2].d, (short)y[3].d, 0, 0, 0, 0);
  return _mm_mul_ps(_mm_cvtph_ps(hx), _mm_cvtph_ps(hy));
}

// llama.cpp's order for the 32-element blocks: ONE accumulator, acc = fma(f32(dx) * f32(dy), q_i, acc) in block
// order, where q(i) returns block i's eight converted integer lane sums (lane k = bytes 4k..4k+3). The scale
// products are formed four at a time (one rounding each, as the scalar product).
template <typename BX, typename BY, typename F>
static inline __m256 blocks1_scaled(int64_t nb, const BX* x, const BY* y, F&& q) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 3 < nb; i += 4) {
    const __m128 d4 = scales4(x + i, y + i);
    const __m256 d44 = _mm256_set_m128(d4, d4);
    acc = _mm256_fmadd_ps(_mm256_permute_ps(d44, 0x00), q(i + 0), acc);
    acc = _mm256_fmadd_ps(_mm256_permute_ps(d44, 0x55), q(i + 1), acc);
    acc = _mm256_fmadd_ps(_mm256_permute_ps(d44, 0xAA), q(i + 2), acc);
    acc = _mm256_fmadd_ps(_mm256_permute_ps(d44, 0xFF), q(i + 3), acc);
  }
  for (; i < nb; i++) acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d)), q(i), acc);
  return acc;
}

// Q4_1 / Q5_1 (llama.cpp): d = f32(dx) * f32(dy); summs = fma(f32(mx), f32(sy), summs) (its C code contracted).
// px / py point at the (d, m) / (d, s) f16 pairs; returns d broadcast, updates summs (lane 0).
static inline __m256 scale_and_min(const void* px, const void* py, __m128& summs) {
  const __m128 a = h2f_pair(px), b = h2f_pair(py);
  summs = _mm_fmadd_ss(_mm_movehdup_ps(a), _mm_movehdup_ps(b), summs);
  return _mm256_broadcastss_ps(_mm_mul_ss(a, b));
}

static inline float hsum_f32x4(__m128 r) {
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

static inline float hsum_f32x8(__m256 x) {
  return hsum_f32x4(_mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1)));
}

// hsum_f32x8 lane-wise over 8 chain vectors: lane r of the result = hsum_f32x8 of (a[0][r], ..., a[7][r]),
// for kernels that keep llama.cpp's 8 lane chains per output in 8 vectors (lane = output row).
static inline __m256 hsum_chains8(const __m256* a) {
  const __m256 t0 = _mm256_add_ps(a[0], a[4]), t1 = _mm256_add_ps(a[1], a[5]);
  const __m256 t2 = _mm256_add_ps(a[2], a[6]), t3 = _mm256_add_ps(a[3], a[7]);
  return _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3));
}

static inline float hmax_f32x8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

static inline int32_t hsum_i32x8(__m256i x) {
  __m128i r = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
  r = _mm_add_epi32(r, _mm_unpackhi_epi64(r, r));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0xB1));
  return _mm_cvtsi128_si32(r);
}

// IQ4_NL (llama.cpp): blocks in pairs, even ones into acc1, odd ones into acc2 (fma(dy*dx, q, acc)), hsum of
// acc1 + acc2; an odd last block in scalar: sumf = fma(dy*dx, (float)Σ lanes, sumf). q(i): the int lane sums.
template <typename BX, typename BY, typename F>
static inline float pairs_then_scalar(int64_t nb, const BX* x, const BY* y, F&& q) {
  __m256 a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    a1 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(y[i].d) * _cvtsh_ss(x[i].d)), _mm256_cvtepi32_ps(q(i)), a1);
    a2 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(y[i + 1].d) * _cvtsh_ss(x[i + 1].d)), _mm256_cvtepi32_ps(q(i + 1)), a2);
  }
  float sumf = hsum_f32x8(_mm256_add_ps(a1, a2));
  for (; i < nb; i++) {
    const __m128 d = _mm_set_ss(_cvtsh_ss(y[i].d) * _cvtsh_ss(x[i].d));
    sumf = _mm_cvtss_f32(_mm_fmadd_ss(d, _mm_set_ss((float)hsum_i32x8(q(i))), _mm_set_ss(sumf)));
  }
  return sumf;
}

// 16 packed bytes -> 32 bytes in element order of the legacy/IQ4 blocks: low nibbles (elements 0..15) in
// the low 128-bit lane, high nibbles (elements 16..31) in the high lane.
// (broadcast load + one variable 64-bit shift: one ALU uop fewer than load / shift / insert)
static inline __m256i nibbles_32(const uint8_t* p) {
  const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)p));
  return _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

// 32 bits (little-endian u32 at p) -> 32 bytes: 0xFF where bit i is set, 0x00 elsewhere.
static inline __m256i bits_to_bytes_32(const uint8_t* p) {
  uint32_t u;
  std::memcpy(&u, p, 4);
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)u), shuf);
  // Byte k of each 8: every bit set except bit k; OR with the source byte is all-ones iff bit k is set.
  b = _mm256_or_si256(b, _mm256_set1_epi64x((long long)0x7fbfdfeff7fbfdfeULL));
  return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

// Exact integer dot products of 32 byte pairs, returned as 8 partial i32 sums.
// unsigned x (0..255, but pair sums must fit i16: here x <= 63 or |y| small) times signed y
static inline __m256i dot_u8i8(__m256i ux, __m256i sy) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ux, sy), _mm256_set1_epi16(1));
}
// signed x signed (|x|,|y| <= 127): |x| * sign(y, x)
static inline __m256i dot_i8i8(__m256i sx, __m256i sy) {
  return dot_u8i8(_mm256_sign_epi8(sx, sx), _mm256_sign_epi8(sy, sx));
}

// Q4_K / Q5_K: 12 packed bytes -> bytes 0..7 = the eight 6-bit scales, 8..15 = the eight 6-bit mins.
static inline __m128i unpack_scales_mins_k4(const uint8_t* q) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  uint32_t a[3];
  std::memcpy(a, q, 12);
  const uint32_t s0 = a[0] & kmask1;
  const uint32_t s1 = (a[2] & kmask2) | (((a[0] >> 6) & kmask3) << 4);
  const uint32_t m0 = a[1] & kmask1;
  const uint32_t m1 = ((a[2] >> 4) & kmask2) | (((a[1] >> 6) & kmask3) << 4);
  return _mm_setr_epi32((int)s0, (int)s1, (int)m0, (int)m1);
}

// Q4_K / Q5_K min terms as llama.cpp forms them: q8s[k] = bsum[2k] + bsum[2k+1] (k < 8), then four i32 lanes
// m = mins[2m] * q8s[2m] + mins[2m+1] * q8s[2m+1] (sm: bytes 8..15 = the mins).
static inline __m128i mins_k4(__m128i sm, const int16_t* bsums) {
  const __m128i q8s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i*)bsums), _mm_loadu_si128((const __m128i*)bsums + 1));
  return _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), q8s);
}
// Q5_K: summs = fma(dmin, (float)Σ lanes, summs) (lane 0)
static inline __m128 min_k5(__m128 summs, float dmin, __m128i sm, const int16_t* bsums) {
  __m128i p = mins_k4(sm, bsums);
  p = _mm_add_epi32(p, _mm_unpackhi_epi64(p, p));
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xB1));
  return _mm_fmadd_ss(_mm_set_ss(dmin), _mm_cvtepi32_ps(p), summs);
}

// Q3_K: 12 packed bytes -> sixteen signed scales (6-bit value minus 32), one per byte.
static inline __m128i unpack_scales_q3k(const uint8_t* b) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t a[3];
  std::memcpy(a, b, 12);
  const uint32_t t = a[2];
  const uint32_t s0 = (a[0] & kmask2) | (((t >> 0) & kmask1) << 4);
  const uint32_t s1 = (a[1] & kmask2) | (((t >> 2) & kmask1) << 4);
  const uint32_t s2 = ((a[0] >> 4) & kmask2) | (((t >> 4) & kmask1) << 4);
  const uint32_t s3 = ((a[1] >> 4) & kmask2) | (((t >> 6) & kmask1) << 4);
  return _mm_sub_epi8(_mm_setr_epi32((int)s0, (int)s1, (int)s2, (int)s3), _mm_set1_epi8(32));
}

// From sixteen per-16-element scales (signed bytes) -> an i16 vector whose low lane holds scale g and high
// lane scale g+1 (matches a 32-byte product vector covering 16-groups g and g+1 after maddubs).
static inline __m256i scale_pair_i16(__m128i sc8, int g) {
  const __m128i m = _mm_setr_epi8((char)g, (char)g, (char)g, (char)g, (char)g, (char)g, (char)g, (char)g,
                                  (char)(g + 1), (char)(g + 1), (char)(g + 1), (char)(g + 1), (char)(g + 1),
                                  (char)(g + 1), (char)(g + 1), (char)(g + 1));
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, m));
}

// From eight i16 scales broadcast to both lanes (sc16x2) -> all sixteen lanes = scale k.
static inline __m256i scale_bcast_i16(__m256i sc16x2, int k) {
  return _mm256_shuffle_epi8(sc16x2, _mm256_set1_epi16((short)(((2 * k + 1) << 8) | (2 * k))));
}

}  // namespace simd
}  // namespace llama4
