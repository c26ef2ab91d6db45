// Packed Q4_1 kernel, AVX2 (maddubs / madd): the layout and the numerics are in ops/packed_q4_1.cpp, the
// driver in packed_q4_1_x86.h. Bit-identical to the scalar reference mm_packed_q4_1_ref (and to the plain
// vec_dot_q4_1_q8_1).
#include <immintrin.h>

#include "ops/cpu/avx2/packed_q4_1_x86.h"
#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx2 {

namespace {

// Integer quad sums without VNNI: maddubs (u4 nibble x s8 pairs -> i16, |.| <= 2 * 15 * 128: exact), then madd
// with ones sums each lane's two pairs into int32.
struct Maddubs {
  static LLAMA4_PQ41_INLINE __m256i quad(__m256i q, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), _mm256_set1_epi16(1));
  }
};

}  // namespace

// Decode: one group x one token, the min chain inline (two interleaved group streams measured 2x slower).
// Prompts: 1 group x 3 tokens, the min chains in a second pass (24 fp32 chains, more than the 16 ymm
// registers: GCC keeps some on the stack). Measured on EPYC Zen 4 (128 tokens, 576x1536, one thread): 1x1
// 2330 us, 1x1 inline mins 2090, 1x2 1970, 2x1 2055, 1x3 1840, 1x4 2330, 1x6 2330; the plain kernels take
// 3300. ~85% of the bound of 26 multiply-pipe ops (8 maddubs, 8 madd, 8 + 1 fma, mul) per group, token and
// block at 3.66 GHz.
void mm_packed_q4_1(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq41::matmul<Maddubs, 1, 3, true>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx2
}  // namespace llama4
