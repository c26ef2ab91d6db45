// Q4_0 packed layout (ops/packed.h) and its scalar reference kernel.
//
// Layout of one group of 8 rows: the blocks in order, each 144 bytes (the same as the 8 plain blocks):
//     bytes   0..15   the 8 rows' f16 scales d (row r at 2r): one 128-bit load + cvtph = the 8 lanes' dx;
//     bytes  16..143  4 chunks c = 0..3 of 32 bytes: row r's plain qs[4c..4c+3] at 16 + 32c + 4r.
// Each plain qs byte k holds element k (low nibble) and element k + 16 (high nibble), so in chunk c the low
// nibbles of lane r's 4 bytes are elements 4c..4c+3 of row r and the high nibbles elements 16+4c..16+4c+3:
// ONE 32-byte load + mask / shift gives all 8 rows' unsigned nibbles, and a u8 x s8 quad dot product
// (vpdpbusd, or maddubs + madd) against 4 activation bytes broadcast to every lane sums row r into int32
// lane r. The -8 offset of Q4_0 is applied once per block and token: Σ (q - 8) y = Σ q y - 8 Σ y, with Σ y
// shared by all rows.
//
// Numerics (the contract of ops/packed.h): per output (row r, token t), over blocks b in order,
//     sumi = Σ_k (q_k - 8) * y_k   (exact int)
//     acc  = fma(f32(dx[r][b]) * f32(dy[t][b]) [rounded once], (float)sumi, acc)
// and the output is acc. The SIMD kernels (ops/cpu/avx2, ops/cpu/avx512) equal this bit for bit.
#include <cstddef>

#include "ops/blocks.h"
#include "ops/cpu/ops.h"
#include "ops/packed.h"
#include "ops/types.h"

namespace llama4 {

namespace {
constexpr size_t kBlockBytes = PackedQ4_0::kBlock;  // = 8 plain blocks
constexpr size_t kQsOffset = PackedQ4_0::kQs;       // after the 8 scales
}  // namespace

size_t packed_group_bytes_q4_0(int64_t n_in) { return (size_t)(n_in / QK4_0) * kBlockBytes; }

void pack_group_q4_0(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  static constexpr InterleavedLayout kLayout{
      sizeof(block_q4_0), kBlockBytes, 1, {offsetof(block_q4_0, d), 0}, {0, 0}, offsetof(block_q4_0, qs), kQsOffset, 4};
  pack_group_interleaved(kLayout, n_in / QK4_0, src, row_bytes, dst);
}

// The reference: one fp32 chain per (row, token), exactly the contract above.
LLAMA4_FMA_CLONES void mm_packed_q4_0_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx,
                                          const void* y, size_t by, float* s, int64_t ss) {
  mm_packed_ref_d(n_in / QK4_0, kBlockBytes, ng, nt, x, gx, y, by, s, ss, [](const uint8_t* xb, int r, const int8_t* yq) {
    int32_t sumi = 0;
    for (int c = 0; c < 4; c++)
      for (int k = 0; k < 4; k++) {
        const uint8_t q = xb[kQsOffset + 32 * c + 4 * r + k];
        sumi += ((q & 0x0F) - 8) * yq[4 * c + k] + ((q >> 4) - 8) * yq[16 + 4 * c + k];
      }
    return sumi;
  });
}

}  // namespace llama4
