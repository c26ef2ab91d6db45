// Scalar reference (de)quantizers, exact to ggml (spec section 2). Every optimised kernel is tested
// against these. n is always a multiple of the type's block size.
#pragma once
#include <cstdint>

namespace llama4 {

void to_float_f32(const void* src, float* dst, int64_t n);
void to_float_f16(const void* src, float* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);
void from_float_f32(const float* src, void* dst, int64_t n);
void from_float_f16(const float* src, void* dst, int64_t n);
void from_float_bf16(const float* src, void* dst, int64_t n);

void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q8_1(const void* src, float* dst, int64_t n);
void dequantize_q2_k(const void* src, float* dst, int64_t n);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);
void dequantize_iq4_nl(const void* src, float* dst, int64_t n);
void dequantize_iq4_xs(const void* src, float* dst, int64_t n);

// Reference quantizers for the legacy types (ggml quantize_row_*_ref) and the activation types.
void quantize_q4_0_ref(const float* src, void* dst, int64_t n);
void quantize_q4_1_ref(const float* src, void* dst, int64_t n);
void quantize_q5_0_ref(const float* src, void* dst, int64_t n);
void quantize_q5_1_ref(const float* src, void* dst, int64_t n);
void quantize_q8_0_ref(const float* src, void* dst, int64_t n);
void quantize_q8_1_ref(const float* src, void* dst, int64_t n);
void quantize_q8_k_ref(const float* src, void* dst, int64_t n);

// Activation quantizers the CPU matmul uses (spec 2.6): llama.cpp's x86 AVX/AVX2 quantize_row_q8_0 /
// quantize_row_q8_1 rather than the scalar _ref ones. Per 32 values: d = amax/127 (stored f16),
// id = 127/amax (0 when amax == 0), q = round-to-nearest-EVEN(x*id); Q8_1 also stores s = f16(d * sum(q)).
// They differ from quantize_q8_0_ref / quantize_q8_1_ref (id = 1/d, roundf) only on rare rounding ties.
// The Q8_K activation quantizer is quantize_q8_k_ref itself (x86 uses the reference).
void quantize_q8_0_act(const float* src, void* dst, int64_t n);
void quantize_q8_1_act(const float* src, void* dst, int64_t n);

}  // namespace llama4
