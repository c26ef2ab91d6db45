#include "ops/matmul.h"

#include <algorithm>

#include "ops/cpu/kernels.h"
#include "runtime/error.h"

namespace llama4 {

ConvertedActs convert_activations(GgmlType weight_type, const float* x, int64_t x_stride, int64_t n_in,
                                  int64_t n_tokens, ThreadPool& pool, std::vector<uint8_t>& buf) {
  return convert_activations_with(cpu_kernels(), weight_type, x, x_stride, n_in, n_tokens, pool, buf);
}

ConvertedActs convert_activations_with(const CpuKernels& k, GgmlType weight_type, const float* x, int64_t x_stride,
                                       int64_t n_in, int64_t n_tokens, ThreadPool& pool, std::vector<uint8_t>& buf) {
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

namespace {

// Below this many weight bytes x tokens a matmul runs on the calling thread: waking or signalling a worker
// costs a few microseconds (more when a core is shared with the JS thread), which is what such a matmul
// takes in all (~160 KiB from L2). Tiny models then leave the second thread asleep instead of slower.
constexpr double kParallelWork = 160.0 * 1024;

// Tokens per task: a token chunk's converted activations stay in L2 (~192 KiB) while the weights stream past.
int64_t token_chunk(const ConvertedActs& a) {
  return std::max<int64_t>(
      16, std::min<int64_t>(a.n_tokens, (int64_t)((192u << 10) / std::max<size_t>(1, a.row_bytes)) & ~(int64_t)3));
}

// Packed weights: tasks are (group chunk) x (token chunk); the rows past the last whole group use vec_dot.
void matmul_packed(PackedMatmulFn kernel, VecDotFn dot, const WeightView& w, const ConvertedActs& a, float* y,
                   int64_t y_stride, ThreadPool& pool) {
  const int64_t n_out = w.n_out, n_tokens = a.n_tokens;
  const int64_t ng = n_out / kPackRows;
  const int64_t tail0 = ng * kPackRows;
  const int64_t tok_chunk = token_chunk(a);
  const int64_t n_tok_chunks = (n_tokens + tok_chunk - 1) / tok_chunk;
  const double work = (double)w.group_bytes * (double)ng * (double)n_tokens;
  const int64_t threads = work < kParallelWork ? 1 : pool.size();
  int64_t groups_per_task = ng;
  if (threads > 1) {
    // ~4 tasks per thread for balance on a shared machine, but >= 8 KiB of weights x tokens each.
    const int64_t want_tasks = std::max<int64_t>(1, threads * 4 / n_tok_chunks);
    groups_per_task = (ng + want_tasks - 1) / want_tasks;
    const int64_t min_groups = std::max<int64_t>(
        1, (int64_t)((8u << 10) / std::max<size_t>(1, w.group_bytes * (size_t)std::min<int64_t>(n_tokens, tok_chunk))));
    groups_per_task = std::max(groups_per_task, min_groups);
  }
  const int64_t n_group_chunks = (ng + groups_per_task - 1) / groups_per_task;
  const int64_t n_tasks = n_group_chunks * n_tok_chunks + (tail0 < n_out ? 1 : 0);
  auto run_task = [&](int64_t task, int) {
    if (task == n_group_chunks * n_tok_chunks) {  // the unpacked tail rows
      for (int64_t r = tail0; r < n_out; r++)
        for (int64_t t = 0; t < n_tokens; t++) dot(w.n_in, &y[t * y_stride + r], w.row(r), a.data + (size_t)t * a.row_bytes);
      return;
    }
    const int64_t tc = task / n_group_chunks, gc = task % n_group_chunks;
    const int64_t g0 = gc * groups_per_task, g1 = std::min(ng, g0 + groups_per_task);
    const int64_t t0 = tc * tok_chunk, t1 = std::min(n_tokens, t0 + tok_chunk);
    kernel(w.n_in, g1 - g0, t1 - t0, w.packed + (size_t)g0 * w.group_bytes, w.group_bytes,
           a.data + (size_t)t0 * a.row_bytes, a.row_bytes, y + t0 * y_stride + g0 * kPackRows, y_stride);
  };
  if (threads == 1 || n_tasks == 1) {
    for (int64_t i = 0; i < n_tasks; i++) run_task(i, 0);
  } else {
    pool.parallel_for(n_tasks, [&](int64_t task, int thread) { run_task(task, thread); });
  }
}

}  // namespace

void matmul_converted(const WeightView& w, const ConvertedActs& a, float* y, int64_t y_stride, ThreadPool& pool) {
  matmul_converted_with(cpu_kernels(), w, a, y, y_stride, pool, false);
}

void matmul_converted_with(const CpuKernels& k, const WeightView& w, const ConvertedActs& a, float* y,
                           int64_t y_stride, ThreadPool& pool, bool rows_only) {
  const VecDotFn dot = k.vec_dot[(int)w.type];
  if (!dot) LLAMA4_THROW("no dot product kernel for %s weights", type_name(w.type));
  const int64_t n_out = w.n_out;
  const int64_t n_tokens = a.n_tokens;
  const int64_t n_threads = pool.size();
  const PackedMatmulFn packed = rows_only || !w.packed ? nullptr : k.mm_packed[(int)w.type];
  if (packed && n_out >= kPackRows) {
    matmul_packed(packed, dot, w, a, y, y_stride, pool);
    return;
  }
  const MatmulTileFn tile = rows_only ? nullptr : k.mm_tile[(int)w.type];
  const double work = (double)w.row_bytes * (double)n_out * (double)n_tokens;
  if (!tile) {
    // Reference schedule: one vec_dot per (row, token).
    int64_t rows_per_task = std::max<int64_t>(1, n_out / (n_threads * 8));
    rows_per_task = std::min<int64_t>(rows_per_task, 64);
    const int64_t n_tasks = (n_out + rows_per_task - 1) / rows_per_task;
    auto body = [&](int64_t task, int) {
      const int64_t r0 = task * rows_per_task;
      const int64_t r1 = std::min(n_out, r0 + rows_per_task);
      for (int64_t r = r0; r < r1; r++) {
        const uint8_t* wr = w.row(r);
        for (int64_t t = 0; t < n_tokens; t++) dot(w.n_in, &y[t * y_stride + r], wr, a.data + (size_t)t * a.row_bytes);
      }
    };
    if (work < kParallelWork) {
      for (int64_t i = 0; i < n_tasks; i++) body(i, 0);
    } else {
      pool.parallel_for(n_tasks, body);
    }
    return;
  }
  // Tiled: tasks are (row chunk) x (token chunk). A token chunk's converted activations stay in L2 (~192 KiB)
  // while the row chunks stream past it; row chunks are multiples of 16 rows (whole micro-tiles).
  const int64_t tok_chunk = token_chunk(a);
  const int64_t n_tok_chunks = (n_tokens + tok_chunk - 1) / tok_chunk;
  const int64_t threads = work < kParallelWork ? 1 : n_threads;
  // Aim at ~6 tasks per thread (dynamic balancing on a shared machine), but >= 16 rows and >= 16 KiB each.
  int64_t rows_per_task = n_out;
  if (threads > 1) {
    const int64_t want_tasks = std::max<int64_t>(1, threads * 6 / n_tok_chunks);
    rows_per_task = (n_out + want_tasks - 1) / want_tasks;
    const int64_t min_rows = std::max<int64_t>(16, (int64_t)((16u << 10) / std::max<size_t>(1, w.row_bytes * (size_t)std::min<int64_t>(n_tokens, tok_chunk))));
    rows_per_task = std::max(rows_per_task, min_rows);
    rows_per_task = (rows_per_task + 15) & ~(int64_t)15;
  }
  const int64_t n_row_chunks = (n_out + rows_per_task - 1) / rows_per_task;
  const int64_t n_tasks = n_row_chunks * n_tok_chunks;
  auto run_task = [&](int64_t task, int) {
    const int64_t tc = task / n_row_chunks, rc = task % n_row_chunks;
    const int64_t r0 = rc * rows_per_task, r1 = std::min(n_out, r0 + rows_per_task);
    const int64_t t0 = tc * tok_chunk, t1 = std::min(n_tokens, t0 + tok_chunk);
    tile(w.n_in, r1 - r0, t1 - t0, w.row(r0), w.row_bytes, a.data + (size_t)t0 * a.row_bytes, a.row_bytes,
         y + t0 * y_stride + r0, y_stride);
  };
  if (threads == 1 || n_tasks == 1) {
    for (int64_t i = 0; i < n_tasks; i++) run_task(i, 0);
  } else {
    pool.parallel_for(n_tasks, [&](int64_t task, int thread) { run_task(task, thread); });
  }
}

void matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y, int64_t y_stride,
            ThreadPool& pool, MatmulScratch& scratch) {
  ConvertedActs a = convert_activations(w.type, x, x_stride, w.n_in, n_tokens, pool, scratch.act);
  matmul_converted(w, a, y, y_stride, pool);
}

}  // namespace llama4
