// Packed ("repacked") weight layouts for the CPU backend. A matrix's rows are taken in groups of
// kPackRows = 8; each group is stored block by block with the 8 rows' data interleaved, so that one SIMD
// lane (or one int32 lane) holds one OUTPUT ROW: the integer sums of a block come out per row with no
// horizontal reduction, the 8 rows' scales are one vector load, and the group is one linear memory stream.
// Rows past the last whole group (n_out % 8) are not packed; matmul computes them from the plain rows.
//
// Numerics contract (every packed kernel, every ISA, and its scalar reference in ops/packed_<type>.cpp):
// each output (row r, token t) is ONE fp32 chain over the blocks in order, e.g. for Q4_0
//     acc = fma(f32(dx[r][b]) * f32(dy[t][b]), (float)sumi[r][t][b], acc)        (the product rounded once)
// where sumi is the EXACT integer dot product of the block. So every ISA's kernel is bit-identical to the
// scalar reference, and an output never depends on how many rows or tokens a call computes (decode = one
// token, prompt = many: the same bits), which the batched verify pass of exact self-speculative decoding
// and mixed-path depth batches rely on. The order differs from the plain vec_dot kernels (llama.cpp's
// haswell order), so packed and plain results agree within float rounding, not bit for bit.
// Exceptions: Q4_1, Q8_0 and Q6_K keep the plain kernels' (llama.cpp's) order — 8 lane chains per block (plus
// Q4_1's min chain) — so their packed results EQUAL the plain ones and llama.cpp's, whose AVX2 build repacks
// none of them: on SmolLM2-135M Q4_1 (large activation outliers, a tied Q8_0 output) any other rounding order
// moved logits by up to ~1 against llama.cpp's, and with an F16 KV cache a one-ulp difference in a Q6_K layer
// grew to 8e-2 on a tiny Q6_K llama (see packed_q4_1.cpp, packed_q8_0.cpp, packed_q6_k.cpp).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ops/blocks.h"
#include "ops/types.h"
#include "runtime/memory.h"

namespace llama4 {

constexpr int kPackRows = 8;

// Bytes of one packed group of kPackRows rows of n_in elements.
using PackedGroupBytesFn = size_t (*)(int64_t n_in);
// Packs rows [8g, 8g + 8) of a plain matrix (rows row_bytes apart) into dst (group_bytes(n_in) bytes).
using PackGroupFn = void (*)(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst);
// s[t * ss + 8 * g + j] = dot(row 8g + j, activation row t) for g < ng groups, j < 8, t < nt.
// x: first packed group, gx bytes apart; y: activation rows already converted to the type's vec_dot_type,
// by bytes apart.
using PackedMatmulFn = void (*)(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y,
                                size_t by, float* s, int64_t ss);

// One row per type that has a packed layout (the layout is ISA-independent; kernels are per ISA in the
// CpuKernels tables, with the scalar reference in the generic table).
struct PackedFormat {
  PackedGroupBytesFn group_bytes = nullptr;
  PackGroupFn pack_group = nullptr;
};
// nullptr when the type has no packed layout.
const PackedFormat* packed_format(GgmlType t);

// An owned, 64-byte aligned packed copy of a matrix, or of a stack of n_slab matrices (experts): slab e's
// groups start at data() + e * (n_out / 8) * group_bytes.
struct PackedWeights {
  WeightBuffer mem;
  size_t group_bytes = 0;
  size_t bytes = 0;
  const uint8_t* data() const { return mem.get(); }
};
// Packs the whole groups of every slab (rows row_bytes apart, slabs n_out rows apart). Returns an empty
// PackedWeights (data() == nullptr) when the type has no packed layout or n_out < 8. Throws on overflow
// or when the memory cannot be allocated.
PackedWeights pack_weights(GgmlType t, int64_t n_in, int64_t n_out, int64_t n_slab, const uint8_t* data,
                           size_t row_bytes);

// Byte offsets inside one packed block (block b of the group's 8 rows), one struct per type, used by its
// packer, its scalar reference and its SIMD kernels; each layout is documented in ops/packed_<type>.cpp.
struct PackedQ4_0 { static constexpr size_t kBlock = 144, kQs = 16; };
struct PackedQ4_1 { static constexpr size_t kBlock = 160, kM = 16, kQs = 32; };
struct PackedQ8_0 { static constexpr size_t kBlock = 272, kQs = 16; };
struct PackedQ4_K { static constexpr size_t kBlock = 1152, kDmin = 16, kScales = 32, kQs = 128; };
struct PackedQ6_K { static constexpr size_t kBlock = 1680, kScales = 1536, kD = 1664; };
// every packed block holds exactly the bytes of the 8 plain blocks
static_assert(PackedQ4_0::kBlock == kPackRows * sizeof(block_q4_0) && PackedQ4_1::kBlock == kPackRows * sizeof(block_q4_1) &&
                  PackedQ8_0::kBlock == kPackRows * sizeof(block_q8_0) && PackedQ4_K::kBlock == kPackRows * sizeof(block_q4_K) &&
                  PackedQ6_K::kBlock == kPackRows * sizeof(block_q6_K),
              "packed block sizes");

// The block layout Q4_0, Q4_1 and Q8_0 share: each f16 field of the plain block (d, and m for Q4_1) as the 8
// rows' values side by side (row r at dst + 2r), then the quants as 4-byte chunks, chunk c of row r at
// qs_dst + 32c + 4r. pack_group_interleaved packs nb such blocks of 8 rows (rows row_bytes apart).
struct InterleavedLayout {
  size_t src_block, dst_block;  // bytes of one plain block, of one packed block (= 8 plain ones)
  int n_f16;                    // f16 fields per block (1 or 2)
  size_t f16_src[2], f16_dst[2];
  size_t qs_src, qs_dst;
  int qs_chunks;  // 4-byte chunks of quants per plain block
};
void pack_group_interleaved(const InterleavedLayout& l, int64_t nb, const uint8_t* src, size_t row_bytes,
                            uint8_t* dst);

// The kernels' tiles take a compile-time token count T; with_tail<T>(n, f) calls f(std::integral_constant<int, n>)
// for the 1 <= n < T tokens left after the whole tiles.
template <int T, class F>
inline void with_tail(int64_t n, F&& f) {
  if constexpr (T > 1) {
    if (n == T - 1)
      f(std::integral_constant<int, T - 1>{});
    else
      with_tail<T - 1>(n, f);
  }
}

// The end of llama.cpp's 8 lane chains per output (the Q4_1 / Q8_0 references): hsum_float_8's order.
inline float hsum_chains8(const float* acc) {
  const float t0 = acc[0] + acc[4], t1 = acc[1] + acc[5], t2 = acc[2] + acc[6], t3 = acc[3] + acc[7];
  return (t0 + t2) + (t1 + t3);
}

// The scalar reference of the layouts with one f16 scale per block against Q8_0 activations (Q4_0):
// per (row r, token t) one fp32 chain over the blocks, acc = fma(f32(dx[r][b]) * f32(dy[t][b]), (float)sumi,
// acc), where sumi(xb, r, yqs) is the type's exact integer dot of row r's block (xb: the packed block, its 8
// f16 scales first) with the activation block's quants.
template <typename SumI>
void mm_packed_ref_d(int64_t nb, size_t block_bytes, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y,
                     size_t by, float* s, int64_t ss, SumI sumi) {
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t* xg = (const uint8_t*)x + (size_t)g * gx;
    for (int64_t t = 0; t < nt; t++) {
      const block_q8_0* yt = (const block_q8_0*)((const uint8_t*)y + (size_t)t * by);
      float acc[kPackRows] = {};
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t* xb = xg + (size_t)b * block_bytes;
        const float dy = fp16_to_fp32(yt[b].d);
        for (int r = 0; r < kPackRows; r++) {
          const int32_t si = sumi(xb, r, yt[b].qs);
          uint16_t h;
          std::memcpy(&h, xb + 2 * r, 2);
          const float d = fp16_to_fp32(h) * dy;
          acc[r] = std::fma(d, (float)si, acc[r]);
        }
      }
      for (int r = 0; r < kPackRows; r++) s[t * ss + g * kPackRows + r] = acc[r];
    }
  }
}

// Per-type layouts (ops/packed_<type>.cpp).
size_t packed_group_bytes_q4_0(int64_t n_in);
void pack_group_q4_0(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst);
void mm_packed_q4_0_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss);
size_t packed_group_bytes_q4_1(int64_t n_in);
void pack_group_q4_1(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst);
void mm_packed_q4_1_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss);
size_t packed_group_bytes_q4_k(int64_t n_in);
void pack_group_q4_k(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst);
void mm_packed_q4_k_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss);
size_t packed_group_bytes_q6_k(int64_t n_in);
void pack_group_q6_k(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst);
void mm_packed_q6_k_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss);
size_t packed_group_bytes_q8_0(int64_t n_in);
void pack_group_q8_0(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst);
void mm_packed_q8_0_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx, const void* y, size_t by, float* s, int64_t ss);

}  // namespace llama4
