// Q6_K packed matmul kernel for x86 in 256-bit vectors (the layout and the numerics contract: ops/packed_q6_k.cpp),
// shared by the AVX2 build (packed_q6_k_avx2.cpp: maddubs + madd) and the AVX-512 VNNI build
// (../avx512/packed_q6_k_avx512.cpp: maddubs + vpdpwssd, whose 512-bit prompt tile of two groups follows the same
// plan). Everything here has internal linkage, so each including file compiles its own copy under its own ISA
// flags.
//
// Plan (int32 / fp32 lane r = row r of the group): llama.cpp's 8 lane chains per output are 8 vectors per token;
// chain k = 4h + c sums vector c of the 8 sub-blocks j = 2p + h: K = madd(-32 (sc_2k, sc_2k+1), (bsums_2k,
// bsums_2k+1)), then per j K += sc_j * maddubs(q_jc, y) (the maddubs pair sums are <= 2 * 63 * 128 in magnitude,
// the products exact in int32), then acc_k = fma(f32(d) * y.d, f32(K), acc_k). Decode keeps a half's 4 chains side
// by side; prompts take one chain at a time for all the tile's tokens. Every integer order gives the same K. The output is hsum_chains8 of the 8 chains: bit-identical to the
// scalar reference, to the plain vec_dot_q6_k and to llama.cpp.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/packed.h"

namespace llama4 {
namespace {
namespace q6k {

constexpr size_t kBlk = PackedQ6_K::kBlock, kScOff = PackedQ6_K::kScales, kDOff = PackedQ6_K::kD;

using simd::bcast32;

// The call's activations, re-laid out once per call as [block][token] entries of constant size, so that a tile's
// tokens are fixed offsets from one pointer (separate row pointers would crowd the general registers).
struct YEntry {
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
  float d;
};

inline void relayout_y(int64_t nb, int64_t nt, const void* y, size_t by, std::vector<YEntry>& buf) {
  if (buf.size() < (size_t)(nt * nb)) buf.resize((size_t)(nt * nb));
  for (int64_t t = 0; t < nt; t++) {
    const block_q8_K* yb = (const block_q8_K*)((const uint8_t*)y + (size_t)t * by);
    for (int64_t b = 0; b < nb; b++) {
      YEntry& e = buf[(size_t)(b * nt + t)];
      std::memcpy(e.qs, yb[b].qs, sizeof e.qs);
      std::memcpy(e.bsums, yb[b].bsums, sizeof e.bsums);
      e.d = yb[b].d;
    }
  }
}

// Byte shuffles taking lane r = (sc_2p, sc_2p+1) (int16) to (sc_j, sc_j) for j = 2p (even) / 2p + 1 (odd), per
// 128-bit lane.
inline __m128i scale_shuffle(int odd) {
  return _mm_add_epi8(_mm_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13), _mm_set1_epi8((char)(2 * odd)));
}

// Quant vector c of sub-block j (v: its 3 stored vectors): lane r = row r's q of elements 16j + 4c .. + 3 (0..63).
// Vector 3 gathers the top bit pairs of the three stored vectors (P::top).
template <class P>
inline __m256i quant(const uint8_t* v, int c) {
  const __m256i m6 = _mm256_set1_epi8(0x3F);
  if (c < 3) return _mm256_and_si256(_mm256_loadu_si256((const __m256i*)(v + 32 * c)), m6);
  return P::top(_mm256_loadu_si256((const __m256i*)v), _mm256_loadu_si256((const __m256i*)(v + 32)),
                _mm256_loadu_si256((const __m256i*)(v + 64)));
}

// One group x T tokens over all blocks; s[t * ss + r] receives row r of token t. ye: the tile's first token's
// entry of block 0; entries of one block are consecutive, blocks nt entries apart. Decode (T = 1) unpacks each
// quant vector where it is used; larger tiles unpack the block once into qv.
template <class P, int T>
void tile(int64_t nb, const uint8_t* grp, const YEntry* ye, int64_t nt, float* s, int64_t ss) {
  const __m256i m32 = _mm256_set1_epi16(-32);
  const __m256i even = _mm256_broadcastsi128_si256(scale_shuffle(0)), odd = _mm256_broadcastsi128_si256(scale_shuffle(1));
  __m256 acc[T][8];
  for (int t = 0; t < T; t++)
    for (int k = 0; k < 8; k++) acc[t][k] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++, ye += nt) {
    const uint8_t* blk = grp + (size_t)b * kBlk;
    // Decode streams the weights: past ~8 blocks per group the hardware prefetcher alone fell to ~18-25 GB/s
    // here (EPYC Zen 4), a software prefetch into L2 8 blocks ahead holds ~32; at 8 blocks and fewer, it only
    // costs instructions.
    if (T == 1 && nb > 8)
      for (int k = 0; k < (int)kBlk; k += 64) _mm_prefetch((const char*)blk + 8 * kBlk + k, _MM_HINT_T1);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(blk + kDOff)));
    // lane r = (sc_2p, sc_2p+1) as int16; (sc_j, sc_j) for j = 2p + h; -32 (sc_2p, sc_2p+1)
    const auto scales = [&](int p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(blk + kScOff + 16 * p))); };
    const auto sc = [&](int j) { return _mm256_shuffle_epi8(scales(j / 2), j % 2 ? odd : even); };
    const auto init = [&](int k, const YEntry& e) { return _mm256_madd_epi16(_mm256_mullo_epi16(scales(k), m32), bcast32(e.bsums + 2 * k)); };
    if constexpr (T == 1) {
      // decode: the 4 chains of one half side by side (4 independent accumulations), each sub-block unpacked once
      const __m256 dd = _mm256_mul_ps(d, _mm256_broadcast_ss(&ye->d));
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        __m256i K[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) K[c] = init(4 * h + c, *ye);
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
          const int j = 2 * p + h;
          const __m256i scj = sc(j);
#pragma GCC unroll 4
          for (int c = 0; c < 4; c++)
            K[c] = P::acc(K[c], _mm256_maddubs_epi16(quant<P>(blk + 96 * j, c), bcast32(ye->qs + 16 * j + 4 * c)), scj);
        }
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[0][4 * h + c] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(K[c]), acc[0][4 * h + c]);
      }
    } else {
      // prompts: one chain at a time for the T tokens (T independent accumulations), the block unpacked once
      __m256i qv[16][4], scv[16];
      for (int j = 0; j < 16; j++) scv[j] = sc(j);
      for (int j = 0; j < 16; j++)
        for (int c = 0; c < 4; c++) qv[j][c] = quant<P>(blk + 96 * j, c);
#pragma GCC unroll 8
      for (int k = 0; k < 8; k++) {
        const int h = k / 4, c = k % 4;
        __m256i K[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) K[t] = init(k, ye[t]);
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
          const int j = 2 * p + h;
#pragma GCC unroll 8
          for (int t = 0; t < T; t++)
            K[t] = P::acc(K[t], _mm256_maddubs_epi16(qv[j][c], bcast32(ye[t].qs + 16 * j + 4 * c)), scv[j]);
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
          acc[t][k] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_broadcast_ss(&ye[t].d)), _mm256_cvtepi32_ps(K[t]), acc[t][k]);
      }
    }
  }
  for (int t = 0; t < T; t++) _mm256_storeu_ps(s + t * ss, simd::hsum_chains8(acc[t]));
}

// Groups [g0, g1) of a PackedMatmulFn call, T tokens per tile (yp: the relaid activations).
template <class P, int T>
void groups(int64_t nb, int64_t g0, int64_t g1, int64_t nt, const uint8_t* x, size_t gx, const YEntry* yp, float* s,
            int64_t ss) {
  for (int64_t g = g0; g < g1; g++) {
    const uint8_t* grp = x + (size_t)g * gx;
    float* sg = s + kPackRows * g;
    int64_t t = 0;
    for (; t + T <= nt; t += T) tile<P, T>(nb, grp, yp + t, nt, sg + t * ss, ss);
    with_tail<T>(nt - t, [&](auto n) { tile<P, decltype(n)::value>(nb, grp, yp + t, nt, sg + t * ss, ss); });
  }
}

}  // namespace q6k
}  // namespace
}  // namespace llama4
