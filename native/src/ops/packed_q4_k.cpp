// Q4_K packed layout (ops/packed.h) and its scalar reference kernel.
//
// Layout of one group of 8 rows: the 256-element blocks in order, each 1152 bytes (exactly the 8 plain
// blocks' 8 x 144 bytes, so decode streams no more bytes than the plain rows):
//     bytes    0..15    the 8 rows' f16 d    (row r at 2r): one 128-bit load + cvtph = the 8 lanes' d;
//     bytes   16..31    the 8 rows' f16 dmin (row r at 16 + 2r);
//     bytes   32..127   the 8 rows' 12 packed 6-bit scale/min bytes, TRANSPOSED: plain scales[k] of row r at
//                       32 + 8k + r. The 6-bit unpacking (get_scale_min_k4) then runs on 8 rows at once with
//                       byte-wise vector ops: bytes k = 0..3 are the scales of sub-blocks 0..3, k = 4..7 their
//                       mins, and k = 8..11 (low / high nibble) plus the top 2 bits of k = 0..7 give sub-blocks
//                       4..7. The result, one byte per (sub-block j, row r) at 8j + r, feeds one broadcast +
//                       shuffle per sub-block (kept packed: unpacked bytes would cost 2.8% more to stream).
//     bytes  128..1151  4 parts p = 0..3 (64 elements: sub-blocks 2p and 2p+1) of 8 chunks c = 0..7 of 32 bytes:
//                       row r's plain qs[32p + 4c .. 32p + 4c + 3] at 128 + 256p + 32c + 4r.
// A plain qs byte 32p + e holds element 64p + e (low nibble, sub-block 2p) and element 64p + 32 + e (high
// nibble, sub-block 2p + 1), so ONE 32-byte load of chunk (p, c) + mask / shift gives, in int32 lane r, row
// r's 4 nibbles of sub-block 2p (elements 64p + 4c..+3) and of sub-block 2p + 1 (64p + 32 + 4c..+3); a u8 x s8
// quad dot product (vpdpbusd, or maddubs + madd) against the 4 activation bytes broadcast to every lane sums
// row r into lane r, with no horizontal reduction.
//
// Numerics (the contract of ops/packed.h): per output (row r, token t), over blocks b in order,
//     sumi = Σ_{j<8} sc_j * Σ_{k in sub-block j} q_k * y_k                  (exact int32)
//     summ = Σ_{j<8} m_j * (bsums[2j] + bsums[2j+1])                       (exact int32)
//     acc  = fma(f32(d[r][b])    * dy[t][b] [rounded once], (float)sumi, acc)
//     accm = fma(f32(dmin[r][b]) * dy[t][b] [rounded once], (float)summ, accm)
// and the output is acc - accm (llama.cpp's repacked q4_K order). The SIMD kernels (ops/cpu/avx2,
// ops/cpu/avx512) equal this bit for bit.
#include <cmath>
#include <cstddef>
#include <cstring>

#include "ops/blocks.h"
#include "ops/cpu/ops.h"
#include "ops/packed.h"
#include "ops/types.h"

namespace llama4 {

namespace {
constexpr size_t kBlockBytes = PackedQ4_K::kBlock;        // 1152
constexpr size_t kDminOffset = PackedQ4_K::kDmin;         // 16
constexpr size_t kScalesOffset = PackedQ4_K::kScales;     // 32
constexpr size_t kQsOffset = PackedQ4_K::kQs;             // 128
static_assert(kQsOffset + kPackRows * QK_K / 2 == kBlockBytes, "Q4_K packed block size");
}  // namespace

size_t packed_group_bytes_q4_k(int64_t n_in) { return (size_t)(n_in / QK_K) * kBlockBytes; }

void pack_group_q4_k(int64_t n_in, const uint8_t* src, size_t row_bytes, uint8_t* dst) {
  const int64_t nb = n_in / QK_K;
  for (int64_t b = 0; b < nb; b++) {
    uint8_t* o = dst + (size_t)b * kBlockBytes;
    for (int r = 0; r < kPackRows; r++) {
      const uint8_t* blk = src + (size_t)r * row_bytes + (size_t)b * sizeof(block_q4_K);
      std::memcpy(o + 2 * r, blk + offsetof(block_q4_K, d), 2);
      std::memcpy(o + kDminOffset + 2 * r, blk + offsetof(block_q4_K, dmin), 2);
      for (int k = 0; k < K_SCALE_SIZE; k++) o[kScalesOffset + kPackRows * k + r] = blk[offsetof(block_q4_K, scales) + k];
      for (int p = 0; p < 4; p++)
        for (int c = 0; c < 8; c++)
          std::memcpy(o + kQsOffset + 256 * p + 32 * c + 4 * r, blk + offsetof(block_q4_K, qs) + 32 * p + 4 * c, 4);
    }
  }
}

// The reference: one pair of fp32 chains per (row, token), exactly the contract above.
LLAMA4_FMA_CLONES void mm_packed_q4_k_ref(int64_t n_in, int64_t ng, int64_t nt, const void* x, size_t gx,
                                          const void* y, size_t by, float* s, int64_t ss) {
  const int64_t nb = n_in / QK_K;
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t* xg = (const uint8_t*)x + (size_t)g * gx;
    for (int64_t t = 0; t < nt; t++) {
      const block_q8_K* yt = (const block_q8_K*)((const uint8_t*)y + (size_t)t * by);
      float acc[kPackRows] = {}, accm[kPackRows] = {};
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t* xb = xg + (size_t)b * kBlockBytes;
        const block_q8_K& yb = yt[b];
        for (int r = 0; r < kPackRows; r++) {
          uint8_t q[K_SCALE_SIZE];  // row r's plain scales bytes
          for (int k = 0; k < K_SCALE_SIZE; k++) q[k] = xb[kScalesOffset + kPackRows * k + r];
          int32_t sumi = 0, summ = 0;
          for (int j = 0; j < 8; j++) {
            int sc, m;  // get_scale_min_k4
            if (j < 4) {
              sc = q[j] & 63;
              m = q[j + 4] & 63;
            } else {
              sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
              m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
            }
            const int p = j / 2, hi = j % 2;
            int32_t dot = 0;
            for (int e = 0; e < 32; e++) {
              const uint8_t byte = xb[kQsOffset + 256 * p + 32 * (e / 4) + 4 * r + e % 4];
              dot += (hi ? byte >> 4 : byte & 0x0F) * yb.qs[64 * p + 32 * hi + e];
            }
            sumi += sc * dot;
            summ += m * (yb.bsums[2 * j] + yb.bsums[2 * j + 1]);
          }
          uint16_t hd, hm;
          std::memcpy(&hd, xb + 2 * r, 2);
          std::memcpy(&hm, xb + kDminOffset + 2 * r, 2);
          const float d = fp16_to_fp32(hd) * yb.d;
          const float dm = fp16_to_fp32(hm) * yb.d;
          acc[r] = std::fma(d, (float)sumi, acc[r]);
          accm[r] = std::fma(dm, (float)summ, accm[r]);
        }
      }
      for (int r = 0; r < kPackRows; r++) s[t * ss + g * kPackRows + r] = acc[r] - accm[r];
    }
  }
}

}  // namespace llama4
