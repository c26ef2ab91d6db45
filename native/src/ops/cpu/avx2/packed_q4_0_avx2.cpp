// Packed Q4_0 kernel, AVX2 (maddubs / madd): the layout and the numerics contract are in ops/packed_q4_0.cpp.
// Bit-identical to the scalar reference mm_packed_q4_0_ref: per output, sumi of each block is exact and the
// float chain is acc = fma(f32(dx) * f32(dy), f32(sumi), acc) in block order, one lane per row.
#include <immintrin.h>

#include "ops/cpu/avx2/packed_q4_0_x86.h"
#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx2 {

namespace {

// Integer part without VNNI. Chunk c of a block holds, in lane r, row r's elements 4c..4c+3 (low nibbles)
// and 16+4c..16+4c+3 (high nibbles); maddubs(nibbles, 4 y bytes broadcast) gives lane r two i16 pair sums.
// The 8 maddubs of a block are added in i16: each pair sum is <= 2 * 15 * 128 = 3840 in magnitude, 8 of
// them <= 30720 < 32768, so nothing saturates; one madd with ones then sums the two i16 halves of every
// lane into int32, and the -8 offset is added there.
struct Maddubs {
  using Acc = __m256i;  // i16 partial sums of one (group, token) over the block
  // The empty asm pins the running sum after every add: without it GCC reassociates the block's 8 adds
  // per (group, token) into trees over all maddubs results, which spills (16 ymm) and measured 10% slower.
  static LLAMA4_PQ_INLINE Acc pin(Acc a) {
    __asm__("" : "+x"(a));
    return a;
  }
  static LLAMA4_PQ_INLINE Acc init(const int32_t*) { return _mm256_setzero_si256(); }
  static LLAMA4_PQ_INLINE Acc step(Acc a, __m256i lo, __m256i hi, __m256i ylo, __m256i yhi) {
    a = pin(_mm256_add_epi16(a, _mm256_maddubs_epi16(lo, ylo)));
    return pin(_mm256_add_epi16(a, _mm256_maddubs_epi16(hi, yhi)));
  }
  // Σ q y - 8 Σ y (o -> -8 Σ y)
  static LLAMA4_PQ_INLINE __m256i finish(Acc a, const int32_t* o) {
    return _mm256_add_epi32(_mm256_madd_epi16(a, _mm256_set1_epi16(1)), _mm256_set1_epi32(*o));
  }
};

}  // namespace

// Decode: 1 group x 1 token; prompts: 1 group x 4 tokens (16 ymm registers: 4 i16 sums, 4 fp32
// accumulators, the chunk's nibbles, broadcasts and constants; 2 x 2 and 1 x 5 measured the same).
void mm_packed_q4_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq4::matmul<Maddubs, 1, 1, 4>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx2
}  // namespace llama4
