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
  static LLAMA4_P8_INLINE __m256i init(const int32_t*) { return _mm256_setzero_si256(); }
  static LLAMA4_P8_INLINE __m256i step(__m256i a, const XV& w, __m256i y) {
    const __m256i p = _mm256_maddubs_epi16(w.abs, _mm256_sign_epi8(y, w.x));
    return _mm256_add_epi32(a, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
};

}  // namespace

// Decode: 1 group x 1 token, the block's sum in two chains. Prompts: 1 group x 4 tokens (4 int32 + 4 fp32
// accumulators, the chunk and its |x|). On EPYC Zen 4 vpsignb, vpmaddubsw and vpmaddwd share the two
// multiply pipes (with the float mul / fma): 3 of them per chunk and token bound this kernel at ~1.8x the
// plain 4x2 tile; wider tiles (1x5, 1x6, 2x3) and an i16 variant (vpmaddwd on pre-widened activations)
// measured within 5%.
void mm_packed_q8_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq8::matmul<Sign, 1, 2, 1, 4, 1>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx2
}  // namespace llama4
