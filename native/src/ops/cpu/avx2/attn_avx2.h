// AVX2/FMA/F16C versions of the attention helpers of ops/cpu/ops.cpp (see ops.h). Each computes exactly what
// the scalar reference computes: one vector lane per emulated lane, the same FMAs, the same reduction order
// (except attn_partial, the fast path, which is compared with its reference within a tolerance).
// Only call after a run-time check that the CPU has AVX2+FMA+F16C (isa_level() >= IsaLevel::Avx2).
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/types.h"

namespace llama4 {
struct CpuKernels;
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
// The fast decode attention (ops.h attn_partial); not lane-identical to the reference.
void attn_partial(const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride, bool k16, const uint8_t* v,
                  size_t v_stride, bool v16, int64_t hdv, int64_t n, float scale, float* m, float* l, float* acc,
                  float* scratch);

// ops.h attn_partial_q: the scores through `kernels`' tiled dot kernel, softmax and V in AVX2 (quantized V rows
// dequantized once per chunk: Q8_0 and Q4_0 here, the other types through the reference dequantizer).
void attn_partial_q(const CpuKernels& kernels, const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride,
                    GgmlType k_type, const uint8_t* v, size_t v_stride, GgmlType v_type, int64_t hdv, int64_t n,
                    float scale, float* m, float* l, float* acc);

}  // namespace attn_avx2
}  // namespace llama4
