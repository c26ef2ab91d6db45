// The packed Q8_0 matmul driver shared by the AVX2 and the AVX-512 kernel files (layout and numerics:
// ops/packed_q8_0.cpp). Include ONLY from files under ops/cpu/avx2/ or ops/cpu/avx512/; everything here has
// internal linkage, so each file gets its own copy compiled with its own ISA flags.
//
// The numerics are the plain vec_dot_q8_0_q8_0's (llama.cpp's), per output: 8 fp32 chains over the blocks,
// acc[c] = fma(f32(dx) * f32(dy), f32(l[c]), acc[c]) with l[c] the exact integer sum of the block's element
// quad c (= packed chunk c), and ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)) at the end. Here each chain
// is one ymm vector (lane r = row r) per (group, token), so every micro-tile shape (and decode = one token)
// gives the same bits, equal to the scalar reference's.
//
// The integer quad sum is a policy K (sign trick + maddubs + madd on AVX2, vpdpbusd with VNNI):
//   K::kOffset                     whether a quad needs o = -128 Σ y of the token's quad (VNNI's u8 weights)
//   K::XV K::weights(__m256i w)    one 32-byte chunk of the 8 rows' signed bytes, prepared once per chunk
//                                  for every token of the micro-tile
//   __m256i K::quad(XV x, __m256i y, const int32_t* o)   lane r = Σ_k x[r][k] y[k] (y: 4 bytes in every lane)
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/packed.h"

#define LLAMA4_P8_INLINE inline __attribute__((always_inline))
#define LLAMA4_P8_UNROLL _Pragma("GCC unroll 16")

namespace llama4 {
namespace pq8 {
namespace {

constexpr size_t kBlk = PackedQ8_0::kBlock;  // bytes of one packed block of 8 rows (272)
constexpr size_t kQs = PackedQ8_0::kQs;      // the 8 chunks follow the 8 f16 scales
constexpr size_t kYQs = offsetof(block_q8_0, qs);

using simd::bcast32;

// Per-call activation side data, token-major: dy[t * nb + b] = f32(d) (exact) and, for K::kOffset,
// o[(t * nb + b) * 8 + c] = -128 Σ y over quad c (shared by every row). Read with broadcast loads.
struct Aux {
  std::vector<int32_t> o;
  std::vector<float> dy;
};
Aux& aux() {
  static thread_local Aux a;
  return a;
}

template <bool kOffset>
void prep(int64_t nb, int64_t nt, const uint8_t* y, size_t by, int32_t* o, float* dy) {
  for (int64_t t = 0; t < nt; t++) {
    const block_q8_0* yt = (const block_q8_0*)(y + (size_t)t * by);
    for (int64_t b = 0; b < nb; b++) {
      if constexpr (kOffset)
        for (int c = 0; c < 8; c++) {
          const int8_t* q = yt[b].qs + 4 * c;
          o[(t * nb + b) * 8 + c] = -128 * ((int32_t)q[0] + q[1] + q[2] + q[3]);
        }
      dy[t * nb + b] = _cvtsh_ss(yt[b].d);
    }
  }
}

// G groups (gx bytes apart) x T tokens (by bytes apart) over all nb blocks: s[t * ss + 8 g + r]. o / dy: the
// Aux arrays at this tile's first token, tokens `as` blocks apart.
template <typename K, int G, int T>
LLAMA4_P8_INLINE void micro(int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by, const int32_t* o,
                            const float* dy, int64_t as, float* s, int64_t ss) {
  __m256 acc[G][T][8];
  LLAMA4_P8_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_P8_UNROLL
    for (int t = 0; t < T; t++)
      LLAMA4_P8_UNROLL
      for (int c = 0; c < 8; c++) acc[g][t][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* xb = x + (size_t)b * kBlk;
    const uint8_t* yb = y + (size_t)b * sizeof(block_q8_0) + kYQs;
    __m256 d[G][T];  // f32(dx) * f32(dy), rounded once
    LLAMA4_P8_UNROLL
    for (int g = 0; g < G; g++) {
      const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(xb + (size_t)g * gx)));
      LLAMA4_P8_UNROLL
      for (int t = 0; t < T; t++) d[g][t] = _mm256_mul_ps(dx, _mm256_broadcast_ss(dy + t * as + b));
    }
    LLAMA4_P8_UNROLL
    for (int c = 0; c < 8; c++) {
      typename K::XV w[G];
      LLAMA4_P8_UNROLL
      for (int g = 0; g < G; g++) w[g] = K::weights(_mm256_loadu_si256((const __m256i*)(xb + (size_t)g * gx + kQs + 32 * c)));
      LLAMA4_P8_UNROLL
      for (int t = 0; t < T; t++) {
        const __m256i yc = bcast32(yb + (size_t)t * by + 4 * c);
        const int32_t* oc = o + (t * as + b) * 8 + c;
        LLAMA4_P8_UNROLL
        for (int g = 0; g < G; g++)
          acc[g][t][c] = _mm256_fmadd_ps(d[g][t], _mm256_cvtepi32_ps(K::quad(w[g], yc, oc)), acc[g][t][c]);
      }
    }
  }
  LLAMA4_P8_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_P8_UNROLL
    for (int t = 0; t < T; t++) _mm256_storeu_ps(s + t * ss + kPackRows * g, simd::hsum_chains8(acc[g][t]));
}

// The last tr < T tokens of a group tile.
template <typename K, int G, int T>
LLAMA4_P8_INLINE void micro_tail(int tr, int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
                                 const int32_t* o, const float* dy, int64_t as, float* s, int64_t ss) {
  if constexpr (T > 0) {
    if (tr == T) micro<K, G, T>(nb, x, gx, y, by, o, dy, as, s, ss);
    else micro_tail<K, G, T - 1>(tr, nb, x, gx, y, by, o, dy, as, s, ss);
  }
}

// Groups in tiles of G, each tile over all tokens in tiles of TP: the G groups' weights stay in L1 / L2
// while the tokens' activations (a matmul_packed token chunk, sized for L2) stream past them.
template <typename K, int G, int TP>
void groups(int64_t nb, int64_t ng, int64_t nt, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
            const int32_t* o, const float* dy, float* s, int64_t ss) {
  for (int64_t g = 0; g + G <= ng; g += G) {
    const uint8_t* xg = x + (size_t)g * gx;
    float* sg = s + g * kPackRows;
    int64_t t = 0;
    for (; t + TP <= nt; t += TP)
      micro<K, G, TP>(nb, xg, gx, y + (size_t)t * by, by, o + t * nb * 8, dy + t * nb, nb, sg + t * ss, ss);
    if (t < nt)
      micro_tail<K, G, TP - 1>((int)(nt - t), nb, xg, gx, y + (size_t)t * by, by, o + t * nb * 8, dy + t * nb, nb,
                               sg + t * ss, ss);
  }
  if constexpr (G > 1) {
    const int64_t done = ng - ng % G;
    if (done < ng) groups<K, 1, TP>(nb, ng - done, nt, x + (size_t)done * gx, gx, y, by, o, dy, s + done * kPackRows, ss);
  }
}

// The PackedMatmulFn body: GD groups x 1 token for decode (one linear pass over the weights), GP groups x TP
// tokens for prompts.
template <typename K, int GD, int GP, int TP>
void matmul(int64_t n_in, int64_t ng, int64_t nt, const void* vx, size_t gx, const void* vy, size_t by, float* s,
            int64_t ss) {
  const int64_t nb = n_in / QK8_0;
  const uint8_t* x = (const uint8_t*)vx;
  const uint8_t* y = (const uint8_t*)vy;
  Aux& A = aux();
  if (A.dy.size() < (size_t)(nt * nb)) A.dy.resize((size_t)(nt * nb));
  if (A.o.size() < (size_t)(nt * nb * 8)) A.o.resize((size_t)(nt * nb * 8));  // (unused without K::kOffset)
  prep<K::kOffset>(nb, nt, y, by, A.o.data(), A.dy.data());
  if (nt == 1) groups<K, GD, 1>(nb, ng, 1, x, gx, y, by, A.o.data(), A.dy.data(), s, ss);
  else groups<K, GP, TP>(nb, ng, nt, x, gx, y, by, A.o.data(), A.dy.data(), s, ss);
}

}  // namespace
}  // namespace pq8
}  // namespace llama4
