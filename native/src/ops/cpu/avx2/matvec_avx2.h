// Multi-row mat-vec (decode, one token) for the 32-element block types, BIT-IDENTICAL to the vec_dot kernels
// of the same ISA file. Include ONLY from files under ops/cpu/avx2/ or ops/cpu/avx512/.
//
// Why exact: every output keeps its own accumulator chain(s) in block order, exactly as the vec_dot kernel
// (see tile_avx2.h): acc = fma(f32(dx) * f32(dy), f32(lanes_i), acc) (one rounding for the scale product),
// IQ4_NL: even blocks into acc0, odd blocks into acc1, an odd last block in scalar; Q4_1 / Q5_1: the min
// sum is a scalar fma chain in block order. Only the INTERLEAVING of several rows' chains differs, which
// hides the 4-cycle FMA latency that bounds a single-row dot product (~14 GB/s for Q4_0).
//
// Memory: R interleaved row streams alone read DRAM badly (measured on EPYC Zen 4: 5-7 GB/s for 2-8 rows,
// vs ~14 for one row), so the kernel software-prefetches the NEXT group of R rows (contiguous bytes) as one
// linear stream, at the rate the current group is consumed; the demand loads then hit L1. Groups of
// ~6-10 KiB (R = 6 for 2048-element Q4_0 rows, R = 3 for 5632) measured best (larger ones thrash L1).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "ops/blocks.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/cpu/avx2/tile_avx2.h"

#define LLAMA4_INLINE_LAMBDA __attribute__((always_inline))

namespace llama4 {
namespace simd {
namespace mv {

// f16 at p -> 8 lanes (exact)
static LLAMA4_INLINE __m256 h2f_bcast(const uint8_t* p) { return _mm256_cvtph_ps(_mm_set1_epi16((short)tile::u16_at(p))); }

// K: a tile kind (tile_avx2.h / the AVX-512 file): px, py, lanes, kXSize, kYSize, kMin, kPairs.
template <int R, typename K>
static LLAMA4_INLINE void rows(const K& k, int64_t nb, const uint8_t* x0, size_t bx, const uint8_t* y, float* s) {
  __m256 acc[2][R];
  __m128 summ[R];
  LLAMA4_UNROLL
  for (int r = 0; r < R; r++) {
    acc[0][r] = _mm256_setzero_ps();
    acc[1][r] = _mm256_setzero_ps();
    summ[r] = _mm_setzero_ps();
  }
  const char* pf = (const char*)x0 + (size_t)R * bx;  // the next group, linearly
  const char* lin = pf;
  auto step = [&](int64_t i, int p) LLAMA4_INLINE_LAMBDA {
    const typename K::YV yv = k.py(y, i);
    const uint8_t* yb = y + (size_t)i * K::kYSize;
    const __m256 dy = h2f_bcast(yb);
    __m128 sy = _mm_setzero_ps();
    if constexpr (K::kMin) sy = _mm_set_ss(_cvtsh_ss(tile::u16_at(yb + 2)));
    lin += R * K::kXSize;
    while (pf < lin) {
      _mm_prefetch(pf, _MM_HINT_T0);
      pf += 64;
    }
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++) {
      const uint8_t* xr = x0 + (size_t)r * bx;
      const uint8_t* xb = xr + (size_t)i * K::kXSize;
      __m256 d;
      if constexpr (K::kMin) {  // (d, m) converted together: [dx, mx]
        const __m128 a = h2f_pair(xb);
        d = _mm256_mul_ps(_mm256_broadcastss_ps(a), dy);
        summ[r] = _mm_fmadd_ss(_mm_movehdup_ps(a), sy, summ[r]);
      } else {
        d = _mm256_mul_ps(h2f_bcast(xb), dy);
      }
      acc[p][r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(k.lanes(k.px(xr, i), yv)), acc[p][r]);
    }
  };
  if constexpr (!K::kPairs) {
    for (int64_t i = 0; i < nb; i++) step(i, 0);
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++) {
      float v = hsum_f32x8(acc[0][r]);
      if constexpr (K::kMin) v = v + _mm_cvtss_f32(summ[r]);
      s[r] = v;
    }
  } else {
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
      step(i, 0);
      step(i + 1, 1);
    }
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++) {
      float v = hsum_f32x8(_mm256_add_ps(acc[0][r], acc[1][r]));
      if (i < nb) {
        const uint8_t* xr = x0 + (size_t)r * bx;
        const float d = _cvtsh_ss(tile::u16_at(y + (size_t)i * K::kYSize)) * _cvtsh_ss(tile::u16_at(xr + (size_t)i * K::kXSize));
        const int32_t sumi = hsum_i32x8(k.lanes(k.px(xr, i), k.py(y, i)));
        v = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(d), _mm_set_ss((float)sumi), _mm_set_ss(v)));
      }
      s[r] = v;
    }
  }
}

// s[r] = dot(row r, y) for r < nr. kMaxR bounds the interleave (register pressure: 16 ymm on AVX2).
template <typename K, int kMaxR>
void matvec(int64_t n, int64_t nr, const void* vx, size_t bx, const void* vy, float* s) {
  const K k{};
  const uint8_t* x = (const uint8_t*)vx;
  const uint8_t* y = (const uint8_t*)vy;
  const int64_t nb = n / QK8_0;
  const int64_t fit = (int64_t)((10u << 10) / (bx ? bx : 1));  // rows per ~10 KiB group
  int64_t r = 0;
  if (kMaxR >= 6 && fit >= 6)
    for (; r + 6 <= nr; r += 6) rows<(kMaxR >= 6 ? 6 : 1)>(k, nb, x + (size_t)r * bx, bx, y, s + r);
  else if (kMaxR >= 4 && fit >= 4)
    for (; r + 4 <= nr; r += 4) rows<(kMaxR >= 4 ? 4 : 1)>(k, nb, x + (size_t)r * bx, bx, y, s + r);
  else if (fit >= 3)
    for (; r + 3 <= nr; r += 3) rows<3>(k, nb, x + (size_t)r * bx, bx, y, s + r);
  for (; r + 2 <= nr; r += 2) rows<2>(k, nb, x + (size_t)r * bx, bx, y, s + r);
  for (; r < nr; r++) rows<1>(k, nb, x + (size_t)r * bx, bx, y, s + r);
}

}  // namespace mv
}  // namespace simd
}  // namespace llama4
