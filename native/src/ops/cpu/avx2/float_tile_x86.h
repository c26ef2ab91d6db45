// llamafile's tinyBLAS order for F32 / F16 / BF16 weights (what llama.cpp's mul_mat runs for a batch of >= 2
// tokens when n_in % 8 == 0 and n_out % 4 == 0; see CpuKernels::mm_tinyblas): every output is ONE 8-lane
// FMA chain over the row in 8-element steps from element 0, c = fma(w[8l..], y[8l..], c), ended by
// tinyBLAS's hsum (lanes k + (k+4), then (0+2) + (1+3)). The lanes stay 8 wide on every ISA (llama.cpp's AVX2
// build is the reference), so an AVX-512 build only gains registers for a wider micro-tile.
// Include ONLY from files under ops/cpu/avx2/ or ops/cpu/avx512/ (everything is static: each ISA file gets
// its own copy, compiled with its own flags).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "ops/cpu/avx2/simd_avx2.h"

namespace llama4 {
namespace simd {
namespace ftile {

static inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
static inline __m256 load8(const uint16_t* p, bool bf16) {
  const __m128i h = _mm_loadu_si128((const __m128i*)p);
  return bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}

// RM rows x RN tokens: x rows bx bytes apart (W elements), y = RN token rows of n floats, yn floats apart.
template <typename W, int RM, int RN>
static inline void micro(int64_t n, const uint8_t* x, size_t bx, const float* y, int64_t yn, float* s, int64_t ss, bool bf16) {
  __m256 c[RM][RN];
  for (int i = 0; i < RM; i++)
    for (int j = 0; j < RN; j++) c[i][j] = _mm256_setzero_ps();
  for (int64_t l = 0; l < n; l += 8) {
    __m256 b[RN];
    for (int j = 0; j < RN; j++) b[j] = load8(y + j * yn + l);
    for (int i = 0; i < RM; i++) {
      __m256 a;
      if constexpr (sizeof(W) == 4)
        a = load8((const float*)(x + (size_t)i * bx) + l);
      else
        a = load8((const uint16_t*)(x + (size_t)i * bx) + l, bf16);
      for (int j = 0; j < RN; j++) c[i][j] = _mm256_fmadd_ps(a, b[j], c[i][j]);
    }
  }
  for (int j = 0; j < RN; j++)
    for (int i = 0; i < RM; i++) s[j * ss + i] = simd::hsum_f32x8(c[i][j]);  // = tinyBLAS's hsum
}

template <typename W, int RM, int RN>
static inline void tokens_tail(int64_t n, int64_t nt, const uint8_t* x, size_t bx, const float* y, int64_t yn, float* s,
                        int64_t ss, bool bf16) {
  if constexpr (RN > 0) {
    if (nt == RN) return micro<W, RM, RN>(n, x, bx, y, yn, s, ss, bf16);
    return tokens_tail<W, RM, RN - 1>(n, nt, x, bx, y, yn, s, ss, bf16);
  }
}

// s[t * ss + r] = dot(row r, token t) for r < nr, t < nt; n % 8 == 0. F16 / BF16 tokens (exactly
// representable values) are widened to floats once per call; rows then go RM at a time past all the token
// tiles while their RM rows stay in L1.
template <typename W, int RN, bool BF16 = false>
static void mm_tinyblas(int64_t n, int64_t nr, int64_t nt, const void* vx, size_t bx, const void* vy, size_t by, float* s,
                 int64_t ss) {
  constexpr int RM = 4;
  const uint8_t* x = (const uint8_t*)vx;
  const float* y = (const float*)vy;
  int64_t yn = (int64_t)(by / sizeof(float));
  if constexpr (sizeof(W) == 2) {
    thread_local std::vector<float> wide;
    wide.resize((size_t)(nt * n));
    for (int64_t t = 0; t < nt; t++) {
      const uint16_t* src = (const uint16_t*)((const uint8_t*)vy + (size_t)t * by);
      for (int64_t l = 0; l < n; l += 8) _mm256_storeu_ps(wide.data() + t * n + l, load8(src + l, BF16));
    }
    y = wide.data();
    yn = n;
  }
  int64_t r = 0;
  for (; r + RM <= nr; r += RM) {
    int64_t t = 0;
    for (; t + RN <= nt; t += RN) micro<W, RM, RN>(n, x + (size_t)r * bx, bx, y + t * yn, yn, s + t * ss + r, ss, BF16);
    if (t < nt) tokens_tail<W, RM, RN - 1>(n, nt - t, x + (size_t)r * bx, bx, y + t * yn, yn, s + t * ss + r, ss, BF16);
  }
  for (; r < nr; r++) {  // rows past the last whole micro-tile
    int64_t t = 0;
    for (; t + RN <= nt; t += RN) micro<W, 1, RN>(n, x + (size_t)r * bx, bx, y + t * yn, yn, s + t * ss + r, ss, BF16);
    if (t < nt) tokens_tail<W, 1, RN - 1>(n, nt - t, x + (size_t)r * bx, bx, y + t * yn, yn, s + t * ss + r, ss, BF16);
  }
}

}  // namespace ftile
}  // namespace simd
}  // namespace llama4
