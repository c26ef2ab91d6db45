// The packed Q8_0 matmul driver shared by the AVX2 and the AVX-512 kernel files (layout and numerics
// contract: ops/packed_q8_0.cpp). Include ONLY from files under ops/cpu/avx2/ or ops/cpu/avx512/; everything
// here has internal linkage, so each file gets its own copy compiled with its own ISA flags.
//
// The integer part of a block is a policy K (sign trick + maddubs + madd on AVX2, vpdpbusd with VNNI):
//   K::kOffset                     whether init needs o = -128 Σ y of the token's block (VNNI's u8 weights)
//   K::XV K::weights(__m256i w)    one 32-byte chunk of the 8 rows' signed bytes, prepared once per chunk
//                                  for every token of the micro-tile
//   __m256i K::init(const int32_t* o)            the block's int32 accumulator before its first chunk
//   __m256i K::step(__m256i a, XV x, __m256i y)  lane r += Σ_k x[r][k] y[k] (y: 4 bytes in every lane)
// Every lane sum is the EXACT integer; the float part is the contract's: acc = fma(f32(dx) * f32(dy),
// f32(sumi), acc), one chain per output in block order, so every micro-tile shape gives the same bits.
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

// Hides a value from the optimiser: keeps each block's integer sum one chain of steps, as written (GCC
// otherwise reassociates the AVX2 policy's exact int adds into trees whose partial sums spill out of the 16
// ymm registers).
LLAMA4_P8_INLINE __m256i keep(__m256i v) {
  __asm__("" : "+x"(v));
  return v;
}

// Per-call activation side data, BLOCK-major (index b * nt + t, nt = the call's tokens): dy = f32(d) (exact),
// and for K::kOffset o = -128 Σ y (shared by every row). A micro-tile reads its tokens' values of a block
// with broadcast loads at constant offsets from one pointer.
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
  const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
  for (int64_t t = 0; t < nt; t++) {
    const block_q8_0* yt = (const block_q8_0*)(y + (size_t)t * by);
    for (int64_t b = 0; b < nb; b++) {
      if constexpr (kOffset) {
        const __m256i q = _mm256_loadu_si256((const __m256i*)yt[b].qs);
        o[b * nt + t] = -128 * simd::hsum_i32x8(_mm256_madd_epi16(_mm256_maddubs_epi16(one8, q), one16));
      }
      dy[b * nt + t] = _cvtsh_ss(yt[b].d);
    }
  }
}

// G groups (gx bytes apart) x T tokens (by bytes apart) over all nb blocks: s[t * ss + 8 g + r]. o / dy: the
// Aux arrays at this tile's first token, as = the Aux stride of a block. S = 2 splits each block's integer
// sum into two chains (even / odd chunks): decode has no other independent chains to hide latency with.
// (The token rows and the Aux values are walked with explicit pointers: left to itself GCC strength-reduces
// every (token, chunk) address into its own induction variable and spills them.)
template <typename K, int G, int T, int S>
LLAMA4_P8_INLINE void micro(int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by, const int32_t* o,
                            const float* dy, int64_t as, float* s, int64_t ss) {
  __m256 acc[G][T];
  LLAMA4_P8_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_P8_UNROLL
    for (int t = 0; t < T; t++) acc[g][t] = _mm256_setzero_ps();
  const uint8_t* xb = x;
  const uint8_t* yp[T];
  LLAMA4_P8_UNROLL
  for (int t = 0; t < T; t++) yp[t] = y + (size_t)t * by + kYQs;
  for (int64_t b = 0; b < nb; b++) {
    __m256i a[S][G][T];
    LLAMA4_P8_UNROLL
    for (int t = 0; t < T; t++) {
      const __m256i a0 = K::init(o + t);
      LLAMA4_P8_UNROLL
      for (int g = 0; g < G; g++) {
        a[0][g][t] = a0;
        if constexpr (S > 1) a[1][g][t] = _mm256_setzero_si256();
      }
    }
    LLAMA4_P8_UNROLL
    for (int c = 0; c < 8; c++) {
      typename K::XV w[G];
      LLAMA4_P8_UNROLL
      for (int g = 0; g < G; g++) w[g] = K::weights(_mm256_loadu_si256((const __m256i*)(xb + (size_t)g * gx + kQs + 32 * c)));
      LLAMA4_P8_UNROLL
      for (int t = 0; t < T; t++) {
        const __m256i yc = bcast32(yp[t] + 4 * c);
        LLAMA4_P8_UNROLL
        for (int g = 0; g < G; g++) a[c % S][g][t] = keep(K::step(a[c % S][g][t], w[g], yc));
      }
    }
    __m256 dx[G];
    LLAMA4_P8_UNROLL
    for (int g = 0; g < G; g++) dx[g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(xb + (size_t)g * gx)));
    LLAMA4_P8_UNROLL
    for (int t = 0; t < T; t++) {
      const __m256 d = _mm256_broadcast_ss(dy + t);
      LLAMA4_P8_UNROLL
      for (int g = 0; g < G; g++) {
        __m256i sumi = a[0][g][t];
        if constexpr (S > 1) sumi = _mm256_add_epi32(sumi, a[1][g][t]);
        acc[g][t] = _mm256_fmadd_ps(_mm256_mul_ps(dx[g], d), _mm256_cvtepi32_ps(sumi), acc[g][t]);
      }
    }
    xb += kBlk;
    LLAMA4_P8_UNROLL
    for (int t = 0; t < T; t++) yp[t] += sizeof(block_q8_0);
    o += as;
    dy += as;
  }
  LLAMA4_P8_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_P8_UNROLL
    for (int t = 0; t < T; t++) _mm256_storeu_ps(s + t * ss + kPackRows * g, acc[g][t]);
}

// The last tr < T tokens of a group tile.
template <typename K, int G, int T, int S>
LLAMA4_P8_INLINE void micro_tail(int tr, int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
                                 const int32_t* o, const float* dy, int64_t as, float* s, int64_t ss) {
  if constexpr (T > 0) {
    if (tr == T) micro<K, G, T, S>(nb, x, gx, y, by, o, dy, as, s, ss);
    else micro_tail<K, G, T - 1, S>(tr, nb, x, gx, y, by, o, dy, as, s, ss);
  }
}

// Groups in tiles of G, each tile over all tokens in tiles of TP: the G groups' weights stay in L1 / L2
// while the tokens' activations (a matmul_packed token chunk, sized for L2) stream past them. (Splitting
// the blocks into L1-sized segments measured no faster on EPYC Zen 4, up to 14336-element rows.)
template <typename K, int G, int TP, int S>
void groups(int64_t nb, int64_t ng, int64_t nt, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
            const int32_t* o, const float* dy, float* s, int64_t ss) {
  for (int64_t g = 0; g + G <= ng; g += G) {
    const uint8_t* xg = x + (size_t)g * gx;
    float* sg = s + g * kPackRows;
    int64_t t = 0;
    for (; t + TP <= nt; t += TP) micro<K, G, TP, S>(nb, xg, gx, y + (size_t)t * by, by, o + t, dy + t, nt, sg + t * ss, ss);
    if (t < nt)
      micro_tail<K, G, TP - 1, S>((int)(nt - t), nb, xg, gx, y + (size_t)t * by, by, o + t, dy + t, nt, sg + t * ss, ss);
  }
  if constexpr (G > 1) {
    const int64_t done = ng - ng % G;
    if (done < ng) groups<K, 1, TP, S>(nb, ng - done, nt, x + (size_t)done * gx, gx, y, by, o, dy, s + done * kPackRows, ss);
  }
}

// The PackedMatmulFn body: GD groups x 1 token with SD chains per block for decode (one linear pass over the
// weights; software prefetch measured no faster than the hardware's for this single stream), GP groups x TP
// tokens with SP chains for prompts.
template <typename K, int GD, int SD, int GP, int TP, int SP>
void matmul(int64_t n_in, int64_t ng, int64_t nt, const void* vx, size_t gx, const void* vy, size_t by, float* s,
            int64_t ss) {
  const int64_t nb = n_in / QK8_0;
  const uint8_t* x = (const uint8_t*)vx;
  const uint8_t* y = (const uint8_t*)vy;
  Aux& A = aux();
  if (A.dy.size() < (size_t)(nt * nb)) {
    A.dy.resize((size_t)(nt * nb));
    A.o.resize((size_t)(nt * nb));  // (unused without K::kOffset, but a valid array to point into)
  }
  prep<K::kOffset>(nb, nt, y, by, A.o.data(), A.dy.data());
  if (nt == 1) groups<K, GD, 1, SD>(nb, ng, 1, x, gx, y, by, A.o.data(), A.dy.data(), s, ss);
  else groups<K, GP, TP, SP>(nb, ng, nt, x, gx, y, by, A.o.data(), A.dy.data(), s, ss);
}

}  // namespace
}  // namespace pq8
}  // namespace llama4
