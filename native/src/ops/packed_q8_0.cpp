// Q8_0 packed layout (ops/packed.h) and its scalar reference kernel.
//
// Layout of one group of 8 rows: the blocks in order, each 272 bytes (exactly the bytes of the 8 plain
// blocks, reordered; no side data):
//     bytes   0..15   the 8 rows' f16 scales d (row r at 2r): one 128-bit load + cvtph = the 8 lanes' dx;
//     bytes  16..271  8 chunks c = 0..7 of 32 bytes: row r's plain qs[4c..4c+3] (signed, unchanged) at
//                     16 + 32c + 4r.
// So ONE 32-byte load gives 4 elements of all 8 rows, int32 lane r = row r, and a quad dot product against
// the activation's qs[4c..4c+3] broadcast to every lane adds chunk c of each row's block sum into lane r:
//   AVX2:        maddubs(|x|, sign(y, x)) + madd(.., 1)          (the plain kernels' sign trick)
//   AVX-512 VNNI: vpdpbusd(x ^ 0x80, y) = Σ (x + 128) y, the 128 Σ y (one value per activation block,
//                shared by all rows) removed by starting the block's integer sum at -128 Σ y.
// The weight bytes stay signed (as in the file) so that neither ISA pays for the other's trick on every
// token: the xor / abs is per weight chunk, reused by all the tokens of a micro-tile.
//
// Numerics (the contract of ops/packed.h): per output (row r, token t), over blocks b in order,
//     sumi = Σ_k x[r][b][k] * y[t][b][k]   (exact int)
//     acc  = fma(f32(dx[r][b]) * f32(dy[t][b]) [rounded once], (float)sumi, acc)
// and the output is acc. The SIMD kernels (ops/cpu/avx2, ops/cpu/avx512) equal this bit for bit.
#include <cstddef>

#include "ops/blocks.h"
#include "ops/cpu/ops.h"
#include "ops/packed.h"
#include "ops/types.h"

namespace llama4 {

namespace {
constexpr size_t kBlockBytes = PackedQ8_0::kBlock;  // 272
constexpr size_t kQsOffset = PackedQ8_0::kQs;       // after the 8 scales
}  // namespace

size_t packed_group_bytes_q8_0(int64_t n_in) { return (size_t)(n_in / QK8_0) * kBlockBytes; }

void pack_group_q8_0(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  static constexpr InterleavedLayout kLayout{
      sizeof(block_q8_0), kBlockBytes, 1, {offsetof(block_q8_0, d), 0}, {0, 0}, offsetof(block_q8_0, qs), kQsOffset, 8};
  pack_group_interleaved(kLayout, n_in / QK8_0, src, row_bytes, dst);
}

// The reference: one fp32 chain per (row, token), exactly the contract above.
LLAMA4_FMA_CLONES void mm_packed_q8_0_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx,
                                          const void* y, size_t by, float* s, int64_t ss) {
  mm_packed_ref_d(n_in / QK8_0, kBlockBytes, ng, nt, x, gx, y, by, s, ss, [](const uint8_t* xb, int r, const int8_t* yq) {
    int32_t sumi = 0;
    for (int c = 0; c < 8; c++)
      for (int k = 0; k < 4; k++) sumi += (int32_t)(int8_t)xb[kQsOffset + 32 * c + 4 * r + k] * yq[4 * c + k];
    return sumi;
  });
}

}  // namespace llama4
