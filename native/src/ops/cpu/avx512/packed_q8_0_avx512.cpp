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
// per chunk, shared by the tile's tokens) and each quad starts at o = -128 Σ y of the token's quad
// (broadcast load): lane r = Σ (x + 128) y - 128 Σ y, exact. (Offsetting the activations instead, with
// -128 Σ x per chunk from vpdpbusd, measured 15% slower.)
struct Vnni {
  static constexpr bool kOffset = true;
  using XV = __m256i;
  static LLAMA4_P8_INLINE XV weights(__m256i w) { return _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)); }
  static LLAMA4_P8_INLINE __m256i quad(XV w, __m256i y, const int32_t* o) {
    return _mm256_dpbusd_epi32(_mm256_set1_epi32(*o), w, y);
  }
};

}  // namespace

// Decode: 1 group x 1 token (one linear weight stream, 8 chains). Prompts: 4 groups x 2 tokens (64 fp32
// chains, partly on the stack: each is touched once per block; every broadcast activation quad and offset
// serves 4 weight chunks). On EPYC Zen 4, 128 tokens x 2048 x 5632: 4x2 7.1k tok/s, 2x2 7.1k, 3x2 7.0k,
// 1x3 5.5k; the one-chain order this replaced ran 13.9k (its 8 vpdpbusd per block shared one fma).
void mm_packed_q8_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq8::matmul<Vnni, 1, 4, 2>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx512
}  // namespace llama4
