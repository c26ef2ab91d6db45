// Tiled matmul kernels (several weight rows x several activation rows per micro-kernel) whose every output
// is BIT-IDENTICAL to the single-row vec_dot kernels of the same ISA file. Include ONLY from files under
// ops/cpu/avx2/ or ops/cpu/avx512/.
//
// Why exact: the vec_dot kernels for the 32-element blocks follow llama.cpp's AVX2 order (simd_avx2.h): ONE
// 8-lane accumulator per output, acc = fma(d_i, f32(sumi_i), acc) in block order (IQ4_NL: two, for the even
// and the odd blocks of each pair, plus an odd last block in scalar), then hsum_f32x8 [+ the Q4_1 / Q5_1
// min sum, a scalar fma chain in block order]. The integer lane sums sumi_i are exact, so any instruction
// sequence producing the same 8 lane values (lane j = bytes 4j..4j+3) is equivalent.
//
// A micro-kernel of R rows x T tokens keeps R*T accumulators (independent FMA chains hide the latency) and
// visits the blocks in order (IQ4_NL: two phases, the even blocks then the odd ones, over L1-sized segments).
// The scale products d_i = f32(dx) * f32(dy) (one rounding, as in the kernels) are precomputed for the tile
// into a small buffer read with broadcast loads; the min sums are fma chains in block order.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/cpu/avx2/simd_avx2.h"

namespace llama4 {
namespace simd {
namespace tile {

// Hides a value from the optimiser so that a product is never contracted into a following add.
template <typename V>
static inline V opaque(V v) {
  __asm__("" : "+x"(v));
  return v;
}

static inline uint16_t u16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// ---- the phased micro-kernel -----------------------------------------------------------------------------
// K provides: XV px(const uint8_t* row, int64_t i); YV py(const uint8_t* row, int64_t i);
//             __m256 update(__m256 acc, const XV&, const YV&, const float* d);  kScaled (uses d or not).
// D: [nb][R][T] scale products (kScaled). K::kPairs: IQ4_NL's two accumulators (also K::lanes: the int sums).
#define LLAMA4_UNROLL _Pragma("GCC unroll 16")
#define LLAMA4_INLINE inline __attribute__((always_inline))

template <int R, int T, typename K>
static LLAMA4_INLINE void micro_body(const K& k, int64_t i, const uint8_t* x0, size_t bx, const uint8_t* y0, size_t by,
                                     const float* D, __m256 (&acc)[R][T]) {
  typename K::YV yv[T];
  LLAMA4_UNROLL
  for (int t = 0; t < T; t++) yv[t] = k.py(y0 + (size_t)t * by, i);
  const float* d = K::kScaled ? D + i * (R * T) : nullptr;
  LLAMA4_UNROLL
  for (int r = 0; r < R; r++) {
    const typename K::XV xv = k.px(x0 + (size_t)r * bx, i);
    LLAMA4_UNROLL
    for (int t = 0; t < T; t++) acc[r][t] = k.update(acc[r][t], xv, yv[t], K::kScaled ? d + r * T + t : nullptr);
  }
}

// Every block in order, one accumulator per output; K::kPairs: phase p of two visits blocks p, p + 2, ... below
// nb & ~1 into out[p], over K segments that keep the R + T rows' segment in L1 (~16 KiB) for both phases.
template <int R, int T, typename K>
static LLAMA4_INLINE void micro(const K& k, int64_t nb, const uint8_t* x0, size_t bx, const uint8_t* y0, size_t by,
                                const float* D, __m256 (&out)[2][R][T]) {
  LLAMA4_UNROLL
  for (int p = 0; p < 2; p++)
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++)
      LLAMA4_UNROLL
      for (int t = 0; t < T; t++) out[p][r][t] = _mm256_setzero_ps();
  if constexpr (!K::kPairs) {
    __m256 acc[R][T];
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++)
      LLAMA4_UNROLL
      for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) micro_body<R, T>(k, i, x0, bx, y0, by, D, acc);
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++)
      LLAMA4_UNROLL
      for (int t = 0; t < T; t++) out[0][r][t] = acc[r][t];
  } else {
    constexpr size_t kBlk = K::kXSize > K::kYSize ? K::kXSize : K::kYSize;
    constexpr int64_t kSegRaw = (int64_t)((16u << 10) / ((R + T) * kBlk)) & ~(int64_t)1;
    constexpr int64_t kSeg = kSegRaw < 2 ? 2 : kSegRaw;
    const int64_t nb2 = nb & ~(int64_t)1;
    for (int64_t s0 = 0; s0 < nb2; s0 += kSeg) {
      const int64_t s1 = nb2 - s0 < kSeg ? nb2 : s0 + kSeg;
      for (int p = 0; p < 2; p++) {
        __m256 acc[R][T];
        LLAMA4_UNROLL
        for (int r = 0; r < R; r++)
          LLAMA4_UNROLL
          for (int t = 0; t < T; t++) acc[r][t] = out[p][r][t];
        for (int64_t i = s0 + p; i < s1; i += 2) micro_body<R, T>(k, i, x0, bx, y0, by, D, acc);
        LLAMA4_UNROLL
        for (int r = 0; r < R; r++)
          LLAMA4_UNROLL
          for (int t = 0; t < T; t++) out[p][r][t] = acc[r][t];
      }
    }
  }
}

// ---- legacy 32-element blocks ----------------------------------------------------------------------------
// Kinds for the AVX2 vec_dot kernels (maddubs / madd integer sums).
struct Q4_0x2 {
  static constexpr bool kScaled = true, kMin = false, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q4_0), kYSize = sizeof(block_q8_0);
  using XV = __m256i;
  struct YV { __m256i q, o; };
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return nibbles_32(((const block_q4_0*)row)[i].qs); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const {
    const __m256i q = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {q, _mm256_maddubs_epi16(_mm256_set1_epi8(8), q)};
  }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const {
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(x, y.q), y.o), _mm256_set1_epi16(1));
  }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};

struct Q5_0x2 {
  static constexpr bool kScaled = true, kMin = false, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q5_0), kYSize = sizeof(block_q8_0);
  using XV = __m256i;
  struct YV { __m256i q, o; };
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const block_q5_0& b = ((const block_q5_0*)row)[i];
    return _mm256_or_si256(nibbles_32(b.qs), _mm256_and_si256(bits_to_bytes_32(b.qh), _mm256_set1_epi8(0x10)));
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const {
    const __m256i q = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {q, _mm256_maddubs_epi16(_mm256_set1_epi8(0x10), q)};
  }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const {
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(x, y.q), y.o), _mm256_set1_epi16(1));
  }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};

struct Q4_1x2 {
  static constexpr bool kScaled = true, kMin = true, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q4_1), kYSize = sizeof(block_q8_1);
  using XV = __m256i;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return nibbles_32(((const block_q4_1*)row)[i].qs); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_1*)row)[i].qs); }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return dot_u8i8(x, y); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(dot_u8i8(x, y)), acc);
  }
};

struct Q5_1x2 {
  static constexpr bool kScaled = true, kMin = true, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q5_1), kYSize = sizeof(block_q8_1);
  using XV = __m256i;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const block_q5_1& b = ((const block_q5_1*)row)[i];
    return _mm256_or_si256(nibbles_32(b.qs), _mm256_and_si256(bits_to_bytes_32(b.qh), _mm256_set1_epi8(0x10)));
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_1*)row)[i].qs); }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return dot_u8i8(x, y); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(dot_u8i8(x, y)), acc);
  }
};

// Q8_0 / IQ4_NL: signed x; |x| is computed once per block and row, sign(y, x) per pair.
struct XSigned { __m256i a, s; };
struct Q8_0x2 {
  static constexpr bool kScaled = true, kMin = false, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q8_0), kYSize = sizeof(block_q8_0);
  using XV = XSigned;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const __m256i x = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {_mm256_sign_epi8(x, x), x};
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs); }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return dot_u8i8(x.a, _mm256_sign_epi8(y, x.s)); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};

struct IQ4_NLx2 {
  static constexpr bool kScaled = true, kMin = false, kPairs = true;
  static constexpr size_t kXSize = sizeof(block_iq4_nl), kYSize = sizeof(block_q8_0);
  using XV = XSigned;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kvalues_iq4nl));
    const __m256i x = _mm256_shuffle_epi8(table, nibbles_32(((const block_iq4_nl*)row)[i].qs));
    return {_mm256_sign_epi8(x, x), x};
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs); }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return dot_u8i8(x.a, _mm256_sign_epi8(y, x.s)); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};

// ---- the tile driver -------------------------------------------------------------------------------------

struct Scratch {
  std::vector<float> ys, sy, xs, mx, D, M;
};
static inline Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

// Outputs of one micro-tile: hsum_f32x8 of the accumulator(s) (IQ4_NL: of acc1 + acc2, then the odd last
// block in scalar: fma(d, (float)Σ lanes, v)), plus the min sum M[r * ms + t] (Q4_1 / Q5_1).
template <int R, int T, typename K>
static LLAMA4_INLINE void run_micro(const K& k, int64_t nb, const uint8_t* x0, size_t bx, const uint8_t* y0, size_t by,
                                    const float* D, const float* M, float* s, int64_t ss, int64_t ms) {
  __m256 o[2][R][T];
  micro<R, T>(k, nb, x0, bx, y0, by, D, o);
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) {
      float v;
      if constexpr (K::kPairs) {
        v = hsum_f32x8(_mm256_add_ps(o[0][r][t], o[1][r][t]));
        if (nb & 1) {
          const int64_t i = nb - 1;
          const int32_t sumi = hsum_i32x8(k.lanes(k.px(x0 + (size_t)r * bx, i), k.py(y0 + (size_t)t * by, i)));
          v = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(D[(i * R + r) * T + t]), _mm_set_ss((float)sumi), _mm_set_ss(v)));
        }
      } else {
        v = hsum_f32x8(o[0][r][t]);
      }
      if (K::kMin) v = v + M[r * ms + t];
      s[t * ss + r] = v;
    }
}

// Scale products for a micro-tile of R rows (x scales xs[r * nb + i]) x T tokens (y scales ys[i * nt + t]):
// D[(i * R + r) * T + t] = xs * ys (one f32 rounding; llama.cpp's IQ4_NL multiplies dy * dx: the same).
static inline void prep_tile(int R, int T, int64_t nb, int64_t nt, const float* xs, const float* ys, float* D) {
  for (int64_t i = 0; i < nb; i++)
    for (int r = 0; r < R; r++) {
      const float a = xs[r * nb + i];
      for (int t = 0; t < T; t++) D[(i * R + r) * T + t] = a * ys[i * nt + t];
    }
}

// s[t * ss + r] for r < nr, t < nt (nt >= 1). RB x TB is the main micro-tile; remainders use 1-row / 1-token tiles.
template <int RB, int TB, typename K>
void tile_blocks(int64_t n, int64_t nr, int64_t nt, const void* vx, size_t bx, const void* vy, size_t by, float* s,
                 int64_t ss) {
  const K k{};
  const uint8_t* x = (const uint8_t*)vx;
  const uint8_t* y = (const uint8_t*)vy;
  const int64_t nb = n / QK8_0;
  Scratch& sc = scratch();
  sc.ys.resize((size_t)(nb * nt));
  sc.D.resize((size_t)(nb * RB * TB));
  sc.xs.resize((size_t)(nb * RB));
  sc.M.resize((size_t)(RB * nt));
  if (K::kMin) {
    sc.sy.resize((size_t)(nb * nt));
    sc.mx.resize((size_t)(nb * RB));
  }
  // y scales, block-major: ys[i * nt + t] (exact f16 -> f32)
  for (int64_t t = 0; t < nt; t++) {
    const uint8_t* yr = y + (size_t)t * by;
    for (int64_t i = 0; i < nb; i++) {
      sc.ys[i * nt + t] = _cvtsh_ss(u16_at(yr + (size_t)i * K::kYSize));
      if (K::kMin) sc.sy[i * nt + t] = _cvtsh_ss(u16_at(yr + (size_t)i * K::kYSize + 2));
    }
  }
  for (int64_t r0 = 0; r0 < nr; r0 += RB) {
    const int R = (int)std::min<int64_t>(RB, nr - r0);
    for (int r = 0; r < R; r++) {
      const uint8_t* xr = x + (size_t)(r0 + r) * bx;
      for (int64_t i = 0; i < nb; i++) {
        sc.xs[r * nb + i] = _cvtsh_ss(u16_at(xr + (size_t)i * K::kXSize));
        if (K::kMin) sc.mx[r * nb + i] = _cvtsh_ss(u16_at(xr + (size_t)i * K::kXSize + 2));
      }
    }
    // min sums of every (row, token): M[r * nt + t] = fma(mx, sy, M) in block order, 8 tokens a vector
    float* M = sc.M.data();
    if (K::kMin) {
      for (int r = 0; r < R; r++) {
        float* m = M + r * nt;
        for (int64_t t = 0; t < nt; t++) m[t] = 0.0f;
        for (int64_t i = 0; i < nb; i++) {
          const float mx = sc.mx[r * nb + i];
          const __m256 mv = _mm256_set1_ps(mx);
          const float* syi = sc.sy.data() + i * nt;
          int64_t t = 0;
          for (; t + 8 <= nt; t += 8)
            _mm256_storeu_ps(m + t, _mm256_fmadd_ps(mv, _mm256_loadu_ps(syi + t), _mm256_loadu_ps(m + t)));
          for (; t < nt; t++) m[t] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(mx), _mm_set_ss(syi[t]), _mm_set_ss(m[t])));
        }
      }
    }
    for (int64_t t0 = 0; t0 < nt; t0 += TB) {
      const int T = (int)std::min<int64_t>(TB, nt - t0);
      const uint8_t* y0 = y + (size_t)t0 * by;
      float* so = s + t0 * ss + r0;
      const float* ys = sc.ys.data() + t0;
      if (R == RB && T == TB) {
        prep_tile(RB, TB, nb, nt, sc.xs.data(), ys, sc.D.data());
        run_micro<RB, TB>(k, nb, x + (size_t)r0 * bx, bx, y0, by, sc.D.data(), M + t0, so, ss, nt);
      } else if (T == TB) {  // leftover rows, one at a time
        for (int r = 0; r < R; r++) {
          prep_tile(1, TB, nb, nt, sc.xs.data() + r * nb, ys, sc.D.data());
          run_micro<1, TB>(k, nb, x + (size_t)(r0 + r) * bx, bx, y0, by, sc.D.data(), M + r * nt + t0, so + r, ss, nt);
        }
      } else {  // leftover tokens, one at a time, RB (or fewer) rows
        for (int t = 0; t < T; t++) {
          if (R == RB) {
            prep_tile(RB, 1, nb, nt, sc.xs.data(), ys + t, sc.D.data());
            run_micro<RB, 1>(k, nb, x + (size_t)r0 * bx, bx, y0 + (size_t)t * by, by, sc.D.data(), M + t0 + t,
                             so + t * ss, ss, nt);
          } else {
            for (int r = 0; r < R; r++) {
              prep_tile(1, 1, nb, nt, sc.xs.data() + r * nb, ys + t, sc.D.data());
              run_micro<1, 1>(k, nb, x + (size_t)(r0 + r) * bx, bx, y0 + (size_t)t * by, by, sc.D.data(),
                              M + r * nt + t0 + t, so + t * ss + r, ss, nt);
            }
          }
        }
      }
    }
  }
}

}  // namespace tile
}  // namespace simd
}  // namespace llama4
