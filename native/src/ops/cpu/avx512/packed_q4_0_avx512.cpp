// Packed Q4_0 kernel, AVX-512 VNNI (256-bit vpdpbusd, 32 ymm registers): the layout and the numerics
// contract are in ops/packed_q4_0.cpp; the driver in ops/cpu/avx2/packed_q4_0_x86.h. Bit-identical to the
// scalar reference mm_packed_q4_0_ref (and so to the AVX2 kernel).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "ops/cpu/avx2/packed_q4_0_x86.h"
#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx512 {

namespace {

// Integer part with VNNI: the block's int32 accumulator starts at -8 Σ y (broadcast load) and vpdpbusd adds
// lane r += Σ of 4 (u8 nibble x s8 y) products, exactly and without saturation (|sumi| <= 32 * 8 * 128).
struct Vnni {
  using Acc = __m256i;
  static LLAMA4_PQ_INLINE Acc init(const int32_t* o) { return _mm256_set1_epi32(*o); }
  static LLAMA4_PQ_INLINE Acc step(Acc a, __m256i lo, __m256i hi, __m256i ylo, __m256i yhi) {
    return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(a, lo, ylo), hi, yhi);
  }
  static LLAMA4_PQ_INLINE __m256i finish(Acc a, const int32_t*) { return a; }
};

// Two chains per block (low and high nibbles), added at the end: exact int32, so the same sums; halves the
// dependency chain of a block (vpdpbusd has 4-5 cycles of latency).
struct Vnni2 {
  struct Acc {
    __m256i a, b;
  };
  static LLAMA4_PQ_INLINE Acc init(const int32_t* o) { return {_mm256_set1_epi32(*o), _mm256_setzero_si256()}; }
  static LLAMA4_PQ_INLINE Acc step(Acc a, __m256i lo, __m256i hi, __m256i ylo, __m256i yhi) {
    return {_mm256_dpbusd_epi32(a.a, lo, ylo), _mm256_dpbusd_epi32(a.b, hi, yhi)};
  }
  static LLAMA4_PQ_INLINE __m256i finish(Acc a, const int32_t*) { return _mm256_add_epi32(a.a, a.b); }
};

}  // namespace

// Decode: 1 group x 1 token; prompts: 3 groups x 4 tokens (12 int32 + 12 fp32 accumulators, 6 nibble
// vectors: the 32 ymm registers; 2 x 4 measured ~4% slower, 2 x 6 the same, 4 x 2 ~6% slower).
// Small batches of 2-6 tokens (parallel sequences, speculative verify): 1 group x all tokens, one weight
// stream with decode's prefetch and two chains per block (Vnni2). 3 x 4 reads three group streams at once,
// which DRAM serves markedly slower, and 1 x 4 with one chain per block is latency-bound (4 chains of 8
// dependent vpdpbusd). On the 1.1B Q4_0 at 2 threads (llama4 bench --parallel, alternated, 2 rounds):
// 2 sequences 66-74 -> 85-89 t/s, 4 sequences 96-117 -> 132-147; 8 (3 x 4) unchanged.
void mm_packed_q4_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  pq4::matmul<Vnni, 1, 3, 4, 6, Vnni, Vnni2>(n_in, ng, nt, x, gx, y, by, s, ss);
}

}  // namespace avx512
}  // namespace llama4
