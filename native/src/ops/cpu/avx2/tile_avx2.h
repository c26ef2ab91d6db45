// Tiled matmul kernels (several weight rows x several activation rows per micro-kernel) whose every output
// is BIT-IDENTICAL to the single-row vec_dot kernels of the same ISA file. Include ONLY from files under
// ops/cpu/avx2/ or ops/cpu/avx512/.
//
// Why exact: the vec_dot kernels for the 32-element legacy blocks (blocks4 / blocks4_scaled) and for the
// float types (dot_float, 8-element chunks) keep four 8-lane accumulators per output: block (or chunk) i
// of the first 4*floor(nb/4) goes to accumulator i % 4, the remaining ones to accumulator 0, each update is
// acc = fma(d_i, f32(sumi_i), acc) (floats: fma(x, y, acc)), and the result is
// hsum_f32x8((a0 + a1) + (a2 + a3)) [+ the min term]. The integer lane sums sumi_i are exact, so any
// instruction sequence producing the same 8 lane values (lane j = bytes 4j..4j+3) is equivalent.
//
// A micro-kernel of R rows x T tokens runs the four accumulators one after the other ("phases": phase p
// visits blocks p, p+4, ... and phase 0 also the tail), with one accumulator per output live. Every block
// is still read once; per accumulator the sequence of fma's is the original one. The scale products
// d_i = f32(dx) * f32(dy) (one rounding, as in scales4 / _cvtsh_ss products) are precomputed for the tile
// into a small buffer read with broadcast loads; the Q4_1 / Q5_1 min term sum_i f32(mx * sy) is added in
// block order with the product kept out of any fused multiply-add.
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
// D: [nb][R][T] scale products (kScaled), out: the four phase accumulators per output.
#define LLAMA4_UNROLL _Pragma("GCC unroll 16")
constexpr size_t kPrefetch = 1024;  // bytes ahead in each weight row (decode)
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

// One token: the four accumulators of each row live at once and blocks are visited in order (streams the
// weights sequentially; decode is bandwidth-bound). Same per-accumulator sequence as the phased form.
template <int R, typename K>
static LLAMA4_INLINE void micro_seq(const K& k, int64_t nb, const uint8_t* x0, size_t bx, const uint8_t* y0,
                                    const float* D /* [R][nb] */, __m256 (&out)[4][R][1]) {
  __m256 acc[4][R];
  LLAMA4_UNROLL
  for (int q = 0; q < 4; q++)
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++) acc[q][r] = _mm256_setzero_ps();
  auto blk = [&](int64_t i, __m256(&a)[R]) __attribute__((always_inline)) {
    const typename K::YV yv = k.py(y0, i);
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++)
      a[r] = k.update(a[r], k.px(x0 + (size_t)r * bx, i), yv, K::kScaled ? D + r * nb + i : nullptr);
  };
  int64_t i = 0;
  for (; i + 3 < nb; i += 4) {
    // R interleaved weight streams: the hardware prefetcher alone keeps up with one sequential stream only
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++) _mm_prefetch((const char*)(x0 + (size_t)r * bx + (size_t)i * K::kXSize + kPrefetch), _MM_HINT_T0);
    blk(i + 0, acc[0]);
    blk(i + 1, acc[1]);
    blk(i + 2, acc[2]);
    blk(i + 3, acc[3]);
  }
  for (; i < nb; i++) blk(i, acc[0]);
  LLAMA4_UNROLL
  for (int q = 0; q < 4; q++)
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++) out[q][r][0] = acc[q][r];
}

// Several tokens: phases (one accumulator per output live), over K segments that keep the R + T rows'
// segment in L1 (~16 KiB) while the four phases sweep it; accumulators are parked in `out` between
// segments. Per accumulator the blocks are still visited in increasing order, the tail last (to a0).
template <int R, int T, typename K>
static LLAMA4_INLINE void micro(const K& k, int64_t nb, const uint8_t* x0, size_t bx, const uint8_t* y0, size_t by,
                                const float* D, __m256 (&out)[4][R][T]) {
  constexpr size_t kBlk = K::kXSize > K::kYSize ? K::kXSize : K::kYSize;
  constexpr int64_t kSegRaw = (int64_t)((16u << 10) / ((R + T) * kBlk)) & ~(int64_t)3;
  constexpr int64_t kSeg = kSegRaw < 4 ? 4 : kSegRaw;
  const int64_t nb4 = nb & ~(int64_t)3;
  LLAMA4_UNROLL
  for (int p = 0; p < 4; p++)
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++)
      LLAMA4_UNROLL
      for (int t = 0; t < T; t++) out[p][r][t] = _mm256_setzero_ps();
  for (int64_t s0 = 0; s0 < nb4; s0 += kSeg) {
    const int64_t s1 = nb4 - s0 < kSeg ? nb4 : s0 + kSeg;
    for (int p = 0; p < 4; p++) {
      __m256 acc[R][T];
      LLAMA4_UNROLL
      for (int r = 0; r < R; r++)
        LLAMA4_UNROLL
        for (int t = 0; t < T; t++) acc[r][t] = out[p][r][t];
      for (int64_t i = s0 + p; i < s1; i += 4) micro_body<R, T>(k, i, x0, bx, y0, by, D, acc);
      LLAMA4_UNROLL
      for (int r = 0; r < R; r++)
        LLAMA4_UNROLL
        for (int t = 0; t < T; t++) out[p][r][t] = acc[r][t];
    }
  }
  if (nb4 < nb) {
    __m256 acc[R][T];
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++)
      LLAMA4_UNROLL
      for (int t = 0; t < T; t++) acc[r][t] = out[0][r][t];
    for (int64_t i = nb4; i < nb; i++) micro_body<R, T>(k, i, x0, bx, y0, by, D, acc);
    LLAMA4_UNROLL
    for (int r = 0; r < R; r++)
      LLAMA4_UNROLL
      for (int t = 0; t < T; t++) out[0][r][t] = acc[r][t];
  }
}

// ---- legacy 32-element blocks ----------------------------------------------------------------------------
// Kinds for the AVX2 vec_dot kernels (maddubs / madd integer sums).
struct Q4_0x2 {
  static constexpr bool kScaled = true, kMin = false;
  static constexpr size_t kXSize = sizeof(block_q4_0), kYSize = sizeof(block_q8_0);
  using XV = __m256i;
  struct YV { __m256i q, o; };
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return nibbles_32(((const block_q4_0*)row)[i].qs); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const {
    const __m256i q = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {q, _mm256_maddubs_epi16(_mm256_set1_epi8(8), q)};
  }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(x, y.q), y.o);
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1))), acc);
  }
};

struct Q5_0x2 {
  static constexpr bool kScaled = true, kMin = false;
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
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(x, y.q), y.o);
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1))), acc);
  }
};

struct Q4_1x2 {
  static constexpr bool kScaled = true, kMin = true;
  static constexpr size_t kXSize = sizeof(block_q4_1), kYSize = sizeof(block_q8_1);
  using XV = __m256i;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return nibbles_32(((const block_q4_1*)row)[i].qs); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_1*)row)[i].qs); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(dot_u8i8(x, y)), acc);
  }
};

struct Q5_1x2 {
  static constexpr bool kScaled = true, kMin = true;
  static constexpr size_t kXSize = sizeof(block_q5_1), kYSize = sizeof(block_q8_1);
  using XV = __m256i;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const block_q5_1& b = ((const block_q5_1*)row)[i];
    return _mm256_or_si256(nibbles_32(b.qs), _mm256_and_si256(bits_to_bytes_32(b.qh), _mm256_set1_epi8(0x10)));
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_1*)row)[i].qs); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(dot_u8i8(x, y)), acc);
  }
};

// Q8_0 / IQ4_NL: signed x; |x| is computed once per block and row, sign(y, x) per pair.
struct XSigned { __m256i a, s; };
struct Q8_0x2 {
  static constexpr bool kScaled = true, kMin = false;
  static constexpr size_t kXSize = sizeof(block_q8_0), kYSize = sizeof(block_q8_0);
  using XV = XSigned;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const __m256i x = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {_mm256_sign_epi8(x, x), x};
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(dot_u8i8(x.a, _mm256_sign_epi8(y, x.s))), acc);
  }
};

struct IQ4_NLx2 {
  static constexpr bool kScaled = true, kMin = false;
  static constexpr size_t kXSize = sizeof(block_iq4_nl), kYSize = sizeof(block_q8_0);
  using XV = XSigned;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kvalues_iq4nl));
    const __m256i x = _mm256_shuffle_epi8(table, nibbles_32(((const block_iq4_nl*)row)[i].qs));
    return {_mm256_sign_epi8(x, x), x};
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(dot_u8i8(x.a, _mm256_sign_epi8(y, x.s))), acc);
  }
};

// ---- float types: "blocks" are 8-element chunks, acc = fma(x, y, acc) --------------------------------------
struct F32x {
  static constexpr bool kScaled = false, kMin = false;
  static constexpr size_t kXSize = 32, kYSize = 32;
  using XV = __m256;
  using YV = __m256;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return _mm256_loadu_ps((const float*)row + 8 * i); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_ps((const float*)row + 8 * i); }
  LLAMA4_INLINE __m256 update(__m256 acc, XV x, YV y, const float*) const { return _mm256_fmadd_ps(x, y, acc); }
};
struct F16x {
  static constexpr bool kScaled = false, kMin = false;
  static constexpr size_t kXSize = 16, kYSize = 16;
  using XV = __m256;
  using YV = __m256;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)row + i)); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)row + i)); }
  LLAMA4_INLINE __m256 update(__m256 acc, XV x, YV y, const float*) const { return _mm256_fmadd_ps(x, y, acc); }
};
struct BF16x {
  static constexpr bool kScaled = false, kMin = false;
  static constexpr size_t kXSize = 16, kYSize = 16;
  using XV = __m256;
  using YV = __m256;
  LLAMA4_INLINE static __m256 ld(const uint8_t* row, int64_t i) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)row + i)), 16));
  }
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return ld(row, i); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return ld(row, i); }
  LLAMA4_INLINE __m256 update(__m256 acc, XV x, YV y, const float*) const { return _mm256_fmadd_ps(x, y, acc); }
};

// ---- the tile driver -------------------------------------------------------------------------------------

struct Scratch {
  std::vector<float> ys, sy, xs, mx, D, M;
};
static inline Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

template <int R, int T, typename K>
static LLAMA4_INLINE void run_micro(const K& k, int64_t nb, const uint8_t* x0, size_t bx, const uint8_t* y0, size_t by,
                             const float* D, const float* M, float* s, int64_t ss, int64_t ms = T) {
  __m256 o[4][R][T];
  if constexpr (T == 1) micro_seq<R>(k, nb, x0, bx, y0, D, o);
  else micro<R, T>(k, nb, x0, bx, y0, by, D, o);
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) {
      float v = hsum_f32x8(_mm256_add_ps(_mm256_add_ps(o[0][r][t], o[1][r][t]), _mm256_add_ps(o[2][r][t], o[3][r][t])));
      if (K::kMin) v = v + M[r * ms + t];
      s[t * ss + r] = v;
    }
}

// Scale products for a micro-tile of R rows (x scales xs[r * nb + i]) x T tokens (y scales ys[i * nt + t]):
// D[(i * R + r) * T + t] = xs * ys (one f32 rounding; T = 1: D[r * nb + i]); min terms M[r * T + t] = sum_i f32(mx * sy) in order.
// One token (decode): D[r * nb + i] = f32(x_r[i].d) * ys[i], eight blocks per f16 -> f32 conversion.
template <bool kMin>
static inline void prep_seq(int R, int64_t nb, const uint8_t* x, size_t bx, size_t xsize, const float* ys,
                            const float* sy, float* D, float* M) {
  for (int r = 0; r < R; r++) {
    const uint8_t* xr = x + (size_t)r * bx;
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
      const uint8_t* p = xr + (size_t)i * xsize;
      const __m128i h = _mm_setr_epi16((short)u16_at(p), (short)u16_at(p + xsize), (short)u16_at(p + 2 * xsize),
                                       (short)u16_at(p + 3 * xsize), (short)u16_at(p + 4 * xsize),
                                       (short)u16_at(p + 5 * xsize), (short)u16_at(p + 6 * xsize),
                                       (short)u16_at(p + 7 * xsize));
      _mm256_storeu_ps(D + r * nb + i, _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(ys + i)));
    }
    for (; i < nb; i++) D[r * nb + i] = _cvtsh_ss(u16_at(xr + (size_t)i * xsize)) * ys[i];
  }
  if (kMin) {  // block order per row; the rows' chains interleaved (add latency)
    float m[16];
    for (int r = 0; r < R; r++) m[r] = 0.0f;
    for (int64_t j = 0; j < nb; j++)
      for (int r = 0; r < R; r++) m[r] = m[r] + opaque(_cvtsh_ss(u16_at(x + (size_t)r * bx + (size_t)j * xsize + 2)) * sy[j]);
    for (int r = 0; r < R; r++) M[r] = m[r];
  }
}

template <bool kMin>
static inline void prep_tile(int R, int T, int64_t nb, int64_t nt, const float* xs, const float* mx,
                             const float* ys, const float* sy, float* D, float* M) {
  for (int64_t i = 0; i < nb; i++)
    for (int r = 0; r < R; r++) {
      const float a = xs[r * nb + i];
      if (T == 1) D[r * nb + i] = a * ys[i * nt];  // the layout of micro_seq
      else
        for (int t = 0; t < T; t++) D[(i * R + r) * T + t] = a * ys[i * nt + t];
    }
  if (kMin) {  // block order per output; the R*T independent chains interleaved (latency)
    for (int j = 0; j < R * T; j++) M[j] = 0.0f;
    for (int64_t i = 0; i < nb; i++)
      for (int r = 0; r < R; r++) {
        const float m = mx[r * nb + i];
        for (int t = 0; t < T; t++) M[r * T + t] = M[r * T + t] + opaque(m * sy[i * nt + t]);
      }
  }
}

// s[t * ss + r] for r < nr, t < nt. RB x TB is the main micro-tile; remainders use 1-row / 1-token tiles.
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
  sc.M.resize((size_t)(RB * TB));
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
  if (nt == 1) {  // decode: rows in groups of RB (then single rows), one token
    for (int64_t r0 = 0; r0 < nr;) {
      const uint8_t* xr = x + (size_t)r0 * bx;
      if (nr - r0 >= RB) {
        prep_seq<K::kMin>(RB, nb, xr, bx, K::kXSize, sc.ys.data(), sc.sy.data(), sc.D.data(), sc.M.data());
        run_micro<RB, 1>(k, nb, xr, bx, y, by, sc.D.data(), sc.M.data(), s + r0, ss);
        r0 += RB;
      } else {
        prep_seq<K::kMin>(1, nb, xr, bx, K::kXSize, sc.ys.data(), sc.sy.data(), sc.D.data(), sc.M.data());
        run_micro<1, 1>(k, nb, xr, bx, y, by, sc.D.data(), sc.M.data(), s + r0, ss);
        r0 += 1;
      }
    }
    return;
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
    // min terms of every (row, token): Mall[r * nt + t] = sum_i f32(mx * sy) in block order, 8 tokens a vector
    float* Mall = sc.M.data();  // unused unless kMin
    if (K::kMin) {
      sc.M.resize((size_t)(RB * nt));
      Mall = sc.M.data();
      for (int r = 0; r < R; r++) {
        float* m = Mall + r * nt;
        for (int64_t t = 0; t < nt; t++) m[t] = 0.0f;
        for (int64_t i = 0; i < nb; i++) {
          const float mx = sc.mx[r * nb + i];
          const __m256 mv = _mm256_set1_ps(mx);
          const float* syi = sc.sy.data() + i * nt;
          int64_t t = 0;
          for (; t + 8 <= nt; t += 8)
            _mm256_storeu_ps(m + t, _mm256_add_ps(_mm256_loadu_ps(m + t), opaque(_mm256_mul_ps(mv, _mm256_loadu_ps(syi + t)))));
          for (; t < nt; t++) m[t] = m[t] + opaque(mx * syi[t]);
        }
      }
    }
    for (int64_t t0 = 0; t0 < nt; t0 += TB) {
      const int T = (int)std::min<int64_t>(TB, nt - t0);
      const uint8_t* y0 = y + (size_t)t0 * by;
      float* so = s + t0 * ss + r0;
      const float* ys = sc.ys.data() + t0;
      if (R == RB && T == TB) {
        prep_tile<false>(RB, TB, nb, nt, sc.xs.data(), nullptr, ys, nullptr, sc.D.data(), nullptr);
        run_micro<RB, TB>(k, nb, x + (size_t)r0 * bx, bx, y0, by, sc.D.data(), Mall + t0, so, ss, nt);
      } else if (T == TB) {  // leftover rows, one at a time
        for (int r = 0; r < R; r++) {
          prep_tile<false>(1, TB, nb, nt, sc.xs.data() + r * nb, nullptr, ys, nullptr, sc.D.data(), nullptr);
          run_micro<1, TB>(k, nb, x + (size_t)(r0 + r) * bx, bx, y0, by, sc.D.data(), Mall + r * nt + t0, so + r, ss, nt);
        }
      } else {  // leftover tokens, one at a time, RB (or fewer) rows
        for (int t = 0; t < T; t++) {
          if (R == RB) {
            prep_tile<false>(RB, 1, nb, nt, sc.xs.data(), nullptr, ys + t, nullptr, sc.D.data(), nullptr);
            run_micro<RB, 1>(k, nb, x + (size_t)r0 * bx, bx, y0 + (size_t)t * by, by, sc.D.data(), Mall + t0 + t,
                             so + t * ss, ss, nt);
          } else {
            for (int r = 0; r < R; r++) {
              prep_tile<false>(1, 1, nb, nt, sc.xs.data() + r * nb, nullptr, ys + t, nullptr, sc.D.data(), nullptr);
              run_micro<1, 1>(k, nb, x + (size_t)(r0 + r) * bx, bx, y0 + (size_t)t * by, by, sc.D.data(),
                              Mall + r * nt + t0 + t, so + t * ss + r, ss, nt);
            }
          }
        }
      }
    }
  }
}

// Float types: n a multiple of 8 (the caller falls back to vec_dot otherwise: the scalar tail).
template <int RB, int TB, typename K>
void tile_floats(int64_t n, int64_t nr, int64_t nt, const void* vx, size_t bx, const void* vy, size_t by, float* s,
                 int64_t ss) {
  const K k{};
  const uint8_t* x = (const uint8_t*)vx;
  const uint8_t* y = (const uint8_t*)vy;
  const int64_t nb = n / 8;
  for (int64_t r0 = 0; r0 < nr; r0 += RB) {
    const int R = (int)std::min<int64_t>(RB, nr - r0);
    for (int64_t t0 = 0; t0 < nt; t0 += TB) {
      const int T = (int)std::min<int64_t>(TB, nt - t0);
      const uint8_t* y0 = y + (size_t)t0 * by;
      float* so = s + t0 * ss + r0;
      if (R == RB && T == TB) {
        run_micro<RB, TB>(k, nb, x + (size_t)r0 * bx, bx, y0, by, nullptr, nullptr, so, ss);
      } else if (T == TB) {
        for (int r = 0; r < R; r++)
          run_micro<1, TB>(k, nb, x + (size_t)(r0 + r) * bx, bx, y0, by, nullptr, nullptr, so + r, ss);
      } else {
        for (int t = 0; t < T; t++) {
          if (R == RB)
            run_micro<RB, 1>(k, nb, x + (size_t)r0 * bx, bx, y0 + (size_t)t * by, by, nullptr, nullptr, so + t * ss, ss);
          else
            for (int r = 0; r < R; r++)
              run_micro<1, 1>(k, nb, x + (size_t)(r0 + r) * bx, bx, y0 + (size_t)t * by, by, nullptr, nullptr,
                              so + t * ss + r, ss);
        }
      }
    }
  }
}

}  // namespace tile
}  // namespace simd
}  // namespace llama4
