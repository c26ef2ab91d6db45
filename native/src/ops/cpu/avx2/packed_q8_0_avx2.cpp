// Packed Q8_0 kernel, AVX2 (16 ymm registers): the layout and the numerics contract are in
// ops/packed_q8_0.cpp; the driver in ops/cpu/avx2/packed_q8_0_x86.h. Bit-identical to the scalar reference
// mm_packed_q8_0_ref.
#include <immintrin.h>

#include "ops/cpu/avx2/packed_q8_0_x86.h"
#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx2 {

namespace {

// Integer part, the plain kernels' sign trick: maddubs(|x|, sign(y, x)) pairs are exact in i16
// (|pair| <= 2 * 128 * 127), madd with 1 widens them to the quad sums of each int32 lane.
struct Sign {
  static constexpr bool kOffset = false;
  struct XV {
    __m256i abs, x;
  };
  static LLAMA4_P8_INLINE XV weights(__m256i w) { return {_mm256_sign_epi8(w, w), w}; }
  static LLAMA4_P8_INLINE __m256i quad(const XV& w, __m256i y, const int32_t*) {
    const __m256i p = _mm256_maddubs_epi16(w.abs, _mm256_sign_epi8(y, w.x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  }
};

}  // namespace

// Decode: 1 group x 1 token (8 chains). Prompts: 1 group x 2 tokens (16 fp32 chains: the 16 ymm registers
// hold most of them).
void mm_packed_q8_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq8::matmul<Sign, 1, 1, 2>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx2
}  // namespace llama4
