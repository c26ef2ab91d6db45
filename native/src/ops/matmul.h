// Matrix products as llama.cpp's CPU backend computes them: activations are first converted to the
// weight type's vec_dot_type (Q8_0 / Q8_1 / Q8_K / F16 / BF16 / F32), then every output is one dot
// product of a weight row with a converted activation row.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/types.h"
#include "runtime/thread_pool.h"

namespace llama4 {

// A 2-D weight matrix [n_in (contiguous), n_out] in any type, possibly one expert's slab of a 3-D tensor.
// `packed` (optional): the same rows' whole groups of 8 in the type's packed layout (ops/packed.h),
// group_bytes apart; matmul then uses the packed kernel for rows < 8 * (n_out / 8) and the plain rows
// for the rest.
struct WeightView {
  GgmlType type = GgmlType::F32;
  int64_t n_in = 0;
  int64_t n_out = 0;
  size_t row_bytes = 0;
  const uint8_t* data = nullptr;
  const uint8_t* packed = nullptr;
  size_t group_bytes = 0;
  const uint8_t* row(int64_t r) const { return data + (size_t)r * row_bytes; }
};

// Weight bytes one matmul over w reads: its packed groups plus the plain rows past them, or every plain row.
uint64_t weight_read_bytes(const WeightView& w);

// Scratch for converted activations, grown on demand and reused across calls.
struct MatmulScratch {
  std::vector<uint8_t> act;
};

// y[t * n_out + o] = dot(W row o, x[t * x_stride ...]) for t < n_tokens.
void matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y, int64_t y_stride,
            ThreadPool& pool, MatmulScratch& scratch);

// How a batch (>= 2 tokens) with F32 / F16 / BF16 weights is summed. llama.cpp's mul_mat hands such a batch
// to llamafile's tinyBLAS when n_in % 8 == 0 and n_out % 4 == 0 (one 8-lane FMA chain per output instead of
// vec_dot's four); its mul_mat_id (routed experts) never does, and one token always takes vec_dot.
// kLlamaCpp follows that (parity of prompt logits); kVecDot keeps vec_dot's order for every batch, so that a
// batch equals its tokens run one by one (routed experts; sequential / depth-gated passes). Quantized
// weights are unaffected (their tiled and packed kernels give the same bits for any token count).
enum class BatchOrder : uint8_t { kLlamaCpp, kVecDot };

// Same, with the activations already converted (by convert_activations) — lets several matrices that
// read the same input (Q/K/V, gate/up, experts) share one conversion.
struct ConvertedActs {
  GgmlType type;
  int64_t n_in;
  int64_t n_tokens;
  size_t row_bytes;
  const uint8_t* data;
};
ConvertedActs convert_activations(GgmlType weight_type, const float* x, int64_t x_stride, int64_t n_in,
                                  int64_t n_tokens, ThreadPool& pool, std::vector<uint8_t>& buf);
void matmul_converted(const WeightView& w, const ConvertedActs& a, float* y, int64_t y_stride, ThreadPool& pool,
                      BatchOrder order = BatchOrder::kLlamaCpp);

// Several matrices (each with its converted activations) in one parallel pass, e.g. Q/K/V or gate/up of
// one block: one wake-up of the pool and one tail instead of one per matrix. Results are those of separate
// matmul_converted calls, bit for bit. At most 8 jobs.
struct MatmulJob {
  WeightView w;
  const ConvertedActs* a;
  float* y;
  int64_t y_stride;
  BatchOrder order = BatchOrder::kLlamaCpp;
};
void matmul_jobs(const MatmulJob* jobs, int n, ThreadPool& pool);

// The same with an explicit kernel table (tests and benchmarks run every ISA level this host has).
// rows_only = true forces the reference schedule: one vec_dot per (row, token), no tiled or packed kernels
// (and no tinyBLAS order: it implies kVecDot).
struct CpuKernels;
ConvertedActs convert_activations_with(const CpuKernels& k, GgmlType weight_type, const float* x, int64_t x_stride,
                                       int64_t n_in, int64_t n_tokens, ThreadPool& pool, std::vector<uint8_t>& buf);
void matmul_converted_with(const CpuKernels& k, const WeightView& w, const ConvertedActs& a, float* y,
                           int64_t y_stride, ThreadPool& pool, bool rows_only = false,
                           BatchOrder order = BatchOrder::kLlamaCpp);
void matmul_jobs_with(const CpuKernels& k, const MatmulJob* jobs, int n, ThreadPool& pool, bool rows_only = false);

}  // namespace llama4
