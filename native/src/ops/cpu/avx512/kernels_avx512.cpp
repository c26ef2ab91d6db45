// AVX-512 (F/BW/VL/DQ/VNNI) kernels (compiled with those flags only; called only after a CPU feature check).
// The table starts as the AVX2 one; these override the kernels where VNNI (vpdpbusd: u8*s8 quads summed
// into i32 without saturation; vpdpwssd: i16 pairs) or 512-bit integer vectors are faster. Results are
// BIT-IDENTICAL to the AVX2 and generic kernels (llama.cpp's AVX2 order): the integer lane sums are exact and
// equal to the AVX2 kernels' 8 lanes (512-bit integer sums are folded to those 8 lanes: lane k + lane k + 8),
// and every float operation is the AVX2 kernel's (256-bit).
// GCC 12 warns about its own _mm512_undefined_*() placeholders inside the intrinsics (false positives).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "ops/blocks.h"
#include "ops/cpu/avx2/float_tile_x86.h"
#include "ops/cpu/avx2/matvec_avx2.h"
#include "ops/cpu/avx2/simd_avx2.h"
#include "ops/cpu/avx2/tile_avx2.h"
#include "ops/cpu/kernels.h"

namespace llama4 {
namespace avx512 {

using namespace simd;

namespace {

// Σ x*y over 32 signed byte pairs (|x|, |y| <= 127 or x = -128 with |y| <= 127): 8 partial i32 sums.
inline __m256i vnni_i8i8(__m256i x, __m256i y) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

// 16 i32 lanes (lane k + 8 = the same bytes of the next 32-byte group) -> the AVX2 kernels' 8 lanes
inline __m256i fold_i32x16(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

}  // namespace

// ---- legacy 32-element blocks (256-bit VNNI) -------------------------------------------------------------

void vec_dot_q4_0_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_0* x = (const block_q4_0*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  const __m256i eight = _mm256_set1_epi8(8);
  *s = hsum_f32x8(blocks1_scaled(n / QK4_0, x, y, [&](int64_t i) {
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    // Σ (nib - 8) * y = Σ nib*y - Σ 8*y
    const __m256i o = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), eight, qy));
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(o, nibbles_32(x[i].qs), qy));
  }));
}

void vec_dot_q4_1_q8_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_1* x = (const block_q4_1*)vx;
  const block_q8_1* y = (const block_q8_1*)vy;
  __m256 acc = _mm256_setzero_ps();
  __m128 summs = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK4_1; i++) {
    const __m256 d = scale_and_min(&x[i].d, &y[i].d, summs);
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    const __m256i sumi = _mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles_32(x[i].qs), qy);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
  }
  *s = hsum_f32x8(acc) + _mm_cvtss_f32(summs);
}

void vec_dot_q5_0_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_0* x = (const block_q5_0*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  const __m256i b4 = _mm256_set1_epi8(0x10);
  *s = hsum_f32x8(blocks1_scaled(n / QK5_0, x, y, [&](int64_t i) {
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), _mm256_and_si256(bits_to_bytes_32(x[i].qh), b4));
    const __m256i o = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), b4, qy));
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(o, qx, qy));
  }));
}

void vec_dot_q5_1_q8_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_1* x = (const block_q5_1*)vx;
  const block_q8_1* y = (const block_q8_1*)vy;
  const __m256i b4 = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  __m128 summs = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK5_1; i++) {
    const __m256 d = scale_and_min(&x[i].d, &y[i].d, summs);
    const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), _mm256_and_si256(bits_to_bytes_32(x[i].qh), b4));
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), qx, qy)), acc);
  }
  *s = hsum_f32x8(acc) + _mm_cvtss_f32(summs);
}

void vec_dot_q8_0_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q8_0* x = (const block_q8_0*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  *s = hsum_f32x8(blocks1_scaled(n / QK8_0, x, y, [&](int64_t i) {
    const __m256i qx = _mm256_loadu_si256((const __m256i*)x[i].qs);
    const __m256i qy = _mm256_loadu_si256((const __m256i*)y[i].qs);
    return _mm256_cvtepi32_ps(vnni_i8i8(qx, qy));
  }));
}

void vec_dot_iq4_nl_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_nl* x = (const block_iq4_nl*)vx;
  const block_q8_0* y = (const block_q8_0*)vy;
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kvalues_iq4nl));
  *s = pairs_then_scalar(n / QK4_NL, x, y, [&](int64_t i) {
    const __m256i qx = _mm256_shuffle_epi8(table, nibbles_32(x[i].qs));
    return vnni_i8i8(qx, _mm256_loadu_si256((const __m256i*)y[i].qs));
  });
}

// ---- K-quants: 512-bit vectors of 64 elements, scales applied with vpdpwssd -------------------------------

namespace {

// Index vectors for _mm512_permutexvar_epi16: lane l -> base + l / per (scale of the group owning the lane).
inline __m512i group_index(int base, int per) {
  alignas(64) int16_t idx[32];
  for (int l = 0; l < 32; l++) idx[l] = (int16_t)(base + l / per);
  return _mm512_load_si512(idx);
}

}  // namespace

// (Q4_K / Q5_K: 512-bit versions measured no faster than the AVX2 kernels on EPYC Zen 4 (0.95-0.98x), which
// this table inherits.)

void vec_dot_q6_k_q8_k(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q6_K* x = (const block_q6_K*)vx;
  const block_q8_K* y = (const block_q8_K*)vy;
  const int64_t nb = n / QK_K;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m2 = _mm512_set1_epi8(0x30);
  // 64-element chunk c (of four) covers 16-groups 4c..4c+3: lane l -> group 4c + l/8
  const __m512i gi[4] = {group_index(0, 8), group_index(4, 8), group_index(8, 8), group_index(12, 8)};
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i++) {
    const float d = y[i].d * h2f(x[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)x[i].scales));
    const __m256i bsums = _mm256_loadu_si256((const __m256i*)y[i].bsums);
    // value = q6 - 32: the -32 part is -32 * Σ_g sc_g * bsum_g (8 lanes, widened into the 16-lane sum)
    const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5);
    __m512i sumi0 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(corr));
    sumi0 = _mm512_maskz_mov_epi32(0x00FF, sumi0);
    __m512i sumi1 = _mm512_setzero_si512();
    const __m512i sc = _mm512_zextsi256_si512(sc16);
    for (int h = 0; h < 2; h++) {
      const __m512i l = _mm512_loadu_si512(x[i].ql + 64 * h);  // [l0 | l1]
      const __m256i hb = _mm256_loadu_si256((const __m256i*)(x[i].qh + 32 * h));
      // elements 0..63 of this half: low nibbles of [l0|l1], high bits (hb<<4 | hb<<2) & 0x30
      const __m512i hA = _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_slli_epi16(hb, 4)), _mm256_slli_epi16(hb, 2), 1);
      // elements 64..127: high nibbles, high bits (hb | hb>>2) & 0x30
      const __m512i hB = _mm512_inserti64x4(_mm512_zextsi256_si512(hb), _mm256_srli_epi16(hb, 2), 1);
      const __m512i qa = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_and_si512(hA, m2));
      const __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_and_si512(hB, m2));
      const __m512i pa = _mm512_maddubs_epi16(qa, _mm512_loadu_si512(y[i].qs + 128 * h));
      const __m512i pb = _mm512_maddubs_epi16(qb, _mm512_loadu_si512(y[i].qs + 128 * h + 64));
      sumi0 = _mm512_dpwssd_epi32(sumi0, _mm512_permutexvar_epi16(gi[2 * h], sc), pa);
      sumi1 = _mm512_dpwssd_epi32(sumi1, _mm512_permutexvar_epi16(gi[2 * h + 1], sc), pb);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold_i32x16(_mm512_add_epi32(sumi0, sumi1))), acc);
  }
  *s = hsum_f32x8(acc);
}

// ---- tiled matmul: the same micro-kernels as AVX2 (tile_avx2.h) with VNNI integer sums ------------------
// Lane j of every integer sum is the exact sum of bytes 4j..4j+3, as in the kernels above; signed x uses
// (x + 128) as u8 and subtracts 128 * sum(y) (per activation block, shared by all rows) in the accumulator.

namespace {

namespace tl = simd::tile;

// offset-corrected u8 x s8: dpbusd(-(c * sum4 y), xu, y)
inline __m256i neg_dpbusd_const(__m256i q, char c) {
  return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(c), q));
}

struct Q4_0v {
  static constexpr bool kScaled = true, kMin = false, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q4_0), kYSize = sizeof(block_q8_0);
  using XV = __m256i;
  struct YV { __m256i q, o; };
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return nibbles_32(((const block_q4_0*)row)[i].qs); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const {
    const __m256i q = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {q, neg_dpbusd_const(q, 8)};
  }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return _mm256_dpbusd_epi32(y.o, x, y.q); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};
struct Q5_0v {
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
    return {q, neg_dpbusd_const(q, 16)};
  }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return _mm256_dpbusd_epi32(y.o, x, y.q); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};
struct Q4_1v {
  static constexpr bool kScaled = true, kMin = true, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q4_1), kYSize = sizeof(block_q8_1);
  using XV = __m256i;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const { return nibbles_32(((const block_q4_1*)row)[i].qs); }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_1*)row)[i].qs); }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};
struct Q5_1v {
  static constexpr bool kScaled = true, kMin = true, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q5_1), kYSize = sizeof(block_q8_1);
  using XV = __m256i;
  using YV = __m256i;
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const block_q5_1& b = ((const block_q5_1*)row)[i];
    return _mm256_or_si256(nibbles_32(b.qs), _mm256_and_si256(bits_to_bytes_32(b.qh), _mm256_set1_epi8(0x10)));
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const { return _mm256_loadu_si256((const __m256i*)((const block_q8_1*)row)[i].qs); }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};
// signed x: xu = x ^ 0x80 = x + 128 as u8
struct Q8_0v {
  static constexpr bool kScaled = true, kMin = false, kPairs = false;
  static constexpr size_t kXSize = sizeof(block_q8_0), kYSize = sizeof(block_q8_0);
  using XV = __m256i;
  struct YV { __m256i q, o; };
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs), _mm256_set1_epi8((char)0x80));
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const {
    const __m256i q = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {q, neg_dpbusd_const(q, (char)0x80)};
  }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return _mm256_dpbusd_epi32(y.o, x, y.q); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};
struct IQ4_NLv {
  static constexpr bool kScaled = true, kMin = false, kPairs = true;
  static constexpr size_t kXSize = sizeof(block_iq4_nl), kYSize = sizeof(block_q8_0);
  using XV = __m256i;
  struct YV { __m256i q, o; };
  LLAMA4_INLINE XV px(const uint8_t* row, int64_t i) const {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kvalues_iq4nl));
    const __m256i v = _mm256_shuffle_epi8(table, nibbles_32(((const block_iq4_nl*)row)[i].qs));
    return _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80));
  }
  LLAMA4_INLINE YV py(const uint8_t* row, int64_t i) const {
    const __m256i q = _mm256_loadu_si256((const __m256i*)((const block_q8_0*)row)[i].qs);
    return {q, neg_dpbusd_const(q, (char)0x80)};
  }
  LLAMA4_INLINE __m256i lanes(const XV& x, const YV& y) const { return _mm256_dpbusd_epi32(y.o, x, y.q); }
  LLAMA4_INLINE __m256 update(__m256 acc, const XV& x, const YV& y, const float* d) const {
    return _mm256_fmadd_ps(_mm256_broadcast_ss(d), _mm256_cvtepi32_ps(lanes(x, y)), acc);
  }
};

// Decode (one token): the multi-row mat-vec of matvec_avx2.h, up to 6 rows interleaved. Prompts:
// 4 rows x 4 tokens per micro-kernel (32 vector registers); 2-3 tokens: 4 rows x 1 token.
template <typename K, VecDotFn kDot>
void mm_tile_blocks(int64_t n, int64_t nr, int64_t nt, const void* x, size_t bx, const void* y, size_t by, float* s,
                    int64_t ss) {
  if (nt >= 4) tl::tile_blocks<4, 4, K>(n, nr, nt, x, bx, y, by, s, ss);
  else if (nt >= 2) tl::tile_blocks<4, 1, K>(n, nr, nt, x, bx, y, by, s, ss);
  else
    mv::matvec<K, 6>(n, nr, x, bx, y, s);
}

}  // namespace

}  // namespace avx512

namespace avx512 { void mm_packed_q4_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx512 { void mm_packed_q4_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx512 { void mm_packed_q6_k(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx512 { void mm_packed_q8_0(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
namespace avx512 { void mm_packed_q4_1(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss); }
void init_avx512_kernels(CpuKernels& k) {
  using T = GgmlType;
  k.vec_dot[(int)T::Q4_0] = avx512::vec_dot_q4_0_q8_0;
  k.vec_dot[(int)T::Q4_1] = avx512::vec_dot_q4_1_q8_1;
  k.vec_dot[(int)T::Q5_0] = avx512::vec_dot_q5_0_q8_0;
  k.vec_dot[(int)T::Q5_1] = avx512::vec_dot_q5_1_q8_1;
  k.vec_dot[(int)T::Q8_0] = avx512::vec_dot_q8_0_q8_0;
  k.vec_dot[(int)T::IQ4_NL] = avx512::vec_dot_iq4_nl_q8_0;
  k.vec_dot[(int)T::Q6_K] = avx512::vec_dot_q6_k_q8_k;
  // (every level's kernels are bit-identical, so inherited AVX2 tiles stay valid)
  k.mm_tile[(int)T::Q4_0] = avx512::mm_tile_blocks<avx512::Q4_0v, avx512::vec_dot_q4_0_q8_0>;
  k.mm_tile[(int)T::Q4_1] = avx512::mm_tile_blocks<avx512::Q4_1v, avx512::vec_dot_q4_1_q8_1>;
  k.mm_tile[(int)T::Q5_0] = avx512::mm_tile_blocks<avx512::Q5_0v, avx512::vec_dot_q5_0_q8_0>;
  k.mm_tile[(int)T::Q5_1] = avx512::mm_tile_blocks<avx512::Q5_1v, avx512::vec_dot_q5_1_q8_1>;
  k.mm_tile[(int)T::Q8_0] = avx512::mm_tile_blocks<avx512::Q8_0v, avx512::vec_dot_q8_0_q8_0>;
  k.mm_tile[(int)T::IQ4_NL] = avx512::mm_tile_blocks<avx512::IQ4_NLv, avx512::vec_dot_iq4_nl_q8_0>;
  // the same 8-lane chains with AVX-512VL's 32 ymm registers: 4 rows x 6 tokens (24 accumulators)
  k.mm_tinyblas[(int)T::F32] = simd::ftile::mm_tinyblas<float, 6>;
  k.mm_tinyblas[(int)T::F16] = simd::ftile::mm_tinyblas<uint16_t, 6>;
  k.mm_tinyblas[(int)T::BF16] = simd::ftile::mm_tinyblas<uint16_t, 6, true>;
  k.mm_packed[(int)T::Q8_0] = avx512::mm_packed_q8_0;
  k.mm_packed[(int)T::Q6_K] = avx512::mm_packed_q6_k;
  k.mm_packed[(int)T::Q4_0] = avx512::mm_packed_q4_0;
  k.mm_packed[(int)T::Q4_K] = avx512::mm_packed_q4_k;
  k.mm_packed[(int)T::Q4_1] = avx512::mm_packed_q4_1;
}

}  // namespace llama4
