// Packed Q6_K kernel, AVX-512 VNNI: the shared 256-bit plan (avx2/packed_q6_k_x86.h) with maddubs + vpdpwssd for
// decode and odd groups, and the same plan over two groups at a time in 512-bit vectors for prompts. The layout
// and the numerics contract (llama.cpp's vec_dot_q6_K order) are in ops/packed_q6_k.cpp; every path is
// bit-identical to the scalar reference.
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12's 512-bit cast intrinsics read an undefined upper half
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "ops/cpu/avx2/packed_q6_k_x86.h"

namespace llama4 {
namespace avx512 {

namespace {

using q6k::YEntry;

struct Dpwssd {
  static __m256i acc(__m256i k, __m256i p16, __m256i sc) { return _mm256_dpwssd_epi32(k, p16, sc); }
  // a | b << 2 | c << 4 from the top bit pairs of the three stored vectors, with ternary logic (x >> 2) | (v & 0xC0)
  static __m256i top(__m256i b0, __m256i b1, __m256i b2) {
    const __m256i mt = _mm256_set1_epi8((char)0xC0);
    __m256i t = _mm256_and_si256(b0, mt);
    t = _mm256_ternarylogic_epi32(_mm256_srli_epi16(t, 2), b1, mt, 0xF8);  // A | (B & C)
    t = _mm256_ternarylogic_epi32(_mm256_srli_epi16(t, 2), b2, mt, 0xF8);
    return _mm256_srli_epi16(t, 2);
  }
};

// Two groups at once in 512-bit vectors (lanes 0-7: group g0's rows, 8-15: group g1's): one broadcast of the
// activations serves 16 rows.
inline __m512i load2(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)a)),
                            _mm256_loadu_si256((const __m256i*)b), 1);
}

inline __m512i bcast32x16(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int T>
void tile2(int64_t nb, const uint8_t* g0, const uint8_t* g1, const YEntry* ye, int64_t nt, float* s, int64_t ss) {
  const __m512i m6 = _mm512_set1_epi8(0x3F), mt = _mm512_set1_epi8((char)0xC0), m32 = _mm512_set1_epi16(-32);
  const __m512i even = _mm512_broadcast_i32x4(q6k::scale_shuffle(0)), odd = _mm512_broadcast_i32x4(q6k::scale_shuffle(1));
  __m512 acc[T][8];
  for (int t = 0; t < T; t++)
    for (int k = 0; k < 8; k++) acc[t][k] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++, ye += nt) {
    const uint8_t* x0 = g0 + (size_t)b * q6k::kBlk;
    const uint8_t* x1 = g1 + (size_t)b * q6k::kBlk;
    __m512i sc[16], spn[8], qv[16][4];
    for (int p = 0; p < 8; p++) {
      const __m512i sp = _mm512_cvtepi8_epi16(_mm256_inserti128_si256(
          _mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(x0 + q6k::kScOff + 16 * p))),
          _mm_loadu_si128((const __m128i*)(x1 + q6k::kScOff + 16 * p)), 1));
      spn[p] = _mm512_mullo_epi16(sp, m32);
      sc[2 * p] = _mm512_shuffle_epi8(sp, even);
      sc[2 * p + 1] = _mm512_shuffle_epi8(sp, odd);
    }
    for (int j = 0; j < 16; j++) {
      const __m512i b0 = load2(x0 + 96 * j, x1 + 96 * j);
      const __m512i b1 = load2(x0 + 96 * j + 32, x1 + 96 * j + 32);
      const __m512i b2 = load2(x0 + 96 * j + 64, x1 + 96 * j + 64);
      qv[j][0] = _mm512_and_si512(b0, m6);
      qv[j][1] = _mm512_and_si512(b1, m6);
      qv[j][2] = _mm512_and_si512(b2, m6);
      __m512i u = _mm512_and_si512(b0, mt);
      u = _mm512_ternarylogic_epi32(_mm512_srli_epi16(u, 2), b1, mt, 0xF8);
      u = _mm512_ternarylogic_epi32(_mm512_srli_epi16(u, 2), b2, mt, 0xF8);
      qv[j][3] = _mm512_srli_epi16(u, 2);
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(x0 + q6k::kDOff))),
        _mm_loadu_si128((const __m128i*)(x1 + q6k::kDOff)), 1));
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
      const int h = k / 4, c = k % 4;
      __m512i K[T];
#pragma GCC unroll 8
      for (int t = 0; t < T; t++) K[t] = _mm512_madd_epi16(spn[k], bcast32x16(ye[t].bsums + 2 * k));
#pragma GCC unroll 8
      for (int p = 0; p < 8; p++) {
        const int j = 2 * p + h;
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
          K[t] = _mm512_dpwssd_epi32(K[t], _mm512_maddubs_epi16(qv[j][c], bcast32x16(ye[t].qs + 16 * j + 4 * c)), sc[j]);
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; t++)
        acc[t][k] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(ye[t].d)), _mm512_cvtepi32_ps(K[t]), acc[t][k]);
    }
  }
  for (int t = 0; t < T; t++) {
    const __m512* a = acc[t];
    const __m512 t0 = _mm512_add_ps(a[0], a[4]), t1 = _mm512_add_ps(a[1], a[5]);
    const __m512 t2 = _mm512_add_ps(a[2], a[6]), t3 = _mm512_add_ps(a[3], a[7]);
    const __m512 r = _mm512_add_ps(_mm512_add_ps(t0, t2), _mm512_add_ps(t1, t3));  // hsum_chains8, lane-wise
    _mm256_storeu_ps(s + t * ss, _mm512_castps512_ps256(r));
    _mm256_storeu_ps(s + t * ss + kPackRows, _mm512_extractf32x8_ps(r, 1));
  }
}

}  // namespace

// Decode: one group at a time in 256-bit vectors (one linear weight stream; two interleaved groups streamed at
// ~15-25 GB/s against ~32). Prompts: two groups at a time in 512-bit vectors (half the activation broadcasts and
// instructions per row), 8 tokens per tile while the pair's block is in L1; the odd last group in 256-bit.
void mm_packed_q6_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  constexpr int T = 8;
  const int64_t nb = n_in / QK_K;
  thread_local std::vector<YEntry> ybuf;
  q6k::relayout_y(nb, nt, y, by, ybuf);
  const YEntry* yp = ybuf.data();
  int64_t g = 0;
  if (nt >= 2)
    for (; g + 2 <= ng; g += 2) {
      const uint8_t* g0 = (const uint8_t*)x + (size_t)g * gx;
      float* sg = s + kPackRows * g;
      int64_t t = 0;
      for (; t + T <= nt; t += T) tile2<T>(nb, g0, g0 + gx, yp + t, nt, sg + t * ss, ss);
      with_tail<T>(nt - t, [&](auto n) { tile2<decltype(n)::value>(nb, g0, g0 + gx, yp + t, nt, sg + t * ss, ss); });
    }
  q6k::groups<Dpwssd, T>(nb, g, ng, nt, (const uint8_t*)x, gx, yp, s, ss);
}

}  // namespace avx512
}  // namespace llama4
