// Packed Q8_0 kernel, AVX-512 VNNI (256-bit vpdpbusd, 32 ymm registers): the layout and the numerics
// contract are in ops/packed_q8_0.cpp; the driver in ops/cpu/avx2/packed_q8_0_x86.h. Bit-identical to the
// scalar reference mm_packed_q8_0_ref (and so to the AVX2 kernel).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "ops/cpu/avx2/packed_q8_0_x86.h"
#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx512 {

namespace {

// Integer part with VNNI: vpdpbusd takes u8 x s8, so the signed weights become x ^ 0x80 = x + 128 (once
// per chunk, shared by the tile's tokens) and the block's accumulator starts at o = -128 Σ y (broadcast
// load): lane r = Σ (x + 128) y - 128 Σ y, exact and without saturation (|.| <= 32 * 255 * 127).
struct Vnni {
  static constexpr bool kOffset = true;
  using XV = __m256i;
  static LLAMA4_P8_INLINE XV weights(__m256i w) { return _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)); }
  static LLAMA4_P8_INLINE __m256i init(const int32_t* o) { return _mm256_set1_epi32(*o); }
  static LLAMA4_P8_INLINE __m256i step(__m256i a, XV w, __m256i y) { return _mm256_dpbusd_epi32(a, w, y); }
};

}  // namespace

// Decode: 1 group x 1 token (one linear weight stream), the block's sum in two chains. Prompts: 4 groups x
// 4 tokens (16 int32 accumulators in registers, the 16 fp32 ones partly on the stack: they are touched once
// per block; each broadcast activation quad serves 4 weight chunks). Per
// block and token the two multiply pipes of Zen 4 see 8 vpdpbusd + the float mul + fma, which this tile
// keeps ~95% busy; 2x4, 4x3, 2x6, 4x5 and 512-bit vpdpbusd (two groups per zmm) measured 1-8% slower.
void mm_packed_q8_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq8::matmul<Vnni, 1, 2, 4, 4, 1>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx512
}  // namespace llama4
