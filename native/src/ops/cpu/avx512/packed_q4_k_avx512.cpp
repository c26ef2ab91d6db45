// Q4_K packed matmul, AVX-512 VNNI at 256 bits (the layout and numerics: ops/packed_q4_k.cpp; the tiling:
// ../avx2/packed_q4_k_x86.h). Integer dot product: vpdpbusd sums u4 nibble x s8 activation quads straight
// into a sub-block's int32 lane r (no int16 stage), vpmulld applies the row's 6-bit scale, and vpdpwssd folds
// the mins x bsums pairs. 32 vector registers allow 8 tokens per tile.
#include "ops/cpu/avx2/packed_q4_k_x86.h"

namespace llama4 {
namespace avx512 {

namespace {

struct Dpbusd {
  using Part = __m256i;  // int32 sums of one sub-block, lane r = row r
  static __m256i first(__m256i q, __m256i y) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, y); }
  static __m256i add(__m256i a, __m256i q, __m256i y) { return _mm256_dpbusd_epi32(a, q, y); }
  // the sub-block's 8 row scales as int32
  static __m256i scale(const uint8_t* sc) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)sc)); }
  static __m256i apply(__m256i sumi, __m256i part, __m256i sc) {
    return _mm256_add_epi32(sumi, _mm256_mullo_epi32(part, sc));
  }
  static __m256i mins(const __m256i* mv, const int16_t* bsums) {
    __m256i a = _mm256_madd_epi16(mv[0], q4k::bcast32(bsums));
    for (int j = 1; j < 8; j++) a = _mm256_dpwssd_epi32(a, mv[j], q4k::bcast32(bsums + 2 * j));
    return a;
  }
};

}  // namespace

void mm_packed_q4_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  q4k::mm_packed<Dpbusd, 8>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx512
}  // namespace llama4
