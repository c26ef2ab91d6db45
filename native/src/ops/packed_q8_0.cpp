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
// Numerics: NOT the one-chain-per-output order of ops/packed.h, but the plain kernels' order, which is
// llama.cpp's (ggml-cpu's AVX2 build has no repacked Q8_0; its batches go through tinyBLAS_Q0, whose order is
// vec_dot's too): per output (row r, token t), over blocks b in order,
//     d      = f32(dx[r][b]) * f32(dy[t][b])                          (rounded once)
//     l[c]   = Σ_{k<4} x[r][b][4c + k] * y[t][b][4c + k]   c = 0..7  (exact int: chunk c's quad)
//     acc[c] = fma(d, (float)l[c], acc[c])                           (8 chains)
// and the output is ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])), exactly
// vec_dot_q8_0_q8_0's 8 lanes and hsum. So a packed output equals the plain kernels' (and llama.cpp's) bit
// for bit: SmolLM2's tied Q8_0 output and Q8_0 models match llama.cpp exactly. The contract's other
// properties hold: every ISA's kernel (ops/cpu/avx2, ops/cpu/avx512) equals this reference bit for bit, and
// an output never depends on how many rows, tokens or threads a call has.
#include <cmath>
#include <cstddef>
#include <cstring>

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

// The reference: vec_dot_q8_0's order (above) per (row, token), on the packed bytes.
LLAMA4_FMA_CLONES void mm_packed_q8_0_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx,
                                          const void* y, size_t by, float* s, int64_t ss) {
  const int64_t nb = n_in / QK8_0;
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t* xg = (const uint8_t*)x + (size_t)g * gx;
    for (int64_t t = 0; t < nt; t++) {
      const block_q8_0* yt = (const block_q8_0*)((const uint8_t*)y + (size_t)t * by);
      for (int r = 0; r < kPackRows; r++) {
        float acc[8] = {};
        for (int64_t b = 0; b < nb; b++) {
          const uint8_t* xb = xg + (size_t)b * kBlockBytes;
          uint16_t h;
          std::memcpy(&h, xb + 2 * r, 2);
          const float d = fp16_to_fp32(h) * fp16_to_fp32(yt[b].d);
          for (int c = 0; c < 8; c++) {
            int32_t l = 0;
            for (int k = 0; k < 4; k++) l += (int32_t)(int8_t)xb[kQsOffset + 32 * c + 4 * r + k] * yt[b].qs[4 * c + k];
            acc[c] = std::fma(d, (float)l, acc[c]);
          }
        }
        s[t * ss + g * kPackRows + r] = hsum_chains8(acc);
      }
    }
  }
}

}  // namespace llama4
