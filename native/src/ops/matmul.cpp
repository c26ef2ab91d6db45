#include "ops/matmul.h"

#include <algorithm>

#include "ops/cpu/kernels.h"
#include "runtime/error.h"

namespace llama4 {

ConvertedActs convert_activations(GgmlType weight_type, const float* x, int64_t x_stride, int64_t n_in,
                                  int64_t n_tokens, ThreadPool& pool, std::vector<uint8_t>& buf) {
  const CpuKernels& k = cpu_kernels();
  const GgmlType at = type_traits(weight_type).vec_dot_type;
  const FromFloatFn q = k.quantize_act[(int)at];
  if (!q) LLAMA4_THROW("no activation conversion for %s weights", type_name(weight_type));
  if (n_in % type_traits(at).blck_size != 0)
    LLAMA4_THROW("row length %lld is not a multiple of the %s block size", (long long)n_in, type_name(at));
  const size_t rb = row_size(at, n_in);
  if (buf.size() < rb * (size_t)n_tokens) buf.resize(rb * (size_t)n_tokens);
  uint8_t* out = buf.data();
  if (n_tokens == 1) {
    q(x, out, n_in);
  } else {
    pool.parallel_for(n_tokens, [&](int64_t t, int) { q(x + t * x_stride, out + (size_t)t * rb, n_in); });
  }
  return ConvertedActs{at, n_in, n_tokens, rb, out};
}

void matmul_converted(const WeightView& w, const ConvertedActs& a, float* y, int64_t y_stride, ThreadPool& pool) {
  const VecDotFn dot = cpu_kernels().vec_dot[(int)w.type];
  if (!dot) LLAMA4_THROW("no dot product kernel for %s weights", type_name(w.type));
  const int64_t n_out = w.n_out;
  // Rows per task: enough work per task to amortise scheduling, enough tasks to balance threads.
  const int64_t n_threads = pool.size();
  int64_t rows_per_task = std::max<int64_t>(1, n_out / (n_threads * 8));
  rows_per_task = std::min<int64_t>(rows_per_task, 64);
  const int64_t n_tasks = (n_out + rows_per_task - 1) / rows_per_task;
  pool.parallel_for(n_tasks, [&](int64_t task, int) {
    const int64_t r0 = task * rows_per_task;
    const int64_t r1 = std::min(n_out, r0 + rows_per_task);
    for (int64_t r = r0; r < r1; r++) {
      const uint8_t* wr = w.row(r);
      for (int64_t t = 0; t < a.n_tokens; t++) dot(w.n_in, &y[t * y_stride + r], wr, a.data + (size_t)t * a.row_bytes);
    }
  });
}

void matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y, int64_t y_stride,
            ThreadPool& pool, MatmulScratch& scratch) {
  ConvertedActs a = convert_activations(w.type, x, x_stride, w.n_in, n_tokens, pool, scratch.act);
  matmul_converted(w, a, y, y_stride, pool);
}

}  // namespace llama4
