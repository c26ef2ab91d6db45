// Packed ggml block layouts (spec sections 2.3-2.5). Struct order = byte order in GGUF files, and the
// natural C layout already has no padding (checked by the static_asserts), so the same header serves
// the scalar reference code, the SIMD kernels and CUDA (.cu) sources. Half-precision fields are raw
// IEEE binary16 bits in a uint16_t; convert them with fp16_to_fp32 / fp32_to_fp16 (ops/types.h) on the
// host.
#pragma once
#include <stdint.h>

namespace llama4 {

// Elements per block.
constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK5_0 = 32;
constexpr int QK5_1 = 32;
constexpr int QK8_0 = 32;
constexpr int QK8_1 = 32;
constexpr int QK4_NL = 32;
constexpr int QK_K = 256;  // K-quant / IQ super-block
constexpr int K_SCALE_SIZE = 12;  // bytes of packed 6-bit scales+mins in Q4_K / Q5_K (and Q3_K's scales)

// ---- legacy 32-element blocks: byte j low nibble = element j, high nibble = element j+16 --------------
struct block_q4_0 {
  uint16_t d;              // delta (f16)
  uint8_t qs[QK4_0 / 2];   // nibbles
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");

struct block_q4_1 {
  uint16_t d;              // delta (f16)
  uint16_t m;              // min (f16)
  uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");

struct block_q5_0 {
  uint16_t d;              // delta (f16)
  uint8_t qh[4];           // 5th bits, one little-endian u32: bit i = element i
  uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");

struct block_q5_1 {
  uint16_t d;              // delta (f16)
  uint16_t m;              // min (f16)
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");

struct block_q8_0 {
  uint16_t d;              // delta (f16)
  int8_t qs[QK8_0];
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");

struct block_q8_1 {
  uint16_t d;              // delta (f16)
  uint16_t s;              // f16 of d * sum(qs) (CPU convention; CUDA stores the sum of the floats)
  int8_t qs[QK8_1];
};
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");

// ---- K-quants (256-element super-blocks) --------------------------------------------------------------
struct block_q2_K {
  uint8_t scales[QK_K / 16];  // low nibble = scale, high nibble = min, per 16 elements
  uint8_t qs[QK_K / 4];       // 2-bit quants
  uint16_t d;                 // super-block scale for the scales (f16)
  uint16_t dmin;              // super-block scale for the mins (f16)
};
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");

struct block_q3_K {
  uint8_t hmask[QK_K / 8];    // high bit; a CLEAR bit subtracts 4
  uint8_t qs[QK_K / 4];       // low 2 bits
  uint8_t scales[12];         // sixteen 6-bit scales (minus 32: signed)
  uint16_t d;                 // super-block scale (f16)
};
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");

struct block_q4_K {
  uint16_t d;                     // super-block scale for the scales (f16)
  uint16_t dmin;                  // super-block scale for the mins (f16)
  uint8_t scales[K_SCALE_SIZE];   // eight 6-bit scales + eight 6-bit mins
  uint8_t qs[QK_K / 2];           // 4-bit quants
};
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");

struct block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];           // 5th bits
  uint8_t qs[QK_K / 2];           // low 4 bits
};
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");

struct block_q6_K {
  uint8_t ql[QK_K / 2];       // low 4 bits
  uint8_t qh[QK_K / 4];       // high 2 bits
  int8_t scales[QK_K / 16];   // signed 8-bit scales
  uint16_t d;                 // super-block scale (f16)
};
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

// Activations only (never in files): note the f32 scale.
struct block_q8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];   // sum of each group of 16 quants
};
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

// ---- non-linear 4-bit -------------------------------------------------------------------------------
struct block_iq4_nl {
  uint16_t d;                 // f16
  uint8_t qs[QK4_NL / 2];
};
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");

struct block_iq4_xs {
  uint16_t d;                 // f16
  uint16_t scales_h;          // high 2 bits of the eight 6-bit scales
  uint8_t scales_l[QK_K / 64];  // low 4 bits, two per byte
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

// The IQ4_NL / IQ4_XS codebook. (CUDA kernels need their own __constant__/__device__ copy: a host
// constexpr array cannot be indexed at run time from device code without --expt-relaxed-constexpr.)
constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

}  // namespace llama4
