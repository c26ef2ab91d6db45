// Reference quantizers for the K-quants and IQ4_NL: the no-imatrix paths of llama.cpp's quantizer
// (ggml quantize_row_q{2,3,4,5,6}_K_ref, and quantize_iq4_nl with quant_weights == NULL). The float
// operations follow ggml's order exactly, so the bytes match llama-quantize's for the same f32 input.
// n is a multiple of the type's block size (256 for K-quants, 32 for IQ4_NL); blocks are independent,
// so any split of a tensor into rows/chunks gives the same bytes.
#pragma once
#include <cstdint>

namespace llama4 {

void quantize_q2_k_ref(const float* src, void* dst, int64_t n);
void quantize_q3_k_ref(const float* src, void* dst, int64_t n);
void quantize_q4_k_ref(const float* src, void* dst, int64_t n);
void quantize_q5_k_ref(const float* src, void* dst, int64_t n);
void quantize_q6_k_ref(const float* src, void* dst, int64_t n);
void quantize_iq4_nl_ref(const float* src, void* dst, int64_t n);

}  // namespace llama4
