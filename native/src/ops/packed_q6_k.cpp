// Q6_K packed layout (8 rows interleaved) and its scalar reference kernel.
//
// A group of kPackRows = 8 rows is stored block by block (QK_K = 256 elements, the rows' blocks i side by side),
// each packed block taking exactly 8 * sizeof(block_q6_K) = 1680 bytes (no expansion: decode is memory-bound):
//
//   [0, 1536)     quants: 16 sub-blocks j (16 elements each, the scale's span) x 3 vectors c x 32 bytes. In
//                 vector (j, c) bytes 4r..4r+3 belong to row r (one int32 lane = one row) and byte 4r + i holds
//                   bits 0-5: q of element 16j + 4c + i   (q = the unsigned 6-bit value, 0..63)
//                   bits 6-7: bits 2c, 2c+1 of q of element 16j + 12 + i
//                 so elements 16j..16j+11 are one AND away (& 0x3F) and 16j+12..16j+15 are assembled from the
//                 three top-bit pairs; each vector / assembled vector is one dpbusd / maddubs operand whose 4
//                 bytes per lane are 4 consecutive elements of that row (activations: one broadcast int32).
//   [1536, 1664)  scales: 8 pairs p x 8 rows x 2 int8: byte 16p + 2r + h = scale 2p + h of row r, so that one
//                 sign extension to int16 gives lane r = (scale 2p, scale 2p+1) (madd pairs); each sub-block's
//                 scale per lane is one shuffle (both i16 halves, for madd) or shift (int32, for mullo) from there.
//   [1664, 1680)  d: 8 x f16, row r at 2r.
//
// Numerics: llama.cpp's vec_dot_q6_K_q8_K (its AVX2 build does not repack Q6_K), so packed = plain = llama.cpp
// bit for bit. Per output, 8 fp32 lane chains k = 4h + c over the blocks b in order:
//   L_k  = Σ_{p<8} sc_{2p+h} * Σ_{i<4} q[16(2p+h) + 4c + i] * y[same]             (elements e with (e % 32) / 4 = k)
//          - 32 * (sc_2k * bsums[2k] + sc_2k+1 * bsums[2k+1])                       (exact int32)
//   acc_k = fma(f32(d) * y.d [rounded once], (float)L_k, acc_k)
// and the output is hsum_chains8(acc) (hsum_float_8). The value is q - 32; the -32 part is folded in through
// the activation's bsums (sums of 16 y's), paired as llama.cpp's madd of bsums with the scales. In the layout
// above, chain k = 4h + c is vector c of the sub-blocks j = 2p + h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/blocks.h"
#include "ops/cpu/ops.h"
#include "ops/packed.h"
#include "ops/types.h"

namespace llama4 {

namespace {

constexpr size_t kScOff = PackedQ6_K::kScales, kDOff = PackedQ6_K::kD, kBlockBytes = PackedQ6_K::kBlock;
static_assert(kBlockBytes == kPackRows * sizeof(block_q6_K), "packed Q6_K block size");

// q (0..63) of the 256 elements of a plain block, in the order of dequantize_q6_k (ops/quants_ref.cpp): in half
// h (128 elements), element 32t + l takes ql[64h + 32(t & 1) + l] (low nibble for t < 2, high for t >= 2) and
// bits 2t, 2t+1 of qh[32h + l]; element e's scale is scales[e / 16].
inline void plain_q(const block_q6_K& b, uint8_t q[QK_K]) {
  for (int h = 0; h < 2; h++)
    for (int t = 0; t < 4; t++)
      for (int l = 0; l < 32; l++) {
        const uint8_t lb = b.ql[64 * h + 32 * (t & 1) + l];
        const int lo = t < 2 ? lb & 0x0F : lb >> 4;
        q[128 * h + 32 * t + l] = (uint8_t)(lo | (((b.qh[32 * h + l] >> (2 * t)) & 3) << 4));
      }
}

// q (0..63) of the 256 elements of each row of a packed block
inline void unpack_block(const uint8_t* blk, uint8_t q[kPackRows][QK_K]) {
  for (int j = 0; j < 16; j++)
    for (int r = 0; r < kPackRows; r++) {
      const uint8_t* v = blk + (size_t)(3 * j) * 32 + 4 * r;  // vector (j, 0), row r
      for (int i = 0; i < 4; i++) {
        const uint8_t b0 = v[i], b1 = v[32 + i], b2 = v[64 + i];
        q[r][16 * j + i] = b0 & 0x3F;
        q[r][16 * j + 4 + i] = b1 & 0x3F;
        q[r][16 * j + 8 + i] = b2 & 0x3F;
        q[r][16 * j + 12 + i] = (uint8_t)((b0 >> 6) | ((b1 >> 6) << 2) | ((b2 >> 6) << 4));
      }
    }
}

}  // namespace

size_t packed_group_bytes_q6_k(int64_t n_in) { return (size_t)(n_in / QK_K) * kBlockBytes; }

void pack_group_q6_k(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  const int64_t nb = n_in / QK_K;
  for (int64_t b = 0; b < nb; b++) {
    uint8_t* blk = dst + (size_t)b * kBlockBytes;
    for (int r = 0; r < kPackRows; r++) {
      const block_q6_K& x = ((const block_q6_K*)(src + (size_t)r * row_bytes))[b];
      uint8_t q[QK_K];
      plain_q(x, q);
      for (int j = 0; j < 16; j++) {
        uint8_t* v = blk + (size_t)(3 * j) * 32 + 4 * r;
        for (int c = 0; c < 3; c++)
          for (int i = 0; i < 4; i++) {
            const int top = (q[16 * j + 12 + i] >> (2 * c)) & 3;
            v[32 * c + i] = (uint8_t)(q[16 * j + 4 * c + i] | (top << 6));
          }
      }
      for (int j = 0; j < 16; j++) blk[kScOff + 16 * (j / 2) + 2 * r + (j % 2)] = (uint8_t)x.scales[j];
      std::memcpy(blk + kDOff + 2 * r, &x.d, 2);
    }
  }
}

// Scalar reference: 8 fp32 chains per (row, token), blocks in order (LLAMA4_FMA_CLONES: the only fused
// operation is the explicit fmaf; the scale product is rounded on its own). Each block of a group is unpacked
// once and then used by every token of the call (acc holds the nt x 8 x 8 chains).
LLAMA4_FMA_CLONES void mm_packed_q6_k_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx,
                                          const void* y, size_t by, float* s, int64_t ss) {
  const int64_t nb = n_in / QK_K;
  std::vector<float> acc((size_t)nt * kPackRows * 8);
  uint8_t q[kPackRows][QK_K];
  int sc[kPackRows][16];
  float d[kPackRows];
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t* grp = (const uint8_t*)x + (size_t)g * gx;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t b = 0; b < nb; b++) {
      const uint8_t* blk = grp + (size_t)b * kBlockBytes;
      unpack_block(blk, q);
      for (int r = 0; r < kPackRows; r++) {
        for (int j = 0; j < 16; j++) sc[r][j] = (int8_t)blk[kScOff + 16 * (j / 2) + 2 * r + (j % 2)];
        uint16_t dh;
        std::memcpy(&dh, blk + kDOff + 2 * r, 2);
        d[r] = fp16_to_fp32(dh);
      }
      for (int64_t t = 0; t < nt; t++) {
        const block_q8_K& yy = ((const block_q8_K*)((const uint8_t*)y + (size_t)t * by))[b];
        for (int r = 0; r < kPackRows; r++) {
          float* a = &acc[((size_t)t * kPackRows + r) * 8];
          for (int k = 0; k < 8; k++) {
            const int h = k / 4, c = k % 4;
            int32_t l = -32 * (sc[r][2 * k] * yy.bsums[2 * k] + sc[r][2 * k + 1] * yy.bsums[2 * k + 1]);
            for (int p = 0; p < 8; p++) {
              const int e0 = 16 * (2 * p + h) + 4 * c;
              int32_t dot = 0;
              for (int i = 0; i < 4; i++) dot += q[r][e0 + i] * yy.qs[e0 + i];
              l += sc[r][2 * p + h] * dot;
            }
            a[k] = fmaf(d[r] * yy.d, (float)l, a[k]);
          }
        }
      }
    }
    for (int64_t t = 0; t < nt; t++)
      for (int r = 0; r < kPackRows; r++)
        s[t * ss + kPackRows * g + r] = hsum_chains8(&acc[((size_t)t * kPackRows + r) * 8]);
  }
}

}  // namespace llama4
