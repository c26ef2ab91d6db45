// Packed Q6_K kernel, AVX2: the shared 256-bit plan (packed_q6_k_x86.h) with maddubs + madd. The layout and the
// numerics contract (llama.cpp's vec_dot_q6_K order) are in ops/packed_q6_k.cpp.
#include "ops/cpu/avx2/packed_q6_k_x86.h"

#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx2 {

namespace {

struct Madd {
  // (the empty asm pins the running sum: otherwise GCC reassociates the chains into computing every madd first,
  // which spills them)
  static __m256i acc(__m256i k, __m256i p16, __m256i sc) {
    k = _mm256_add_epi32(k, _mm256_madd_epi16(p16, sc));
    __asm__("" : "+v"(k));
    return k;
  }
  // a | b << 2 | c << 4 from the top bit pairs a, b, c of the three stored vectors: every shift acts on masked
  // bytes whose low two bits are 0, so no bit crosses into the neighbouring byte
  static __m256i top(__m256i b0, __m256i b1, __m256i b2) {
    const __m256i mt = _mm256_set1_epi8((char)0xC0);
    __m256i t = _mm256_or_si256(_mm256_srli_epi16(_mm256_and_si256(b0, mt), 2), _mm256_and_si256(b1, mt));
    t = _mm256_or_si256(_mm256_srli_epi16(t, 2), _mm256_and_si256(b2, mt));
    return _mm256_srli_epi16(t, 2);
  }
};

}  // namespace

// Decode streams the groups in order (1-token tiles); prompts take 4 tokens per tile while a group's block is in L1.
void mm_packed_q6_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by,
                    float* s, int64_t ss) {
  const int64_t nb = n_in / QK_K;
  thread_local std::vector<q6k::YEntry> ybuf;
  q6k::relayout_y(nb, nt, y, by, ybuf);
  q6k::groups<Madd, 4>(nb, 0, ng, nt, (const uint8_t*)x, gx, ybuf.data(), s, ss);
}

}  // namespace avx2
}  // namespace llama4
