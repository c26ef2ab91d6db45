// Element-wise and row operations of the forward pass, with llama.cpp's CPU numerics (spec 2.8).
// Scalar here; the matrix products (matmul.h) are where the time goes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/types.h"
#include "runtime/cpu_features.h"

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
// Rotate adjacent pairs (2i, 2i+1) of each head: x is [n_heads][head_dim]. x0*c - x1*s and x0*s + x1*c are
// computed as fmaf(x0, c, -(x1*s)) and fmaf(x0, s, x1*c): llama.cpp's compiler contracts them that way.
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int64_t n_dims, const float* cache);

// ---- llama.cpp's vector numerics ----------------------------------------------------------------------------
// The reference is llama.cpp's x86 AVX2 CPU backend. With quantized weights every activation is re-quantized to
// 8 bits before the next matmul, so a one-ulp difference upstream can flip a rounding there and grow from layer
// to layer (a 30-layer Q4_1 model drifts by ~0.5 in the logits from float reorderings alone). Matching it
// therefore means reproducing its float operations exactly: its vector exp, its FMAs, its summation orders.
// The functions below do that in scalar code (vector lanes are independent) with explicit fmaf calls.
//
// LLAMA4_FMA_CLONES compiles a function twice, with FMA instructions for CPUs that have them and a plain
// version (fmaf from libm: same results, slower); it also turns off the compiler's own contraction of a*b+c,
// so the only fused operations are the explicit fmaf calls that mirror llama.cpp's.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LLAMA4_FMA_CLONES __attribute__((target_clones("fma", "default"), optimize("fp-contract=off")))
#elif defined(__x86_64__) && defined(__clang__)
#define LLAMA4_FMA_CLONES __attribute__((target_clones("fma", "default")))  // clang only contracts within one expression
#else
#define LLAMA4_FMA_CLONES
#endif

// exp(x) as one lane of ggml_v_expf (the FMA polynomial that llama.cpp's vector paths use). Max error ~1.5 ulp.
float ggml_expf(float x);

// out[i] = silu(gate[i]) * up[i] over ONE row, as ggml_vec_swiglu_f32: groups of 8 from the row start use
// x / (1 + ggml_expf(-x)); the remaining n % 8 use libm expf. Call it once per row.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// y[i] = exp(x[i] - max) over one softmax row of n entries, and returns their sum, as ggml_vec_soft_max_f32:
// groups of 8 from the row start use ggml_expf and add their 8-lane tree sum to a double; the n % 8 tail uses
// expf and adds one by one. Entries of -INFINITY give exactly 0.
double soft_max_exp(const float* x, float* y, int64_t n, float max);

// ggml_vec_dot_f32: four 8-lane FMA accumulators over 32-element steps, reduced pairwise, then a float FMA
// tail. dot_f16 is ggml_vec_dot_f16 for f16 x and a y that holds f16-representable values (same order, tail
// summed in double), or with tinyblas (K·Q of an f16 cache for a batch of >= 2 tokens: the query is then
// converted to a contiguous f16 copy, which llamafile's tinyBLAS takes) one 8-lane accumulator when n % 8 == 0.
float dot_f32(const float* x, const float* y, int64_t n);
float dot_f16(const uint16_t* x, const float* y, int64_t n, bool tinyblas);
// out[i] = dot_f16 (f16) or dot_f32 of row i (at rows + i * stride bytes) with y, for i < n_rows: exactly the
// values of n_rows separate calls (the AVX2 version works on several rows at once).
void dot_rows(const uint8_t* rows, size_t stride, bool f16, int64_t n_rows, const float* y, int64_t n, bool tinyblas,
              float* out);

// out[d] = sum_j p[j] * row_j[d], d < dim, for n rows starting at the cache cell first_cell; row j is at
// rows + j * stride bytes (f32, or f16 when f16). This is llama.cpp's kqv = V^T·p matmul over the cache:
// for a batch of >= 2 tokens it runs in llamafile's tinyBLAS (one 8-lane FMA accumulator, lane = cell % 8);
// for one token in ggml_vec_dot (32 lanes, lane = cell % 32, reduced as dot_f32). Cells outside the rows
// (masked, p = 0) add exact zeros, so only the lane alignment matters. acc: scratch of 32 * dim floats.
void weighted_rows(const float* p, const uint8_t* rows, size_t stride, bool f16, int64_t first_cell, int64_t n,
                   int64_t dim, bool single_token, float* acc, float* out);
// y[i] = x[i] * scale rounded to f16 and back (the f32 product first, then one round-to-nearest-even): what
// ggml reads back after storing into an f16 tensor (the query for an f16 K cache, p for an f16 V cache).
// x == y is allowed.
void round_to_f16(const float* x, float scale, float* y, int64_t n);
// Decode attention's fast path (flash-decoding; not llama.cpp's order, see Blocks::attend): one query token
// against cells [0, n) of one KV head, for the g query heads that share it (GQA; q: g rows of hd floats).
// With s[h][c] = scale * q_h·K_c, writes the chunk's softmax state per head h:
//   m[h] = max_c s[h][c],  l[h] = sum_c exp(s[h][c] - m[h]),  acc[h*hdv + d] = sum_c exp(s[h][c] - m[h]) * V_c[d]
// K_c at k + c*k_stride (f16 or f32), V_c at v + c*v_stride. Each K and V row is read and converted once for
// all g heads. scratch: g*n + 8*hd floats. Chunks merge as m = max m_i, l = sum l_i e^(m_i-m), etc.
void attn_partial(const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride, bool k16, const uint8_t* v,
                  size_t v_stride, bool v16, int64_t hdv, int64_t n, float scale, float* m, float* l, float* acc,
                  float* scratch);
// attn_partial for a quantized (or mixed) cache: K rows of k_type, V rows of v_type (any KV cache type). As
// llama.cpp's flash attention over such a cache, each query head is converted once to k_type's vec_dot_type
// and scored with that type's dot kernel (the tiled one of `kernels`, over all n cells and g heads at once),
// and each V row is dequantized once for the g heads. Same outputs as attn_partial; scratch is internal.
struct CpuKernels;
// s[h * n + c] = K_c . q_h (unscaled) for the g query heads, converted to k_type's vec_dot_type, against n rows
// of k_type: attn_partial_q's scores, shared by its scalar and AVX2 versions.
void attn_q_scores(const CpuKernels& kernels, const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride,
                   GgmlType k_type, int64_t n, float* s);
void attn_partial_q(const CpuKernels& kernels, const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride,
                    GgmlType k_type, const uint8_t* v, size_t v_stride, GgmlType v_type, int64_t hdv, int64_t n,
                    float scale, float* m, float* l, float* acc);
// In place, each group of n (a power of two) consecutive values of x[0..total) becomes its orthonormal
// Walsh-Hadamard transform, as ggml's fwht (the mul_mat with a Hadamard hint): x * 1/sqrt(n) first, then the
// butterflies (u + v, u - v) from stride 1 up; exact adds, so every ISA gives the same bits. Its own inverse.
void fwht_rows(float* x, int64_t total, int64_t n);
// The helpers above as a table per ISA level: the public functions call the host's level (AVX2 when the CPU
// has AVX2/FMA/F16C and LLAMA4_ISA allows it, else the scalar reference); tests take both and compare them.
struct AttnKernels {
  void (*swiglu)(const float*, const float*, float*, int64_t);
  void (*round_to_f16)(const float*, float, float*, int64_t);
  double (*soft_max_exp)(const float*, float*, int64_t, float);
  float (*dot_f32)(const float*, const float*, int64_t);
  float (*dot_f16)(const uint16_t*, const float*, int64_t, bool);
  void (*dot_rows)(const uint8_t*, size_t, bool, int64_t, const float*, int64_t, bool, float*);
  void (*weighted_rows)(const float*, const uint8_t*, size_t, bool, int64_t, int64_t, int64_t, bool, float*, float*);
  void (*attn_partial)(const float*, int64_t, int64_t, const uint8_t*, size_t, bool, const uint8_t*, size_t, bool, int64_t,
                       int64_t, float, float*, float*, float*, float*);
};
// Scalar always; Avx2 when this CPU has it (whatever LLAMA4_ISA says); nullptr otherwise.
const AttnKernels* attn_kernels(IsaLevel level);

inline float sigmoidf(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

void vec_add(float* y, const float* x, int64_t n);  // y += x
void vec_scale(float* y, float s, int64_t n);       // y *= s

}  // namespace llama4
