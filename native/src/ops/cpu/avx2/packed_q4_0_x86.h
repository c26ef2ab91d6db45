// The packed Q4_0 matmul driver shared by the AVX2 and the AVX-512 kernel files (layout and numerics
// contract: ops/packed_q4_0.cpp). Include ONLY from files under ops/cpu/avx2/ or ops/cpu/avx512/; everything
// here has internal linkage, so each file gets its own copy compiled with its own ISA flags.
//
// The integer part of a block is a policy K (maddubs + madd on AVX2, vpdpbusd with VNNI):
//   K::Acc K::init(const int32_t* o)        the block's integer accumulator, o -> -8 Σ y of the token's block
//   K::Acc K::step(Acc, lo, hi, ylo, yhi)   add chunk c: lane r += Σ_k lo[r][k] ylo[k] + hi[r][k] yhi[k]
//   __m256i K::finish(Acc, const int32_t* o) lane r = sumi of row r = Σ (q - 8) y, exact int32
// The float part is the contract's: acc = fma(f32(dx) * f32(dy), f32(sumi), acc), one chain per output in
// block order, so every micro-tile shape gives the same bits.
//
// Costs on EPYC Zen 4 (measured): vpdpbusd, vpmaddubsw, vmulps and vfmadd share two pipes (2 per cycle in
// all), so a VNNI block costs 8 + 2 of them per (group, token): prompts run at ~94% of that bound with 3
// groups x 4 tokens. Decode (one token) streams one group at a time (two interleaved group streams read
// DRAM markedly slower, ~half the rate for 2048-element rows) with a software prefetch into L2 8 KiB ahead,
// which brought 5632-element rows from ~82% to ~97% of a plain linear read (2048-element rows: no change).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/packed.h"

#define LLAMA4_PQ_INLINE inline __attribute__((always_inline))
#define LLAMA4_PQ_UNROLL _Pragma("GCC unroll 16")

namespace llama4 {
namespace pq4 {
namespace {

constexpr size_t kBlk = PackedQ4_0::kBlock;  // bytes of one packed block of 8 rows
constexpr size_t kQs = PackedQ4_0::kQs;      // the nibble chunks follow the 8 f16 scales

using simd::bcast32;

// Per-call activation side data, token-major (index t * nb + b): o = -8 Σ y (the Q4_0 offset, shared by
// every row), dy = f32(d) (exact). Read with broadcast loads by the micro-kernels.
struct Aux {
  std::vector<int32_t> o;
  std::vector<float> dy;
};
Aux& aux() {
  static thread_local Aux a;
  return a;
}

void prep(int64_t nb, int64_t nt, const uint8_t* y, size_t by, int32_t* o, float* dy) {
  const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
  for (int64_t t = 0; t < nt; t++) {
    const block_q8_0* yt = (const block_q8_0*)(y + (size_t)t * by);
    for (int64_t b = 0; b < nb; b++) {
      const __m256i q = _mm256_loadu_si256((const __m256i*)yt[b].qs);
      o[t * nb + b] = -8 * simd::hsum_i32x8(_mm256_madd_epi16(_mm256_maddubs_epi16(one8, q), one16));
      dy[t * nb + b] = _cvtsh_ss(yt[b].d);
    }
  }
}

// G groups (gx bytes apart) x T tokens (by bytes apart) over all nb blocks: s[t * ss + 8 g + r].
// o / dy: the Aux arrays at this tile's first token, tokens as apart.
// PF: prefetch the weights 8 KiB ahead (decode, and the first token tile of a batch, which streams them
// from memory).
template <typename K, int G, int T, bool PF = (T == 1)>
LLAMA4_PQ_INLINE void micro(int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by, const int32_t* o,
                            const float* dy, int64_t as, float* s, int64_t ss) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[G][T];
  LLAMA4_PQ_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_PQ_UNROLL
    for (int t = 0; t < T; t++) acc[g][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* xb = x + (size_t)b * kBlk;
    if constexpr (PF) {  // 8 KiB ahead into L2, 160 bytes per 144-byte block (every line)
      LLAMA4_PQ_UNROLL
      for (int g = 0; g < G; g++) {
        const char* p = (const char*)(xb + (size_t)g * gx) + (8 << 10);
        _mm_prefetch(p, _MM_HINT_T1);
        _mm_prefetch(p + 64, _MM_HINT_T1);
        if (b & 1) _mm_prefetch(p + 128, _MM_HINT_T1);
      }
    }
    const uint8_t* yb = y + (size_t)b * sizeof(block_q8_0) + offsetof(block_q8_0, qs);
    typename K::Acc a[G][T];
    LLAMA4_PQ_UNROLL
    for (int g = 0; g < G; g++)
      LLAMA4_PQ_UNROLL
      for (int t = 0; t < T; t++) a[g][t] = K::init(o + t * as + b);
    LLAMA4_PQ_UNROLL
    for (int c = 0; c < 4; c++) {
      __m256i lo[G], hi[G];
      LLAMA4_PQ_UNROLL
      for (int g = 0; g < G; g++) {
        const __m256i w = _mm256_loadu_si256((const __m256i*)(xb + (size_t)g * gx + kQs + 32 * c));
        lo[g] = _mm256_and_si256(w, m4);
        hi[g] = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
      }
      LLAMA4_PQ_UNROLL
      for (int t = 0; t < T; t++) {
        const __m256i ylo = bcast32(yb + (size_t)t * by + 4 * c), yhi = bcast32(yb + (size_t)t * by + 16 + 4 * c);
        LLAMA4_PQ_UNROLL
        for (int g = 0; g < G; g++) a[g][t] = K::step(a[g][t], lo[g], hi[g], ylo, yhi);
      }
    }
    __m256 dx[G];
    LLAMA4_PQ_UNROLL
    for (int g = 0; g < G; g++) dx[g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(xb + (size_t)g * gx)));
    LLAMA4_PQ_UNROLL
    for (int t = 0; t < T; t++) {
      const __m256 d = _mm256_broadcast_ss(dy + t * as + b);
      LLAMA4_PQ_UNROLL
      for (int g = 0; g < G; g++) {
        const __m256 sumf = _mm256_cvtepi32_ps(K::finish(a[g][t], o + t * as + b));
        acc[g][t] = _mm256_fmadd_ps(_mm256_mul_ps(dx[g], d), sumf, acc[g][t]);
      }
    }
  }
  LLAMA4_PQ_UNROLL
  for (int g = 0; g < G; g++)
    LLAMA4_PQ_UNROLL
    for (int t = 0; t < T; t++) _mm256_storeu_ps(s + t * ss + kPackRows * g, acc[g][t]);
}

// The last nt % TP tokens of a group tile, tr < T of them.
template <typename K, int G, int T, bool PF = false>
LLAMA4_PQ_INLINE void micro_tail(int tr, int64_t nb, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
                                 const int32_t* o, const float* dy, int64_t as, float* s, int64_t ss) {
  if constexpr (T > 0) {
    if (tr == T) micro<K, G, T, PF || T == 1>(nb, x, gx, y, by, o, dy, as, s, ss);
    else micro_tail<K, G, T - 1, PF>(tr, nb, x, gx, y, by, o, dy, as, s, ss);
  }
}

// Groups in tiles of G, each tile over all tokens in tiles of TP (the G groups' weights stay in L1 / L2
// while the tokens' activations, a matmul_packed token chunk, come from L2).
template <typename K, int G, int TP>
void groups(int64_t nb, int64_t ng, int64_t nt, const uint8_t* x, size_t gx, const uint8_t* y, size_t by,
            const int32_t* o, const float* dy, float* s, int64_t ss) {
  for (int64_t g = 0; g + G <= ng; g += G) {
    const uint8_t* xg = x + (size_t)g * gx;
    // the first token tile streams the groups' weights from memory (prefetched, as decode); later tiles
    // find them in L1 / L2
    if (nt < TP) {
      micro_tail<K, G, TP - 1, true>((int)nt, nb, xg, gx, y, by, o, dy, nb, s + g * kPackRows, ss);
      continue;
    }
    micro<K, G, TP, true>(nb, xg, gx, y, by, o, dy, nb, s + g * kPackRows, ss);
    int64_t t = TP;
    for (; t + TP <= nt; t += TP)
      micro<K, G, TP>(nb, xg, gx, y + (size_t)t * by, by, o + t * nb, dy + t * nb, nb, s + t * ss + g * kPackRows, ss);
    if (t < nt)
      micro_tail<K, G, TP - 1>((int)(nt - t), nb, xg, gx, y + (size_t)t * by, by, o + t * nb, dy + t * nb, nb,
                               s + t * ss + g * kPackRows, ss);
  }
  if constexpr (G > 1) {
    const int64_t done = ng - ng % G;
    if (done < ng)
      groups<K, 1, TP>(nb, ng - done, nt, x + (size_t)done * gx, gx, y, by, o, dy, s + done * kPackRows, ss);
  }
}

// The PackedMatmulFn body: GD groups per tile for one token (decode), GD x TS for small batches of up to TS
// tokens (parallel sequences, speculative verify: one weight stream, as decode), GP x TP for prompts.
template <typename K, int GD, int GP, int TP, int TS = 1, typename KD = K, typename KS = K>
void matmul(int64_t n_in, int64_t ng, int64_t nt, const void* vx, size_t gx, const void* vy, size_t by, float* s,
            int64_t ss) {
  const int64_t nb = n_in / QK4_0;
  const uint8_t* x = (const uint8_t*)vx;
  const uint8_t* y = (const uint8_t*)vy;
  Aux& A = aux();
  if (A.o.size() < (size_t)(nt * nb)) {
    A.o.resize((size_t)(nt * nb));
    A.dy.resize((size_t)(nt * nb));
  }
  prep(nb, nt, y, by, A.o.data(), A.dy.data());
  if (nt == 1) groups<KD, GD, 1>(nb, ng, 1, x, gx, y, by, A.o.data(), A.dy.data(), s, ss);
  else if (nt <= TS) groups<KS, GD, TS + 1>(nb, ng, nt, x, gx, y, by, A.o.data(), A.dy.data(), s, ss);
  else groups<K, GP, TP>(nb, ng, nt, x, gx, y, by, A.o.data(), A.dy.data(), s, ss);
}

}  // namespace
}  // namespace pq4
}  // namespace llama4
