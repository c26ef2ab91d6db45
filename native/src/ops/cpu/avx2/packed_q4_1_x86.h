// The packed Q4_1 matmul driver shared by the AVX2 and the AVX-512 kernel files (layout and numerics:
// ops/packed_q4_1.cpp). Include ONLY from files under ops/cpu/avx2/ or ops/cpu/avx512/; everything here has
// internal linkage, so each file gets its own copy compiled with its own ISA flags.
//
// The numerics are the plain vec_dot_q4_1_q8_1's (llama.cpp's), per output: 8 fp32 chains over the blocks,
// acc[j] = fma(f32(dx) * f32(dy), f32(l[j]), acc[j]) with l[j] the exact integer sum of element quad j, a
// min chain summs = fma(f32(mx), f32(sy), summs), and the fixed sum ((a0 + a4) + (a2 + a6)) + ((a1 + a5) +
// (a3 + a7)) + summs at the end. Here each of those is one ymm vector (lane r = row r) per (group, token):
// the 8 chains acc[g][t][j], j = c for chunk c's low nibbles and 4 + c for its high nibbles. Every micro-tile
// shape (and decode = one token) therefore gives the same bits, equal to the scalar reference's.
//
// The integer quad sums are a policy K (maddubs + madd on AVX2, vpdpbusd with VNNI):
//   __m256i K::quad(q, y)   lane r = Σ_{k<4} q[r][k] * y[k]   (q: 8 rows' u4 nibbles, y: 4 s8 bytes broadcast)
//
// The min chain does not depend on the nibbles, so a micro-tile may run it as a second pass over the same
// blocks (MinPass = true: its G x T registers are free during the main loop) or inline (MinPass = false):
// the same chains, the same bits.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/packed.h"

#define LLAMA4_PQ41_INLINE inline __attribute__((always_inline))
#define LLAMA4_PQ41_UNROLL _Pragma("GCC unroll 16")
#define LLAMA4_PQ41_INLINE_LAMBDA __attribute__((always_inline))

namespace llama4 {
namespace pq41 {
namespace {

constexpr size_t kBlk = PackedQ4_1::kBlock;  // 160: one packed block of 8 rows
constexpr size_t kM = PackedQ4_1::kM;        // 16: the 8 f16 mins follow the 8 f16 d
constexpr size_t kQs = PackedQ4_1::kQs;      // 32: then the 4 nibble chunks

using simd::bcast32;

// Per-call activation side data, token-major (index t * nb + b): f32(dy) and f32(sy) of every Q8_1 block
// (exact conversions), read by the micro-kernels with broadcast loads instead of a convert + broadcast per
// block and tile.
struct Aux {
  std::vector<float> dy, sy;
};
Aux& aux() {
  static thread_local Aux a;
  return a;
}

void prep(int64_t nb, int64_t nt, const uint8_t* y, size_t by, float* dy, float* sy) {
  for (int64_t t = 0; t < nt; t++) {
    const block_q8_1* yt = (const block_q8_1*)(y + (size_t)t * by);
    for (int64_t b = 0; b < nb; b++) {
      dy[t * nb + b] = _cvtsh_ss(yt[b].d);
      sy[t * nb + b] = _cvtsh_ss(yt[b].s);
    }
  }
}

// G groups (gx bytes apart) x T tokens (by bytes apart) over all nb blocks: s[t * ss + 8 g + r].
// dy / sy: the Aux arrays at this tile's first token, tokens as apart.
template <typename K, int G, int T, bool MinPass>
LLAMA4_PQ41_INLINE void micro(int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by, const float* dy,
                              const float* sy, int64_t as, float* s, int64_t ss) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[G][T][8], accm[G][T];
  LLAMA4_PQ41_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_PQ41_UNROLL
    for (int t = 0; t < T; t++) {
      accm[g][t] = _mm256_setzero_ps();
      LLAMA4_PQ41_UNROLL
      for (int j = 0; j < 8; j++) acc[g][t][j] = _mm256_setzero_ps();
    }
  // block b's min chains: accm = fma(f32(mx), f32(sy), accm)
  auto min_step = [&](int64_t b) LLAMA4_PQ41_INLINE_LAMBDA {
    const uint8_t* xb = x + (size_t)b * kBlk;
    LLAMA4_PQ41_UNROLL
    for (int g = 0; g < G; g++) {
      const __m256 mx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(xb + (size_t)g * gx + kM)));
      LLAMA4_PQ41_UNROLL
      for (int t = 0; t < T; t++) accm[g][t] = _mm256_fmadd_ps(mx, _mm256_broadcast_ss(sy + t * as + b), accm[g][t]);
    }
  };
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* xb = x + (size_t)b * kBlk;
    const uint8_t* yb = y + (size_t)b * sizeof(block_q8_1) + offsetof(block_q8_1, qs);
    __m256 d[G][T];  // f32(dx) * f32(dy), rounded once
    LLAMA4_PQ41_UNROLL
    for (int g = 0; g < G; g++) {
      const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(xb + (size_t)g * gx)));
      LLAMA4_PQ41_UNROLL
      for (int t = 0; t < T; t++) d[g][t] = _mm256_mul_ps(dx, _mm256_broadcast_ss(dy + t * as + b));
    }
    if constexpr (!MinPass) min_step(b);
    LLAMA4_PQ41_UNROLL
    for (int c = 0; c < 4; c++) {
      __m256i lo[G], hi[G];
      LLAMA4_PQ41_UNROLL
      for (int g = 0; g < G; g++) {
        const __m256i w = _mm256_loadu_si256((const __m256i*)(xb + (size_t)g * gx + kQs + 32 * c));
        lo[g] = _mm256_and_si256(w, m4);
        hi[g] = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
      }
      LLAMA4_PQ41_UNROLL
      for (int t = 0; t < T; t++) {
        const __m256i ylo = bcast32(yb + (size_t)t * by + 4 * c), yhi = bcast32(yb + (size_t)t * by + 16 + 4 * c);
        LLAMA4_PQ41_UNROLL
        for (int g = 0; g < G; g++) {
          acc[g][t][c] = _mm256_fmadd_ps(d[g][t], _mm256_cvtepi32_ps(K::quad(lo[g], ylo)), acc[g][t][c]);
          acc[g][t][4 + c] = _mm256_fmadd_ps(d[g][t], _mm256_cvtepi32_ps(K::quad(hi[g], yhi)), acc[g][t][4 + c]);
        }
      }
    }
  }
  if constexpr (MinPass) {  // the same min chains, over the tile's blocks again (in L1 / L2 now)
    for (int64_t b = 0; b < nb; b++) min_step(b);
  }
  LLAMA4_PQ41_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_PQ41_UNROLL
    for (int t = 0; t < T; t++) {
      _mm256_storeu_ps(s + t * ss + kPackRows * g, _mm256_add_ps(simd::hsum_chains8(acc[g][t]), accm[g][t]));
    }
}

// The last nt % TP tokens of a group tile, tr < TP of them.
template <typename K, int G, int T, bool MinPass>
LLAMA4_PQ41_INLINE void micro_tail(int tr, int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
                                   const float* dy, const float* sy, int64_t as, float* s, int64_t ss) {
  if constexpr (T > 0) {
    if (tr == T) micro<K, G, T, MinPass>(nb, x, gx, y, by, dy, sy, as, s, ss);
    else micro_tail<K, G, T - 1, MinPass>(tr, nb, x, gx, y, by, dy, sy, as, s, ss);
  }
}

// Groups in tiles of G, each tile over all tokens in tiles of TP (the G groups' weights stay in L1 / L2
// while the tokens' activations, a matmul_packed token chunk, come from L2).
template <typename K, int G, int TP, bool MinPass>
void groups(int64_t nb, int64_t ng, int64_t nt, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
            const float* dy, const float* sy, float* s, int64_t ss) {
  for (int64_t g = 0; g + G <= ng; g += G) {
    const uint8_t* xg = x + (size_t)g * gx;
    int64_t t = 0;
    for (; t + TP <= nt; t += TP)
      micro<K, G, TP, MinPass>(nb, xg, gx, y + (size_t)t * by, by, dy + t * nb, sy + t * nb, nb,
                               s + t * ss + g * kPackRows, ss);
    if (t < nt)
      micro_tail<K, G, TP - 1, MinPass>((int)(nt - t), nb, xg, gx, y + (size_t)t * by, by, dy + t * nb, sy + t * nb,
                                        nb, s + t * ss + g * kPackRows, ss);
  }
  if constexpr (G > 1) {
    const int64_t done = ng - ng % G;
    if (done < ng)
      groups<K, 1, TP, MinPass>(nb, ng - done, nt, x + (size_t)done * gx, gx, y, by, dy, sy, s + done * kPackRows, ss);
  }
}

// The PackedMatmulFn body. Decode (one token) streams one group at a time with the min chain inline (two
// interleaved group streams read DRAM 2-3x slower; software prefetch, 0.5-8 KiB ahead into L1 or L2, measured
// no faster on 576- to 5632-element rows: ~30-37 GB/s either way on one EPYC Zen 4 thread). Prompts: GP
// groups x TP tokens per micro-tile.
template <typename K, int GP, int TP, bool MinPass>
void matmul(int64_t n_in, int64_t ng, int64_t nt, const void* vx, size_t gx, const void* vy, size_t by, float* s,
            int64_t ss) {
  const int64_t nb = n_in / QK4_1;
  const uint8_t* x = (const uint8_t*)vx;
  const uint8_t* y = (const uint8_t*)vy;
  Aux& A = aux();
  if (A.dy.size() < (size_t)(nt * nb)) {
    A.dy.resize((size_t)(nt * nb));
    A.sy.resize((size_t)(nt * nb));
  }
  prep(nb, nt, y, by, A.dy.data(), A.sy.data());
  if (nt == 1) groups<K, 1, 1, false>(nb, ng, 1, x, gx, y, by, A.dy.data(), A.sy.data(), s, ss);
  else groups<K, GP, TP, MinPass>(nb, ng, nt, x, gx, y, by, A.dy.data(), A.sy.data(), s, ss);
}

}  // namespace
}  // namespace pq41
}  // namespace llama4
