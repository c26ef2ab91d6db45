// Q4_1 packed layout (ops/packed.h) and its scalar reference kernel.
//
// Layout of one group of 8 rows: the 32-element blocks in order, each 160 bytes (exactly the 8 plain
// blocks' 8 x 20 bytes, so decode streams no more bytes than the plain rows):
//     bytes   0..15   the 8 rows' f16 d (row r at 2r):      one 128-bit load + cvtph = the 8 lanes' dx;
//     bytes  16..31   the 8 rows' f16 m (row r at 16 + 2r): the same for the 8 lanes' mins;
//     bytes  32..159  4 chunks c = 0..3 of 32 bytes: row r's plain qs[4c..4c+3] at 32 + 32c + 4r.
// Each plain qs byte k holds element k (low nibble) and element k + 16 (high nibble), so in chunk c the low
// nibbles of lane r's 4 bytes are elements 4c..4c+3 of row r and the high nibbles elements 16+4c..16+4c+3:
// ONE 32-byte load + mask / shift gives all 8 rows' unsigned nibbles (value = d * q + m, q in 0..15), and a
// u8 x s8 quad dot product (vpdpbusd, or maddubs + madd) against 4 activation bytes broadcast to every lane
// gives, in int32 lane r, row r's sum over those 4 elements.
//
// Numerics: NOT the one-chain-per-output order of ops/packed.h, but the plain kernels' order, which is
// llama.cpp's (ggml-cpu has no repacked Q4_1, so its Q4_1 results come from ggml_vec_dot_q4_1_q8_1): per
// output (row r, token t), over blocks b in order,
//     d       = f32(dx[r][b]) * f32(dy[t][b])                         (rounded once)
//     l[j]    = Σ_{k<4} q[4j + k] * y[4j + k]      for j = 0..7       (exact int: 8 element quads)
//     acc[j]  = fma(d, (float)l[j], acc[j])                           (8 chains)
//     summs   = fma(f32(mx[r][b]), f32(sy[t][b]), summs)               (sy = block_q8_1's s)
// and the output is ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + summs,
// exactly vec_dot_q4_1_q8_1's 8 vector lanes, hsum and min sum. Why: on SmolLM2-135M Q4_1 (the model users
// bring first) any other rounding order, even an exact (double) dot product, moves its logits by up to ~1 from
// llama.cpp's (the model amplifies rounding differences that much) and the greedy tokens diverge (at token 15
// of the smollm2-135m-q4_1 golden with the one-chain order). In this order a packed output equals the plain
// kernels' bit for bit, on every ISA, so the goldens hold. It keeps the contract's other properties: every
// ISA's kernel (ops/cpu/avx2, ops/cpu/avx512) equals this scalar reference bit for bit, and an output never
// depends on how many rows, tokens or threads a call has. The quads of a block are chunk c's low nibbles
// (l[c]) and high nibbles (l[4 + c]): one quad dot product per chunk half and token, no extra shuffles.
#include <cmath>
#include <cstddef>
#include <cstring>

#include "ops/blocks.h"
#include "ops/cpu/ops.h"
#include "ops/packed.h"
#include "ops/types.h"

namespace llama4 {

namespace {
constexpr size_t kBlockBytes = PackedQ4_1::kBlock;  // 160
constexpr size_t kMOffset = PackedQ4_1::kM;         // 16: after the 8 d
constexpr size_t kQsOffset = PackedQ4_1::kQs;       // 32: after the 8 d and the 8 m
static_assert(kQsOffset + kPackRows * QK4_1 / 2 == kBlockBytes, "Q4_1 packed block size");
}  // namespace

size_t packed_group_bytes_q4_1(int64_t n_in) { return (size_t)(n_in / QK4_1) * kBlockBytes; }

void pack_group_q4_1(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  static constexpr InterleavedLayout kLayout{sizeof(block_q4_1),
                                             kBlockBytes,
                                             2,
                                             {offsetof(block_q4_1, d), offsetof(block_q4_1, m)},
                                             {0, kMOffset},
                                             offsetof(block_q4_1, qs),
                                             kQsOffset,
                                             4};
  pack_group_interleaved(kLayout, n_in / QK4_1, src, row_bytes, dst);
}

// The reference: vec_dot_q4_1's order (above) per (row, token), on the packed bytes.
LLAMA4_FMA_CLONES void mm_packed_q4_1_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx,
                                          const void* y, size_t by, float* s, int64_t ss) {
  const int64_t nb = n_in / QK4_1;
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t* xg = (const uint8_t*)x + (size_t)g * gx;
    for (int64_t t = 0; t < nt; t++) {
      const block_q8_1* yt = (const block_q8_1*)((const uint8_t*)y + (size_t)t * by);
      for (int r = 0; r < kPackRows; r++) {
        float acc[8] = {}, summs = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
          const uint8_t* xb = xg + (size_t)b * kBlockBytes;
          uint16_t hd, hm;
          std::memcpy(&hd, xb + 2 * r, 2);
          std::memcpy(&hm, xb + kMOffset + 2 * r, 2);
          const float d = fp16_to_fp32(hd) * fp16_to_fp32(yt[b].d);
          summs = std::fma(fp16_to_fp32(hm), fp16_to_fp32(yt[b].s), summs);
          for (int c = 0; c < 4; c++) {
            int32_t lo = 0, hi = 0;  // quads c (elements 4c..4c+3) and 4 + c (16+4c..16+4c+3)
            for (int k = 0; k < 4; k++) {
              const uint8_t q = xb[kQsOffset + 32 * c + 4 * r + k];
              lo += (q & 0x0F) * yt[b].qs[4 * c + k];
              hi += (q >> 4) * yt[b].qs[16 + 4 * c + k];
            }
            acc[c] = std::fma(d, (float)lo, acc[c]);
            acc[4 + c] = std::fma(d, (float)hi, acc[4 + c]);
          }
        }
        s[t * ss + g * kPackRows + r] = hsum_chains8(acc) + summs;
      }
    }
  }
}

}  // namespace llama4
