// Element-wise and row operations of the forward pass, with llama.cpp's CPU numerics (spec 2.8).
// Scalar here; the matrix products (matmul.h) are where the time goes.
#pragma once
#include <cstdint>

namespace llama4 {

// f16 -> f32 through a 64K table (as ggml does), for the KV cache paths.
const float* fp16_table();
inline float f16_to_f32_fast(uint16_t h) { return fp16_table()[h]; }

// y = x * 1/sqrt(mean(x^2) + eps) with the sum of squares in double; then y *= w when w != nullptr.
void rms_norm(const float* x, float* y, int64_t n, float eps, const float* w);

// cos/sin cache for one position (llama.cpp ggml_rope_cache_init, NORM mode, no YaRN):
// cache[2i] = cos(theta_i), cache[2i+1] = sin(theta_i), theta_i = freq_scale * pos * base^(-2i/n_dims) / ff[i]
// with the angle built by repeated multiplication as ggml does.
void rope_cache(float pos, int64_t n_dims, float freq_base, float freq_scale, const float* freq_factors, float* cache);
// Rotate adjacent pairs (2i, 2i+1) of each head: x is [n_heads][head_dim].
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int64_t n_dims, const float* cache);

// out[i] = silu(gate[i]) * up[i]
void swiglu(const float* gate, const float* up, float* out, int64_t n);
inline float sigmoidf(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

void vec_add(float* y, const float* x, int64_t n);  // y += x
void vec_scale(float* y, float s, int64_t n);       // y *= s

}  // namespace llama4
