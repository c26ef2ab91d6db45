// Packed Q6_K kernel, AVX2 (maddubs / madd): the layout and the numerics contract are in ops/packed_q6_k.cpp.
// Bit-identical to the scalar reference mm_packed_q6_k_ref: the integer sum of every block is exact, and the
// float chain is acc = fma(f32(d) * y.d, f32(sumi), acc) in block order, one lane per row.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/packed.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/cpu/kernels.h"

#define LLAMA4_Q6P_INLINE inline __attribute__((always_inline))

namespace llama4 {
namespace avx2 {

namespace {

constexpr size_t kBlk = PackedQ6_K::kBlock, kScOff = PackedQ6_K::kScales, kDOff = PackedQ6_K::kD;

using simd::bcast32;

// The 4 quant vectors of sub-block j (v = its 3 stored vectors): lane r of q[c] = row r's q of elements
// 16j + 4c .. 16j + 4c + 3 (0..63). q[3] gathers the top bit pairs a (of v0), b (v1), c (v2) as a | b<<2 | c<<4:
// every shift acts on masked bytes whose low two bits are 0, so no bit crosses into the neighbouring byte.
LLAMA4_Q6P_INLINE void unpack(const uint8_t* v, __m256i q[4]) {
  const __m256i m6 = _mm256_set1_epi8(0x3F), mt = _mm256_set1_epi8((char)0xC0);
  const __m256i b0 = _mm256_loadu_si256((const __m256i*)v);
  const __m256i b1 = _mm256_loadu_si256((const __m256i*)(v + 32));
  const __m256i b2 = _mm256_loadu_si256((const __m256i*)(v + 64));
  q[0] = _mm256_and_si256(b0, m6);
  q[1] = _mm256_and_si256(b1, m6);
  q[2] = _mm256_and_si256(b2, m6);
  __m256i t = _mm256_or_si256(_mm256_srli_epi16(_mm256_and_si256(b0, mt), 2), _mm256_and_si256(b1, mt));
  t = _mm256_or_si256(_mm256_srli_epi16(t, 2), _mm256_and_si256(b2, mt));
  q[3] = _mm256_srli_epi16(t, 2);
}

// The call's activations, re-laid out once per call as [block][token] entries, so that a tile's tokens are
// fixed offsets from one pointer (separate row pointers would crowd the general registers).
struct YEntry {
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
  float d;
};

// One group x T tokens over all blocks; s[t * ss + r] receives row r of token t. ye: the tile's first token's
// entry of block 0; entries of one block are consecutive, blocks nt entries apart.
// Per sub-block j and token: maddubs pair sums are <= 2 * 63 * 128 = 16128 in magnitude, so two of them add
// in i16 without saturating (<= 32256); madd with the row's scale (broadcast to both i16 halves of the lane)
// takes them to int32. The -32 offset: sumi += Σ_p madd(-32 * (sc_2p, sc_2p+1), (bsum_2p, bsum_2p+1)) (the
// products <= 4096 * 2048, exact).
template <int T>
void tile(int64_t nb, const uint8_t* grp, const YEntry* ye, int64_t nt, float* s, int64_t ss) {
  const __m256i even = _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5, 4, 5, 8,
                                        9, 8, 9, 12, 13, 12, 13);
  const __m256i odd = _mm256_add_epi8(even, _mm256_set1_epi8(2));
  const __m256i m32 = _mm256_set1_epi16(-32);
  __m256 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++, ye += nt) {
    const uint8_t* blk = grp + (size_t)b * kBlk;
    // Decode streams the weights: past ~8 blocks per group the hardware prefetcher alone fell to ~18-25 GB/s
    // here (EPYC Zen 4), a software prefetch into L2 8 blocks ahead holds ~32; at 8 blocks and fewer, it only
    // costs instructions.
    if (T == 1 && nb > 8)
      for (int k = 0; k < (int)kBlk; k += 64) _mm_prefetch((const char*)blk + 8 * kBlk + k, _MM_HINT_T1);
    __m256i isum[T];
    for (int p = 0; p < 8; p++) {
      const __m256i sp = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(blk + kScOff + 16 * p)));
      const __m256i spn = _mm256_mullo_epi16(sp, m32);
#pragma GCC unroll 8
      for (int t = 0; t < T; t++) {
        const __m256i c = _mm256_madd_epi16(spn, bcast32(ye[t].bsums + 2 * p));
        isum[t] = p == 0 ? c : _mm256_add_epi32(isum[t], c);
      }
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        const int j = 2 * p + h;
        const __m256i sc = _mm256_shuffle_epi8(sp, h ? odd : even);
        __m256i q[4];
        unpack(blk + 96 * j, q);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
          const int8_t* yq = ye[t].qs + 16 * j;
          const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(q[0], bcast32(yq)),
                                               _mm256_maddubs_epi16(q[1], bcast32(yq + 4)));
          const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(q[2], bcast32(yq + 8)),
                                               _mm256_maddubs_epi16(q[3], bcast32(yq + 12)));
          isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(p01, sc), _mm256_madd_epi16(p23, sc)));
        }
      }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(blk + kDOff)));
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_broadcast_ss(&ye[t].d)), _mm256_cvtepi32_ps(isum[t]), acc[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) _mm256_storeu_ps(s + t * ss, acc[t]);
}

}  // namespace

// Each group's weights (nb * 1680 bytes) stay in L1/L2 while the call's tokens pass over them, 4 at a time
// (16 ymm registers: 4 int32 sums, 4 fp32 accumulators, the 4 unpacked quant vectors, scales); decode is the
// 1-token tile streaming the groups in order.
void mm_packed_q6_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  const int64_t nb = n_in / QK_K;
  thread_local std::vector<YEntry> ybuf;
  if (ybuf.size() < (size_t)(nt * nb)) ybuf.resize((size_t)(nt * nb));
  YEntry* yp = ybuf.data();
  for (int64_t t = 0; t < nt; t++) {
    const block_q8_K* yb = (const block_q8_K*)((const uint8_t*)y + (size_t)t * by);
    for (int64_t b = 0; b < nb; b++) {
      YEntry& e = yp[b * nt + t];
      std::memcpy(e.qs, yb[b].qs, sizeof e.qs);
      std::memcpy(e.bsums, yb[b].bsums, sizeof e.bsums);
      e.d = yb[b].d;
    }
  }
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t* grp = (const uint8_t*)x + (size_t)g * gx;
    float* sg = s + kPackRows * g;
    int64_t t = 0;
    for (; t + 4 <= nt; t += 4) tile<4>(nb, grp, yp + t, nt, sg + t * ss, ss);
    switch (nt - t) {
      case 3: tile<3>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 2: tile<2>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 1: tile<1>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      default: break;
    }
  }
}

}  // namespace avx2
}  // namespace llama4
