#include "ops/types.h"

#include <cmath>
#include <cstring>

#include "ops/quantize.h"
#include "ops/quants_ref.h"

namespace llama4 {

namespace {

using T = GgmlType;

// One row per ggml type id. Ids with blck_size 0 were removed from ggml and are rejected by the loader.
const TypeTraits kTraits[kGgmlTypeCount] = {
    /* 0 */ {"F32", 1, 4, false, to_float_f32, from_float_f32, T::F32},
    /* 1 */ {"F16", 1, 2, false, to_float_f16, from_float_f16, T::F16},
    /* 2 */ {"Q4_0", 32, 18, true, dequantize_q4_0, quantize_q4_0_ref, T::Q8_0},
    /* 3 */ {"Q4_1", 32, 20, true, dequantize_q4_1, quantize_q4_1_ref, T::Q8_1},
    /* 4 */ {"Q4_2(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 5 */ {"Q4_3(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 6 */ {"Q5_0", 32, 22, true, dequantize_q5_0, quantize_q5_0_ref, T::Q8_0},
    /* 7 */ {"Q5_1", 32, 24, true, dequantize_q5_1, quantize_q5_1_ref, T::Q8_1},
    /* 8 */ {"Q8_0", 32, 34, true, dequantize_q8_0, quantize_q8_0_ref, T::Q8_0},
    /* 9 */ {"Q8_1", 32, 36, true, dequantize_q8_1, quantize_q8_1_ref, T::Q8_1},
    /* 10 */ {"Q2_K", 256, 84, true, dequantize_q2_k, quantize_q2_k_ref, T::Q8_K},
    /* 11 */ {"Q3_K", 256, 110, true, dequantize_q3_k, quantize_q3_k_ref, T::Q8_K},
    /* 12 */ {"Q4_K", 256, 144, true, dequantize_q4_k, quantize_q4_k_ref, T::Q8_K},
    /* 13 */ {"Q5_K", 256, 176, true, dequantize_q5_k, quantize_q5_k_ref, T::Q8_K},
    /* 14 */ {"Q6_K", 256, 210, true, dequantize_q6_k, quantize_q6_k_ref, T::Q8_K},
    /* 15 */ {"Q8_K", 256, 292, true, dequantize_q8_k, quantize_q8_k_ref, T::Q8_K},
    /* 16 */ {"IQ2_XXS", 256, 66, true, nullptr, nullptr, T::Q8_K},
    /* 17 */ {"IQ2_XS", 256, 74, true, nullptr, nullptr, T::Q8_K},
    /* 18 */ {"IQ3_XXS", 256, 98, true, nullptr, nullptr, T::Q8_K},
    /* 19 */ {"IQ1_S", 256, 50, true, nullptr, nullptr, T::Q8_K},
    /* 20 */ {"IQ4_NL", 32, 18, true, dequantize_iq4_nl, quantize_iq4_nl_ref, T::Q8_0},
    /* 21 */ {"IQ3_S", 256, 110, true, nullptr, nullptr, T::Q8_K},
    /* 22 */ {"IQ2_S", 256, 82, true, nullptr, nullptr, T::Q8_K},
    /* 23 */ {"IQ4_XS", 256, 136, true, dequantize_iq4_xs, nullptr, T::Q8_K},
    /* 24 */ {"I8", 1, 1, false, nullptr, nullptr, T::I8},
    /* 25 */ {"I16", 1, 2, false, nullptr, nullptr, T::I16},
    /* 26 */ {"I32", 1, 4, false, nullptr, nullptr, T::I32},
    /* 27 */ {"I64", 1, 8, false, nullptr, nullptr, T::I64},
    /* 28 */ {"F64", 1, 8, false, nullptr, nullptr, T::F64},
    /* 29 */ {"IQ1_M", 256, 56, true, nullptr, nullptr, T::Q8_K},
    /* 30 */ {"BF16", 1, 2, false, to_float_bf16, from_float_bf16, T::BF16},
    /* 31 */ {"Q4_0_4_4(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 32 */ {"Q4_0_4_8(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 33 */ {"Q4_0_8_8(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 34 */ {"TQ1_0", 256, 54, true, nullptr, nullptr, T::Q8_K},
    /* 35 */ {"TQ2_0", 256, 66, true, nullptr, nullptr, T::Q8_K},
    /* 36 */ {"IQ4_NL_4_4(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 37 */ {"IQ4_NL_4_8(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 38 */ {"IQ4_NL_8_8(removed)", 0, 0, false, nullptr, nullptr, T::F32},
    /* 39 */ {"MXFP4", 32, 17, true, nullptr, nullptr, T::Q8_0},
    /* 40 */ {"NVFP4", 64, 36, true, nullptr, nullptr, T::Q8_0},
    /* 41 */ {"Q1_0", 128, 18, true, nullptr, nullptr, T::Q8_0},
};

}  // namespace

const TypeTraits& type_traits(GgmlType t) { return kTraits[(uint32_t)t]; }

bool type_id_known(uint32_t id) { return id < kGgmlTypeCount && kTraits[id].blck_size > 0; }

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t man = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: value = man * 2^-24
      float f = (float)man * 5.9604644775390625e-08f;
      std::memcpy(&bits, &f, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) {  // inf or nan
    return (uint16_t)(sign | 0x7C00 | (ax > 0x7F800000u ? 0x200 | ((ax >> 13) & 0x3FF) : 0));
  }
  if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);  // rounds to >= 65520: inf
  if (ax < 0x38800000u) {                                   // below the smallest normal half: subnormal
    if (ax < 0x33000000u) return (uint16_t)sign;            // < 2^-25 rounds to zero
    const uint32_t e = ax >> 23;
    const uint32_t m = (ax & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t half = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  // normal: rebias exponent, round mantissa 23 -> 10 bits with ties to even
  uint32_t h = ((ax >> 13) - (112u << 10));
  const uint32_t rem = ax & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

uint16_t fp32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 64);  // quiet NaN
  return (uint16_t)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

}  // namespace llama4
