// Q4_K packed matmul kernels for x86 (the layout and the numerics contract: ops/packed_q4_k.cpp), shared
// by the AVX2 build (packed_q4_k_avx2.cpp: maddubs + madd) and the AVX-512 VNNI build
// (../avx512/packed_q4_k_avx512.cpp: vpdpbusd + vpmulld, vpdpwssd): the same tiling, with the integer dot
// product of a policy class. Everything here has internal linkage, so each including file compiles its own
// copy under its own ISA flags (no merging of an AVX-512 copy into the AVX2 code by the linker).
//
// The micro-tile is 8 rows (the group: int32 / fp32 lane r = row r) x NT tokens. Per block and 64-element
// part p, each of the 8 weight chunks is loaded and split into its two nibble vectors once and used by all
// NT tokens; a token's 4 activation bytes are one broadcast load. All integer sums are exact, and the float
// operations per (row, token) are the contract's two fma chains, so every NT (decode = 1) and every ISA
// gives the same bits.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ops/blocks.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/packed.h"

namespace llama4 {
namespace {
namespace q4k {

constexpr size_t kBlockBytes = PackedQ4_K::kBlock;  // 1152: one block of the 8 rows
constexpr size_t kDmin = PackedQ4_K::kDmin, kScales = PackedQ4_K::kScales, kQs = PackedQ4_K::kQs;  // offsets in it

using simd::bcast32;

// The 8 rows' 6-bit scales and mins of one packed block, one byte each: scale of sub-block j / row r at
// sc[8j + r], min at mn[8j + r]. get_scale_min_k4 for all 8 rows at once on the transposed bytes
// (p + 8k + r = plain scales[k] of row r).
inline void unpack_scales_mins(const uint8_t* p, uint8_t* sc, uint8_t* mn) {
  const __m256i q0 = _mm256_loadu_si256((const __m256i*)p);         // bytes k = 0..3: scales 0..3 (low 6 bits)
  const __m256i q1 = _mm256_loadu_si256((const __m256i*)(p + 32));  // k = 4..7: mins 0..3 (low 6 bits)
  const __m256i q2 = _mm256_loadu_si256((const __m256i*)(p + 64));  // k = 8..11: scale | min << 4 of 4..7
  const __m256i m6 = _mm256_set1_epi8(0x3F), m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  _mm256_store_si256((__m256i*)sc, _mm256_and_si256(q0, m6));
  _mm256_store_si256((__m256i*)mn, _mm256_and_si256(q1, m6));
  // j >= 4: the low (scale) / high (min) nibble of byte j + 4 | the top 2 bits of byte j - 4 / j as bits 4..5
  // (16-bit shifts: the bits shifted in from the neighbour byte are masked off)
  _mm256_store_si256((__m256i*)(sc + 32),
                     _mm256_or_si256(_mm256_and_si256(q2, m4), _mm256_and_si256(_mm256_srli_epi16(q0, 2), m30)));
  _mm256_store_si256((__m256i*)(mn + 32), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q2, 4), m4),
                                                           _mm256_and_si256(_mm256_srli_epi16(q1, 2), m30)));
}

// lane r = (v[r], v[r]) as two int16 (for madd / vpdpwssd against a lane's two int16 values): the 8 bytes
// broadcast to every qword, then one in-lane shuffle (the high 128-bit lane picks v[4..7]).
inline __m256i pair16(const uint8_t* v) {
  int64_t q;
  std::memcpy(&q, v, 8);
  const __m256i spread = _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1,  //
                                          4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1);
  return _mm256_shuffle_epi8(_mm256_set1_epi64x(q), spread);
}

// One micro-tile: 8 rows (one group) x NT tokens, over all the group's blocks: s[t * ss + r] for t < NT,
// r < 8. y = token 0's Q8_K row, the next tokens by bytes apart.
template <class P, int NT>
inline void tile(int64_t nb, const uint8_t* xg, const uint8_t* y, size_t by, float* s, int64_t ss) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[NT], accm[NT];
  for (int t = 0; t < NT; t++) acc[t] = accm[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* xb = xg + (size_t)b * kBlockBytes;
    const block_q8_K* yb[NT];
    for (int t = 0; t < NT; t++) yb[t] = (const block_q8_K*)(y + (size_t)t * by) + b;
    alignas(32) uint8_t sm[128];  // unpacked scales [j][r], then mins [j][r]
    unpack_scales_mins(xb + kScales, sm, sm + 64);
    __m256i sumi[NT];
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
    for (int p = 0; p < 4; p++) {
      const uint8_t* q = xb + kQs + 256 * p;
      typename P::Part lo[NT], hi[NT];  // sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles)
#pragma GCC unroll 8
      for (int c = 0; c < 8; c++) {
        const __m256i w = _mm256_loadu_si256((const __m256i*)(q + 32 * c));
        const __m256i ql = _mm256_and_si256(w, m4);
        const __m256i qh = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
#pragma GCC unroll 16
        for (int t = 0; t < NT; t++) {
          const int8_t* yq = yb[t]->qs + 64 * p + 4 * c;
          lo[t] = c ? P::add(lo[t], ql, bcast32(yq)) : P::first(ql, bcast32(yq));
          hi[t] = c ? P::add(hi[t], qh, bcast32(yq + 32)) : P::first(qh, bcast32(yq + 32));
        }
      }
      const __m256i sl = P::scale(sm + 16 * p), sh = P::scale(sm + 16 * p + 8);
      for (int t = 0; t < NT; t++) sumi[t] = P::apply(P::apply(sumi[t], lo[t], sl), hi[t], sh);
    }
    __m256i mv[8];
    for (int j = 0; j < 8; j++) mv[j] = pair16(sm + 64 + 8 * j);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)xb));
    const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(xb + kDmin)));
    for (int t = 0; t < NT; t++) {
      const __m256 dy = _mm256_set1_ps(yb[t]->d);
      const __m256i summ = P::mins(mv, yb[t]->bsums);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      accm[t] = _mm256_fmadd_ps(_mm256_mul_ps(dm, dy), _mm256_cvtepi32_ps(summ), accm[t]);
    }
  }
  for (int t = 0; t < NT; t++) _mm256_storeu_ps(s + t * ss, _mm256_sub_ps(acc[t], accm[t]));
}

// The PackedMatmulFn. Decode (nt = 1) streams the groups linearly (at the memory bandwidth; software prefetch
// measured slower). Prompts: the groups in blocks of ~128 KiB of weights, which stay in L2 while every tile
// of NT tokens passes over them (a tile's activations, NT x 292 bytes per block, stay in L1 across the block's
// groups): 3-5% faster than one group at a time.
template <class P, int NT>
void mm_packed(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s,
               int64_t ss) {
  const int64_t nb = n_in / QK_K;
  const uint8_t* xv = (const uint8_t*)x;
  const uint8_t* yv = (const uint8_t*)y;
  if (nt == 1) {
    for (int64_t g = 0; g < ng; g++) tile<P, 1>(nb, xv + (size_t)g * gx, yv, by, s + g * kPackRows, ss);
    return;
  }
  const int64_t block = std::max<int64_t>(1, (int64_t)(128u << 10) / (int64_t)gx);
  for (int64_t g0 = 0; g0 < ng; g0 += block) {
    const int64_t g1 = std::min(ng, g0 + block);
    int64_t t = 0;
    for (; t + NT <= nt; t += NT)
      for (int64_t g = g0; g < g1; g++)
        tile<P, NT>(nb, xv + (size_t)g * gx, yv + (size_t)t * by, by, s + t * ss + g * kPackRows, ss);
    if (t < nt)
      for (int64_t g = g0; g < g1; g++)
        with_tail<NT>(nt - t, [&](auto n) {
          tile<P, decltype(n)::value>(nb, xv + (size_t)g * gx, yv + (size_t)t * by, by, s + t * ss + g * kPackRows, ss);
        });
  }
}

}  // namespace q4k
}  // namespace
}  // namespace llama4
