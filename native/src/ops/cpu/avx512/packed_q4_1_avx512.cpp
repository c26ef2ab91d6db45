// Packed Q4_1 kernel, AVX-512 VNNI (256-bit vpdpbusd, 32 ymm registers): the layout and the numerics are in
// ops/packed_q4_1.cpp, the driver in ops/cpu/avx2/packed_q4_1_x86.h. Bit-identical to the scalar reference
// mm_packed_q4_1_ref (and so to the AVX2 kernel and the plain vec_dot_q4_1_q8_1).
#include <immintrin.h>

#include "ops/cpu/avx2/packed_q4_1_x86.h"
#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx512 {

namespace {

// Integer quad sums with VNNI: one vpdpbusd from zero (u4 x s8 quads straight into int32, exact).
struct Vnni {
  static LLAMA4_PQ41_INLINE __m256i quad(__m256i q, __m256i y) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, y);
  }
};

}  // namespace

// Decode: one group x one token, the min chain inline (two interleaved group streams measured 2-3x slower).
// Prompts: 1 group x 4 tokens, the min chains in a second pass. Measured on EPYC Zen 4 (128 tokens, 576x1536,
// one thread): 1x1 1575 us, 1x2 1355 (inline mins; 1460 with the pass), 2x1 1370, 1x3 1365, 2x2 1355,
// 1x4 1300, 1x6 1355, 1x8 1355, 2x4 1360; the plain kernels take 2840. ~84% of the bound of 18 multiply-pipe
// ops (8 vpdpbusd, 8 + 1 fma, mul) per group, token and block at 3.66 GHz.
// A 512-bit variant (zmm lanes 2r / 2r + 1 = a chunk's low / high quad of row r, activations rearranged so
// one qword broadcast feeds a chunk: half the vpdpbusd / cvt / fma instructions) measured no faster: 1x4
// 1385 us, 1x6 1350, 1x8 1595 (Zen 4 runs 512-bit operations on its 256-bit units in two passes).
void mm_packed_q4_1(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq41::matmul<Vnni, 1, 4, true>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx512
}  // namespace llama4
