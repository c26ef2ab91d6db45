// The CUDA kernel library of the GPU backend: host launchers taking device pointers and a stream. Plain
// C++ (no CUDA headers), so host code compiled by the C++ compiler (bindings, the backend) can call it.
// Every kernel has a CPU twin (the existing CPU code) and a test comparing them (addon cudaTwin,
// test/cuda/twins.test.ts). Launchers throw llama4::Error on a launch failure; kernel faults surface at
// the next synchronize (sync_check).
//
// Layouts (row-major, element counts):
//   activations x [n_rows][x_stride] f32; Q8_1 activations [n_rows][n_in/32] blocks (block_q8_1, CUDA
//   convention: d = amax/127, s = the sum of the 32 floats, both f16)
//   weights [n_out][row_bytes] in their GGUF type; an expert slab [n_expert][n_out][row_bytes]
//   K cache [n_cells][n_kv_head][hd] f16, V cache [n_cells][n_kv_head][hdv] f16 (cell = position)
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/blocks.h"
#include "ops/types.h"

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;  // as in CUDA's driver_types.h

namespace llama4 {
namespace cuda {

// ---- device memory (for tests and the backend; all throw llama4::Error with CUDA's message) ----------
void* dev_alloc(size_t bytes);
void dev_free(void* p) noexcept;
void to_device(void* dst, const void* src, size_t bytes);
void to_host(void* dst, const void* src, size_t bytes);
void dev_zero(void* p, size_t bytes);
// cudaGetLastError + cudaDeviceSynchronize; throws "CUDA error in <what>: <message>".
void sync_check(const char* what);

// ---- quantize.cu -----------------------------------------------------------------------------------
// y[r] = Q8_1 blocks of x[r * x_stride .. + n_in], n_in padded with zeros to a multiple of 32 (llama.cpp
// quantize_q8_1). y holds (n_in + 31) / 32 blocks per row.
void quantize_q8_1(const float* x, int64_t x_stride, int64_t n_in, int64_t n_rows, block_q8_1* y, cudaStream_t s);

// ---- mmvq.cu / mmq.cu: weight products -------------------------------------------------------------
// Whether the device has product kernels for weights of type t (the quantized types of the traits
// table with a dequantizer, and F32 / F16 / BF16).
bool has_matmul(GgmlType t);

// A weight matrix (or expert slab) on the device.
struct DevWeights {
  GgmlType type;
  const uint8_t* data;
  int64_t n_in, n_out;
  size_t row_bytes;     // bytes of one row
  size_t expert_bytes;  // bytes between experts (n_out * row_bytes); unused for a plain matrix
};

// Which rows a product reads and writes. Column j (j < n_cols) reads activation row a_rows ? a_rows[j] :
// j and writes y row y_rows ? y_rows[j] : j. With expert_offsets (n_expert + 1 entries, on the device),
// the columns [off[e], off[e+1]) use expert e; otherwise every column uses expert 0 (the plain matrix).
struct Columns {
  int64_t n_cols = 0;
  const int32_t* a_rows = nullptr;
  const int32_t* y_rows = nullptr;
  const int32_t* expert_offsets = nullptr;
  int32_t n_expert = 1;
  // mat-vec only: column j uses expert expert_ids[j] (the decode path of mul_mat_id; < 0: the column is
  // skipped, its y row untouched); null: as above
  const int32_t* expert_ids = nullptr;
};

// Decode product (llama.cpp mul_mat_vec_q): y[y_row][o] = dot(W row o, x[a_row]) for up to
// kMaxMatVecCols columns with shared weights, or any number of columns with expert_ids. Quantized
// weights read Q8_1 activations (xq, stride xq_stride blocks per row); float weights read f32 x.
constexpr int kMaxMatVecCols = 8;
void matvec(const DevWeights& w, const block_q8_1* xq, int64_t xq_stride, const float* x, int64_t x_stride,
            const Columns& c, float* y, int64_t y_stride, cudaStream_t s);
// Prompt product (llama.cpp mul_mat_q): tiles of 32 weight rows x 32 columns, any column count and
// expert grouping.
void matmul(const DevWeights& w, const block_q8_1* xq, int64_t xq_stride, const float* x, int64_t x_stride,
            const Columns& c, float* y, int64_t y_stride, cudaStream_t s);

// ---- host_groups.cu: the kernels' weight decoding, run on the host (no GPU needed) --------------------
// The same common.cuh code the product and get_rows kernels run, compiled for the host, so CPU-only test
// runs check every type's device decoding against the reference dequantizer. n: whole blocks.
// values: the dequantized row, as get_rows computes it; returns false for a type without device kernels.
bool host_group_values(GgmlType t, const uint8_t* row, int64_t n, float* values);
// The row's dot product with Q8_1 activations (n / 32 blocks), summed per group as the mat-vec kernel does.
bool host_group_dot(GgmlType t, const uint8_t* row, const block_q8_1* x, int64_t n, double* dot);

// ---- elementwise.cu ----------------------------------------------------------------------------------
// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) (* w when w); rows of n, x and y n apart (in place allowed).
void rms_norm(const float* x, float* y, int64_t n, int64_t n_rows, float eps, const float* w, cudaStream_t s);
// RoPE, NORM mode (adjacent pairs, ggml_rope_ext without YaRN) on x[n_tok][n_heads][head_dim] in place,
// over the first n_dims of each head; pos[n_tok] on the device; freq_factors [n_dims/2] or null.
// rope = false: NoPE, no rotation; then with temp_floor_scale > 0, Llama 4's attention temperature:
// x *= log(floor((pos + 1) / floor_scale) + 1) * temp_scale + temp_offset (computed in double, as the CPU).
struct RopeParams {
  bool rope = true;
  int64_t n_dims = 0;
  float freq_base = 10000.0f, freq_scale = 1.0f;
  const float* freq_factors = nullptr;
  float temp_floor_scale = 0.0f, temp_scale = 0.0f, temp_offset = 1.0f;
};
void rope(float* x, int64_t n_tok, int64_t n_heads, int64_t head_dim, const int32_t* pos, const RopeParams& p,
          cudaStream_t s);
// out = silu(gate) * up, n values.
void swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t s);
// y = a + b, n values (y may alias a or b).
void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s);
// y[t] = dequantized row ids[t] of table (type, row_bytes per row, n_cols elements), ids on the device;
// ids outside [0, n_rows) give a row of NaN (the host checks ids before; a NaN row is loud, not a fault).
void get_rows(GgmlType type, const uint8_t* table, size_t row_bytes, int64_t n_cols, int64_t n_rows,
              const int32_t* ids, int64_t n_ids, float* y, cudaStream_t s);
// dst[i] = src[rows[i] * n] (i < n_rows rows of n floats): the last position's (or the chosen) logits.
void copy_rows(const float* src, const int32_t* rows, int64_t n_rows, int64_t n, float* dst, cudaStream_t s);

// ---- attention.cu ------------------------------------------------------------------------------------
struct AttnShape {
  int64_t n_head, n_head_kv, hd, hdv;  // hd, hdv <= 256
  int64_t n_cells;                     // cells of the cache (positions 0..n_cells-1)
  int64_t chunk = 0;                   // Llama 4 chunked attention: a query at p sees cells of its chunk <= p
  float scale;                         // usually 1/sqrt(hd)
};
// k_cache[pos[t]][kvh][:] = f16(k[t][kvh][:]), likewise v: the rows of n_tok new tokens.
void kv_append(const float* k, const float* v, const int32_t* pos, int64_t n_tok, const AttnShape& a,
               uint16_t* k_cache, uint16_t* v_cache, cudaStream_t s);
// Decode (flash-decoding): out[t][h][:] for n_tok queries q[t][h][:] at positions pos[t], each over its
// visible cells, split into kDecodeSplit-cell pieces merged at the end. scratch: decode_scratch_floats().
constexpr int kDecodeSplit = 256;
size_t decode_scratch_floats(int64_t n_tok, const AttnShape& a);
void attn_decode(const float* q, const int32_t* pos, int64_t n_tok, const AttnShape& a, const uint16_t* k_cache,
                 const uint16_t* v_cache, float* scratch, float* out, cudaStream_t s);
// Prompt (flash attention): tiles of 16 queries x 32 cells with an online softmax; the same mask.
void attn_prompt(const float* q, const int32_t* pos, int64_t n_tok, const AttnShape& a, const uint16_t* k_cache,
                 const uint16_t* v_cache, float* out, cudaStream_t s);

// ---- moe.cu ------------------------------------------------------------------------------------------
// Router: logits [n_tok][n_expert] -> sel[n_tok][k] (descending, ties: lower index) and w[n_tok][k].
// Softmax (llama, Mixtral): w = the chosen softmax probabilities renormalised to sum 1 (ggml's clamp of the
// sum at 2^-14). Sigmoid (Llama 4): top-k of the raw logits, w = sigmoid(logit) (applied to the expert's
// input); shared_only[t] != 0 (optional) sets sel to -1 (depth gate: shared expert only).
// n_expert <= 512, k <= 16.
void moe_topk_softmax(const float* logits, int64_t n_tok, int32_t n_expert, int32_t k, int32_t* sel, float* w,
                      cudaStream_t s);
void moe_topk_sigmoid(const float* logits, int64_t n_tok, int32_t n_expert, int32_t k, const uint8_t* shared_only,
                      int32_t* sel, float* w, cudaStream_t s);
// Groups the n_pairs = n_tok * k (token, slot) pairs by expert, as the CPU's run_experts: offsets[e]..
// offsets[e+1] index pairs[] (pair ids i = t*k + slot, ascending within an expert) and tokens[] (i / k);
// sel < 0 pairs are left out. offsets: n_expert + 1 ints; pairs, tokens: n_pairs ints.
void moe_group(const int32_t* sel, int64_t n_pairs, int32_t k, int32_t n_expert, int32_t* offsets, int32_t* pairs,
               int32_t* tokens, cudaStream_t s);
// y[i] = x[i / k] * w[i] for the n_pairs pairs (Llama 4: the router weight scales the expert's input).
void moe_scale_inputs(const float* x, const float* w, int64_t n_pairs, int32_t k, int64_t n, float* y, cudaStream_t s);
// out[t] = sum_j w[t*k + j] * y[t*k + j] in slot order (softmax MoE: o_0 w_0 + o_1 w_1 + ..., as the CPU);
// w null: the plain sum (Llama 4, whose weights scaled the inputs); slots with sel < 0 (sel optional) are
// left out (a token with no routed expert gets 0).
void moe_combine(const float* y, const float* w, const int32_t* sel, int64_t n_tok, int32_t k, int64_t n, float* out,
                 cudaStream_t s);

// ---- depth.cu ----------------------------------------------------------------------------------------
// Gate probabilities p[t] = sigmoid(w . xn[t] + b) for n_tok rows of n_embd, and verdicts v[t]: 2 = run
// (p >= tau), 1 = shared expert only (shared_tau >= 0 and p >= shared_tau), 0 = skip (depth_gates.h).
void depth_gate(const float* xn, int64_t n_tok, int64_t n_embd, const float* w, float b, float tau,
                float shared_tau, float* p, uint8_t* verdict, cudaStream_t s);
// idx[0..*count) = the t with flags[t] >= min_flag, ascending (a prefix sum); count on the device.
void compact(const uint8_t* flags, int64_t n, uint8_t min_flag, int32_t* idx, int32_t* count, cudaStream_t s);

}  // namespace cuda
}  // namespace llama4
