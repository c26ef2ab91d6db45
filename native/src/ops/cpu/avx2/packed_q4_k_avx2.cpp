// Q4_K packed matmul, AVX2 (the layout and numerics: ops/packed_q4_k.cpp; the tiling: packed_q4_k_x86.h).
// Integer dot product: maddubs (u4 nibble x s8 activation pairs -> int16) accumulated in int16 over a
// sub-block's 8 chunks (|8 * 2 * 15 * 128| = 30720 < 32768: exact), then ONE madd_epi16 with the row's scale
// as an int16 pair applies the 6-bit scale and sums the pair into int32 lane r.
#include "ops/cpu/avx2/packed_q4_k_x86.h"

namespace llama4 {
namespace avx2 {

namespace {

struct Maddubs {
  using Part = __m256i;  // int16 pair partials of one sub-block, lane r = row r
  static __m256i first(__m256i q, __m256i y) { return _mm256_maddubs_epi16(q, y); }
  // (the empty asm pins the running sum: otherwise GCC reassociates the chain of int16 adds into computing
  // every maddubs of the sub-block first, which spills them all for NT > 1)
  static __m256i add(__m256i a, __m256i q, __m256i y) {
    a = _mm256_add_epi16(a, _mm256_maddubs_epi16(q, y));
    __asm__("" : "+v"(a));
    return a;
  }
  // the sub-block's 8 row scales (bytes) as int16 pairs
  static __m256i scale(const uint8_t* sc) { return q4k::pair16(sc); }
  static __m256i apply(__m256i sumi, __m256i part, __m256i sc) {
    return _mm256_add_epi32(sumi, _mm256_madd_epi16(part, sc));
  }
  // Σ_j m_j * (bsums[2j] + bsums[2j+1]): the mins as int16 pairs (m_j, m_j) against the two bsums
  static __m256i mins(const __m256i* mv, const int16_t* bsums) {
    __m256i a = _mm256_madd_epi16(mv[0], q4k::bcast32(bsums));
    for (int j = 1; j < 8; j++) a = _mm256_add_epi32(a, _mm256_madd_epi16(mv[j], q4k::bcast32(bsums + 2 * j)));
    return a;
  }
};

}  // namespace

void mm_packed_q4_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  q4k::mm_packed<Maddubs, 4>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx2
}  // namespace llama4
