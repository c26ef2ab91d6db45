// AVX2/FMA/F16C versions of the attention helpers of ops/cpu/ops.cpp (see ops.h). Each computes exactly what
// the scalar reference computes: one vector lane per emulated lane, the same FMAs, the same reduction order.
// Only call after a run-time check that the CPU has AVX2+FMA+F16C (isa_level() >= IsaLevel::Avx2).
#pragma once
#include <cstddef>
#include <cstdint>

namespace llama4 {
namespace attn_avx2 {

void round_to_f16(const float* x, float scale, float* y, int64_t n);
double soft_max_exp(const float* x, float* y, int64_t n, float max);
void swiglu(const float* gate, const float* up, float* out, int64_t n);
float dot_f32(const float* x, const float* y, int64_t n);
float dot_f16(const uint16_t* x, const float* y, int64_t n, bool tinyblas);
void dot_rows(const uint8_t* rows, size_t stride, bool f16, int64_t n_rows, const float* y, int64_t n, bool tinyblas,
              float* out);
void weighted_rows(const float* p, const uint8_t* rows, size_t stride, bool f16, int64_t first_cell, int64_t n,
                   int64_t dim, bool single_token, float* acc, float* out);

}  // namespace attn_avx2
}  // namespace llama4
