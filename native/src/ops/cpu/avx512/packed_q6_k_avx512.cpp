// Packed Q6_K kernel, AVX-512 VNNI (256-bit vectors for decode, 512-bit for prompts): the layout and the
// numerics contract are in ops/packed_q6_k.cpp. Bit-identical to the scalar reference mm_packed_q6_k_ref (and to the AVX2 kernel): the
// integer sum of every block is exact, and the float chain is acc = fma(f32(d) * y.d, f32(sumi), acc) in block
// order, one lane per row.
//
// Per sub-block j (16 elements) and token: G = -32 * bsum_j, then 4 dpbusd (u8 q x s8 y, one lane = one row's
// 4 consecutive elements) accumulate Σ q y exactly in int32 (|G| <= 16 * 63 * 128 + 32 * 2048), and
// sumi += G * sc_j (mullo). That is 6 integer operations per 16 x 8 products, against 10 with maddubs/madd;
// 5 of them use the multiply pipes, which (with the activation broadcasts) bound the prompt speed.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/packed.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/cpu/kernels.h"

#define LLAMA4_Q6P_INLINE inline __attribute__((always_inline))

namespace llama4 {
namespace avx512 {

namespace {

constexpr size_t kBlk = PackedQ6_K::kBlock, kScOff = PackedQ6_K::kScales, kDOff = PackedQ6_K::kD;

using simd::bcast32;

// The 4 quant vectors of sub-block j (see the AVX2 kernel): q[3] = a | b<<2 | c<<4 from the top bit pairs of
// the 3 stored vectors, assembled with ternary logic (x >> 2) | (v & 0xC0); the shifted bytes' low two bits
// are 0, so no bit crosses into the neighbouring byte.
LLAMA4_Q6P_INLINE void unpack(const uint8_t* v, __m256i q[4]) {
  const __m256i m6 = _mm256_set1_epi8(0x3F), mt = _mm256_set1_epi8((char)0xC0);
  const __m256i b0 = _mm256_loadu_si256((const __m256i*)v);
  const __m256i b1 = _mm256_loadu_si256((const __m256i*)(v + 32));
  const __m256i b2 = _mm256_loadu_si256((const __m256i*)(v + 64));
  q[0] = _mm256_and_si256(b0, m6);
  q[1] = _mm256_and_si256(b1, m6);
  q[2] = _mm256_and_si256(b2, m6);
  __m256i t = _mm256_and_si256(b0, mt);
  t = _mm256_ternarylogic_epi32(_mm256_srli_epi16(t, 2), b1, mt, 0xF8);  // A | (B & C)
  t = _mm256_ternarylogic_epi32(_mm256_srli_epi16(t, 2), b2, mt, 0xF8);
  q[3] = _mm256_srli_epi16(t, 2);
}

// The call's activations, re-laid out once per call as [block][token] entries of constant size, so that a tile's
// tokens are fixed offsets from one pointer (8 separate row pointers would not fit in the general registers
// next to the loop state): the quants, -32 * bsums as int32 (the start of each sub-block's dpbusd chain) and d.
struct YEntry {
  int8_t qs[QK_K];
  int32_t ini[QK_K / 16];
  float d;
};

// One group x T tokens over all blocks; s[t * ss + r] receives row r of token t. ye: the tile's first token's
// entry of block 0; entries of one block are consecutive, blocks nt entries apart.
template <int T>
void tile(int64_t nb, const uint8_t* grp, const YEntry* ye, int64_t nt, float* s, int64_t ss) {
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
      // lane r = (sc_2p, sc_2p+1) as i16 -> each sign-extended to int32
      const __m256i sp = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(blk + kScOff + 16 * p)));
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        const int j = 2 * p + h;
        const __m256i sc = h ? _mm256_srai_epi32(sp, 16) : _mm256_srai_epi32(_mm256_slli_epi32(sp, 16), 16);
        __m256i q[4];
        unpack(blk + 96 * j, q);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
          const int8_t* yq = ye[t].qs + 16 * j;
          __m256i g = _mm256_set1_epi32(ye[t].ini[j]);
          g = _mm256_dpbusd_epi32(g, q[0], bcast32(yq));
          g = _mm256_dpbusd_epi32(g, q[1], bcast32(yq + 4));
          g = _mm256_dpbusd_epi32(g, q[2], bcast32(yq + 8));
          g = _mm256_dpbusd_epi32(g, q[3], bcast32(yq + 12));
          const __m256i c = _mm256_mullo_epi32(g, sc);
          isum[t] = j == 0 ? c : _mm256_add_epi32(isum[t], c);
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

// Two groups at once in 512-bit vectors (lanes 0-7: group g0's rows, 8-15: group g1's): one broadcast of the
// activations serves 16 rows.
LLAMA4_Q6P_INLINE __m512i load2(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)a)),
                            _mm256_loadu_si256((const __m256i*)b), 1);
}

LLAMA4_Q6P_INLINE __m512i bcast32x16(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int T>
void tile2(int64_t nb, const uint8_t* g0, const uint8_t* g1, const YEntry* ye, int64_t nt, float* s, int64_t ss) {
  const __m512i m6 = _mm512_set1_epi8(0x3F), mt = _mm512_set1_epi8((char)0xC0);
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++, ye += nt) {
    const uint8_t* x0 = g0 + (size_t)b * kBlk;
    const uint8_t* x1 = g1 + (size_t)b * kBlk;
    __m512i isum[T];
    for (int p = 0; p < 8; p++) {
      const __m512i sp = _mm512_cvtepi8_epi16(_mm256_inserti128_si256(
          _mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(x0 + kScOff + 16 * p))),
          _mm_loadu_si128((const __m128i*)(x1 + kScOff + 16 * p)), 1));
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        const int j = 2 * p + h;
        const __m512i sc = h ? _mm512_srai_epi32(sp, 16) : _mm512_srai_epi32(_mm512_slli_epi32(sp, 16), 16);
        const __m512i b0 = load2(x0 + 96 * j, x1 + 96 * j);
        const __m512i b1 = load2(x0 + 96 * j + 32, x1 + 96 * j + 32);
        const __m512i b2 = load2(x0 + 96 * j + 64, x1 + 96 * j + 64);
        const __m512i q0 = _mm512_and_si512(b0, m6), q1 = _mm512_and_si512(b1, m6), q2 = _mm512_and_si512(b2, m6);
        __m512i u = _mm512_and_si512(b0, mt);
        u = _mm512_ternarylogic_epi32(_mm512_srli_epi16(u, 2), b1, mt, 0xF8);
        u = _mm512_ternarylogic_epi32(_mm512_srli_epi16(u, 2), b2, mt, 0xF8);
        const __m512i q3 = _mm512_srli_epi16(u, 2);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
          const int8_t* yq = ye[t].qs + 16 * j;
          __m512i g = _mm512_set1_epi32(ye[t].ini[j]);
          g = _mm512_dpbusd_epi32(g, q0, bcast32x16(yq));
          g = _mm512_dpbusd_epi32(g, q1, bcast32x16(yq + 4));
          g = _mm512_dpbusd_epi32(g, q2, bcast32x16(yq + 8));
          g = _mm512_dpbusd_epi32(g, q3, bcast32x16(yq + 12));
          const __m512i c = _mm512_mullo_epi32(g, sc);
          isum[t] = j == 0 ? c : _mm512_add_epi32(isum[t], c);
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(x0 + kDOff))), _mm_loadu_si128((const __m128i*)(x1 + kDOff)), 1));
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(ye[t].d)), _mm512_cvtepi32_ps(isum[t]), acc[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) {
    _mm256_storeu_ps(s + t * ss, _mm512_castps512_ps256(acc[t]));
    _mm256_storeu_ps(s + t * ss + kPackRows, _mm512_extractf32x8_ps(acc[t], 1));
  }
}

}  // namespace

// Each group's (or group pair's) weights, nb * 1680 bytes each, stay in L1/L2 while the call's tokens pass over
// them, 8 at a time (8 int32 sums + 8 fp32 accumulators + quants and scales in 32 registers); decode is the
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
      std::memcpy(e.qs, yb[b].qs, QK_K);
      const __m512i bs = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i*)yb[b].bsums));
      _mm512_storeu_si512(e.ini, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bs, 5)));
      e.d = yb[b].d;
    }
  }
  // Decode: one group at a time in 256-bit vectors (one linear weight stream; two interleaved groups streamed
  // at ~15-25 GB/s against ~32). Prompts: two groups at a time in 512-bit vectors (~1.3x: half the activation
  // broadcasts and instructions per row), the odd last group in 256-bit.
  int64_t g = 0;
  if (nt >= 2)
    for (; g + 2 <= ng; g += 2) {
      const uint8_t* g0 = (const uint8_t*)x + (size_t)g * gx;
      const uint8_t* g1 = g0 + gx;
      float* sg = s + kPackRows * g;
      int64_t t = 0;
      for (; t + 8 <= nt; t += 8) tile2<8>(nb, g0, g1, yp + t, nt, sg + t * ss, ss);
      switch (nt - t) {
        case 7: tile2<7>(nb, g0, g1, yp + t, nt, sg + t * ss, ss); break;
        case 6: tile2<6>(nb, g0, g1, yp + t, nt, sg + t * ss, ss); break;
        case 5: tile2<5>(nb, g0, g1, yp + t, nt, sg + t * ss, ss); break;
        case 4: tile2<4>(nb, g0, g1, yp + t, nt, sg + t * ss, ss); break;
        case 3: tile2<3>(nb, g0, g1, yp + t, nt, sg + t * ss, ss); break;
        case 2: tile2<2>(nb, g0, g1, yp + t, nt, sg + t * ss, ss); break;
        case 1: tile2<1>(nb, g0, g1, yp + t, nt, sg + t * ss, ss); break;
        default: break;
      }
    }
  for (; g < ng; g++) {
    const uint8_t* grp = (const uint8_t*)x + (size_t)g * gx;
    float* sg = s + kPackRows * g;
    int64_t t = 0;
    for (; t + 8 <= nt; t += 8) tile<8>(nb, grp, yp + t, nt, sg + t * ss, ss);
    switch (nt - t) {
      case 7: tile<7>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 6: tile<6>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 5: tile<5>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 4: tile<4>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 3: tile<3>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 2: tile<2>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      case 1: tile<1>(nb, grp, yp + t, nt, sg + t * ss, ss); break;
      default: break;
    }
  }
}

}  // namespace avx512
}  // namespace llama4
