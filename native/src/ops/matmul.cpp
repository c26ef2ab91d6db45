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

// One matmul cut into tasks: packed weights as (group chunk) x (token chunk) plus one task for the rows past
// the last whole group (vec_dot); tiled as (row chunk) x (token chunk); the reference schedule as row chunks
// of one vec_dot per (row, token). Every output is computed by exactly one task, the same way whatever the
// chunking (the tests check tiled/packed = reference bit for bit), so plans can be cut for any thread count.
struct MatmulPlan {
  enum Kind { kPacked, kTiled, kRows } kind;
  const WeightView* w;
  const ConvertedActs* a;
  float* y;
  int64_t y_stride;
  PackedMatmulFn packed;
  MatmulTileFn tile;
  VecDotFn dot;
  int64_t chunk = 1;  // groups (packed) or rows per task
  int64_t n_chunks = 1;
  int64_t tok_chunk = 1, n_tok_chunks = 1;
  int64_t n_tasks = 0;

  void run(int64_t task) const {
    const int64_t n_out = w->n_out, n_tokens = a->n_tokens;
    if (kind == kRows) {
      const int64_t r0 = task * chunk, r1 = std::min(n_out, r0 + chunk);
      for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < n_tokens; t++) dot(w->n_in, &y[t * y_stride + r], w->row(r), a->data + (size_t)t * a->row_bytes);
      return;
    }
    if (kind == kPacked && task == n_chunks * n_tok_chunks) {  // the unpacked tail rows
      for (int64_t r = (n_out / kPackRows) * kPackRows; r < n_out; r++)
        for (int64_t t = 0; t < n_tokens; t++) dot(w->n_in, &y[t * y_stride + r], w->row(r), a->data + (size_t)t * a->row_bytes);
      return;
    }
    const int64_t tc = task / n_chunks, cc = task % n_chunks;
    const int64_t t0 = tc * tok_chunk, t1 = std::min(n_tokens, t0 + tok_chunk);
    const uint8_t* act = a->data + (size_t)t0 * a->row_bytes;
    if (kind == kPacked) {
      const int64_t ng = n_out / kPackRows;
      const int64_t g0 = cc * chunk, g1 = std::min(ng, g0 + chunk);
      packed(w->n_in, g1 - g0, t1 - t0, w->packed + (size_t)g0 * w->group_bytes, w->group_bytes, act, a->row_bytes,
             y + t0 * y_stride + g0 * kPackRows, y_stride);
    } else {
      const int64_t r0 = cc * chunk, r1 = std::min(n_out, r0 + chunk);
      tile(w->n_in, r1 - r0, t1 - t0, w->row(r0), w->row_bytes, act, a->row_bytes, y + t0 * y_stride + r0, y_stride);
    }
  }
};

// threads: how many threads the plan's tasks are cut for (1 = one task per token chunk).
MatmulPlan plan_matmul(const CpuKernels& k, const WeightView& w, const ConvertedActs& a, float* y, int64_t y_stride,
                       int64_t threads, bool rows_only, BatchOrder order) {
  MatmulPlan p{};
  p.w = &w;
  p.a = &a;
  p.y = y;
  p.y_stride = y_stride;
  p.dot = k.vec_dot[(int)w.type];
  if (!p.dot) LLAMA4_THROW("no dot product kernel for %s weights", type_name(w.type));
  const int64_t n_out = w.n_out, n_tokens = a.n_tokens;
  p.packed = rows_only || !w.packed ? nullptr : k.mm_packed[(int)w.type];
  p.tile = rows_only ? nullptr : k.mm_tile[(int)w.type];
  if (!rows_only && order == BatchOrder::kLlamaCpp && n_tokens >= 2 && k.mm_tinyblas[(int)w.type] &&
      w.n_in % 8 == 0 && n_out % 4 == 0)
    p.tile = k.mm_tinyblas[(int)w.type];  // what llamafile_sgemm accepts (F32 / F16 / BF16 have no packed layout)
  // Units (packed groups or rows) per task: one task per token chunk on 1 thread; else ~per_thread tasks per
  // thread (dynamic balancing on a shared machine), but >= min_units and >= min_bytes of weights x tokens each,
  // rounded up to a multiple of align.
  const auto task_units = [&](int64_t units, size_t unit_bytes, int per_thread, size_t min_bytes, int64_t min_units,
                              int64_t align) {
    if (threads <= 1) return units;
    const int64_t want_tasks = std::max<int64_t>(1, threads * per_thread / p.n_tok_chunks);
    const size_t bytes = std::max<size_t>(1, unit_bytes * (size_t)std::min<int64_t>(n_tokens, p.tok_chunk));
    const int64_t c = std::max((units + want_tasks - 1) / want_tasks, std::max(min_units, (int64_t)(min_bytes / bytes)));
    return (c + align - 1) / align * align;
  };
  if (p.packed && n_out >= kPackRows) {
    p.kind = MatmulPlan::kPacked;
    const int64_t ng = n_out / kPackRows;
    p.tok_chunk = token_chunk(a);
    p.n_tok_chunks = (n_tokens + p.tok_chunk - 1) / p.tok_chunk;
    p.chunk = task_units(ng, w.group_bytes, 4, 8u << 10, 1, 1);  // ~4 tasks per thread, >= 8 KiB each
    p.n_chunks = (ng + p.chunk - 1) / p.chunk;
    p.n_tasks = p.n_chunks * p.n_tok_chunks + (ng * kPackRows < n_out ? 1 : 0);
    return p;
  }
  if (!p.tile) {
    // Reference schedule: one vec_dot per (row, token).
    p.kind = MatmulPlan::kRows;
    p.chunk = std::min<int64_t>(std::max<int64_t>(1, n_out / (std::max<int64_t>(threads, 1) * 8)), 64);
    p.n_chunks = p.n_tasks = (n_out + p.chunk - 1) / p.chunk;
    return p;
  }
  // Tiled: a token chunk's converted activations stay in L2 (~192 KiB) while the row chunks stream past it;
  // row chunks are multiples of 16 rows (whole micro-tiles).
  p.kind = MatmulPlan::kTiled;
  p.tok_chunk = token_chunk(a);
  p.n_tok_chunks = (n_tokens + p.tok_chunk - 1) / p.tok_chunk;
  p.chunk = task_units(n_out, w.row_bytes, 6, 16u << 10, 16, 16);  // ~6 tasks per thread, >= 16 rows and 16 KiB
  p.n_chunks = (n_out + p.chunk - 1) / p.chunk;
  p.n_tasks = p.n_chunks * p.n_tok_chunks;
  return p;
}

// Runs the plans' tasks, on the calling thread when `parallel` is false, else as one parallel_for over all
// of them: several matrices then cost one wake-up and one tail instead of one each.
void run_plans(const MatmulPlan* plans, int n, bool parallel, ThreadPool& pool) {
  int64_t total = 0;
  for (int i = 0; i < n; i++) total += plans[i].n_tasks;
  if (!parallel || total <= 1) {
    for (int i = 0; i < n; i++)
      for (int64_t t = 0; t < plans[i].n_tasks; t++) plans[i].run(t);
    return;
  }
  pool.parallel_for(total, [&](int64_t task, int) {
    int i = 0;
    while (task >= plans[i].n_tasks) task -= plans[i++].n_tasks;
    plans[i].run(task);
  });
}

}  // namespace

uint64_t weight_read_bytes(const WeightView& w) {
  const int64_t ng = w.packed ? w.n_out / kPackRows : 0;
  return (uint64_t)ng * w.group_bytes + (uint64_t)(w.n_out - ng * kPackRows) * w.row_bytes;
}

void matmul_converted(const WeightView& w, const ConvertedActs& a, float* y, int64_t y_stride, ThreadPool& pool,
                      BatchOrder order) {
  matmul_converted_with(cpu_kernels(), w, a, y, y_stride, pool, false, order);
}

void matmul_converted_with(const CpuKernels& k, const WeightView& w, const ConvertedActs& a, float* y,
                           int64_t y_stride, ThreadPool& pool, bool rows_only, BatchOrder order) {
  const MatmulJob job{w, &a, y, y_stride, order};
  matmul_jobs_with(k, &job, 1, pool, rows_only);
}

void matmul_jobs(const MatmulJob* jobs, int n, ThreadPool& pool) { matmul_jobs_with(cpu_kernels(), jobs, n, pool, false); }

void matmul_jobs_with(const CpuKernels& k, const MatmulJob* jobs, int n, ThreadPool& pool, bool rows_only) {
  constexpr int kMaxJobs = 8;
  if (n > kMaxJobs) LLAMA4_THROW("matmul_jobs: %d matrices in one call (at most %d)", n, kMaxJobs);
  MatmulPlan plans[kMaxJobs];
  double work = 0;  // weight bytes x tokens of all the jobs
  for (int i = 0; i < n; i++) work += (double)weight_read_bytes(jobs[i].w) * (double)jobs[i].a->n_tokens;
  const int64_t threads = work < kParallelWork ? 1 : pool.size();
  for (int i = 0; i < n; i++) plans[i] = plan_matmul(k, jobs[i].w, *jobs[i].a, jobs[i].y, jobs[i].y_stride, threads, rows_only,
                           jobs[i].order);
  run_plans(plans, n, threads > 1, pool);
}

void matmul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y, int64_t y_stride,
            ThreadPool& pool, MatmulScratch& scratch) {
  ConvertedActs a = convert_activations(w.type, x, x_stride, w.n_in, n_tokens, pool, scratch.act);
  matmul_converted(w, a, y, y_stride, pool);
}

}  // namespace llama4
