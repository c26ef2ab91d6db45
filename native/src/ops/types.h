// The tensor-type traits table: one row per ggml type id (GGUF `type` field). Matmul, the loader's size
// checks and the tests iterate this table; nothing else switches on a type.
#pragma once
#include <cstddef>
#include <cstdint>

namespace llama4 {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};
constexpr uint32_t kGgmlTypeCount = 42;

// Dequantize n values (n a multiple of the block size) from packed blocks to f32. Exact to ggml.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// Quantize n f32 values (n a multiple of the block size) into packed blocks (reference rounding).
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);

struct TypeTraits {
  const char* name;        // ggml's name, e.g. "Q4_K"
  int64_t blck_size;       // elements per block; 0 = removed/unknown id
  size_t type_size;        // bytes per block
  bool is_quantized;
  ToFloatFn to_float;      // scalar reference dequantizer; nullptr = we can read the file but not compute
  FromFloatFn from_float;  // reference quantizer; nullptr where not implemented
  GgmlType vec_dot_type;   // what activations are converted to before a dot product with this type (2.6)
};

// Row for a valid type id; callers check type_id_known() first for ids read from files.
const TypeTraits& type_traits(GgmlType t);
bool type_id_known(uint32_t id);  // a non-zero block size: the id names a real type
inline const char* type_name(GgmlType t) { return type_traits(t).name; }

// Bytes of a row of ne0 elements (ne0 must be a multiple of the block size).
inline size_t row_size(GgmlType t, int64_t ne0) {
  const TypeTraits& tt = type_traits(t);
  return (size_t)(ne0 / tt.blck_size) * tt.type_size;
}

// fp16 / bf16 scalar conversions (IEEE binary16 with round-to-nearest-even; bf16 as ggml does it).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
inline float bf16_to_fp32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t fp32_to_bf16(float f);

}  // namespace llama4
