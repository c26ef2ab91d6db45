// quantizeRows: converts a slab of whole rows (F32 / F16 / BF16 source bytes) to any type with a reference
// quantizer, off the JS thread and in parallel over rows. N-API glue plus the row loop; the per-block
// math lives in ops/ (quants_ref.cpp, quantize.cpp) behind the type-traits table.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "ops/types.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace llama4 {

namespace {

struct QuantJob {
  std::shared_ptr<std::vector<uint8_t>> src;
  GgmlType src_type = GgmlType::F32;
  GgmlType dst_type = GgmlType::F32;
  int64_t n_per_row = 0;
  int64_t n_rows = 0;
  int n_threads = 1;
  bool stats = false;
};

struct QuantResult {
  std::unique_ptr<std::vector<uint8_t>> data;
  double sq_err = 0;  // sum over all values of (dequantized - source)^2
  double sq_ref = 0;  // sum of source^2
  double max_err = 0;
};

// Source row -> f32.
void load_row(GgmlType t, const uint8_t* src, float* dst, int64_t n) {
  switch (t) {
    case GgmlType::F32: std::memcpy(dst, src, (size_t)n * 4); break;
    default: type_traits(t).to_float(src, dst, n); break;
  }
}

QuantResult run(const QuantJob& job) {
  const TypeTraits& dt = type_traits(job.dst_type);
  const size_t src_row = row_size(job.src_type, job.n_per_row);
  const size_t dst_row = row_size(job.dst_type, job.n_per_row);
  QuantResult r;
  r.data = std::make_unique<std::vector<uint8_t>>(dst_row * (size_t)job.n_rows);
  // Tasks of whole rows, ~32K values each (llama.cpp uses 16K-value chunks); blocks never span rows,
  // so the split changes nothing in the bytes.
  const int64_t rows_per_task = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, job.n_per_row));
  const int64_t n_tasks = (job.n_rows + rows_per_task - 1) / rows_per_task;
  const int n_threads = (int)std::max<int64_t>(1, std::min<int64_t>(job.n_threads, n_tasks));
  std::vector<double> err(n_tasks, 0.0), ref(n_tasks, 0.0), mx(n_tasks, 0.0);
  std::vector<std::vector<float>> bufs(n_threads, std::vector<float>((size_t)job.n_per_row * 2));
  auto body = [&](int64_t task, int thread) {
    float* x = bufs[thread].data();
    float* back = x + job.n_per_row;
    const int64_t r0 = task * rows_per_task, r1 = std::min(job.n_rows, r0 + rows_per_task);
    double e = 0, s = 0, m = 0;
    for (int64_t row = r0; row < r1; row++) {
      load_row(job.src_type, job.src->data() + row * src_row, x, job.n_per_row);
      uint8_t* out = r.data->data() + row * dst_row;
      dt.from_float(x, out, job.n_per_row);
      if (job.stats) {
        dt.to_float(out, back, job.n_per_row);
        for (int64_t i = 0; i < job.n_per_row; i++) {
          const double d = (double)back[i] - (double)x[i];
          e += d * d;
          s += (double)x[i] * x[i];
          m = std::max(m, d < 0 ? -d : d);
        }
      }
    }
    err[task] = e;
    ref[task] = s;
    mx[task] = m;
  };
  if (n_threads == 1) {
    for (int64_t t = 0; t < n_tasks; t++) body(t, 0);
  } else {
    ThreadPool pool(n_threads);
    pool.parallel_for(n_tasks, [&](int64_t t, int th) { body(t, th); });
  }
  for (int64_t t = 0; t < n_tasks; t++) {  // fixed order: the sums do not depend on the thread count
    r.sq_err += err[t];
    r.sq_ref += ref[t];
    r.max_err = std::max(r.max_err, mx[t]);
  }
  return r;
}

GgmlType type_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) LLAMA4_THROW("quantizeRows: %s type id must be a number", what);
  const uint32_t id = info[i].As<Napi::Number>().Uint32Value();
  if (!type_id_known(id)) LLAMA4_THROW("quantizeRows: unknown %s type id %u", what, id);
  return (GgmlType)id;
}

// quantizeRows(srcTypeId, src: Uint8Array, dstTypeId, nPerRow, nThreads, stats?):
//   Promise<{ data: Uint8Array, sqErr: number, sqRef: number, maxErr: number }>
// Argument errors reject the promise too (never a synchronous throw), so callers handle one error path.
Napi::Value quantize_rows(const Napi::CallbackInfo& info) {
  try {
    QuantJob job;
    job.src_type = type_arg(info, 0, "source");
    if (job.src_type != GgmlType::F32 && job.src_type != GgmlType::F16 && job.src_type != GgmlType::BF16)
      LLAMA4_THROW("quantizeRows: source type %s is not F32, F16 or BF16", type_name(job.src_type));
    if (!info[1].IsTypedArray()) LLAMA4_THROW("quantizeRows: source must be a Uint8Array");
    job.dst_type = type_arg(info, 2, "target");
    const TypeTraits& dt = type_traits(job.dst_type);
    if (!dt.from_float) LLAMA4_THROW("quantizeRows: no quantizer for type %s", dt.name);
    if (job.dst_type != GgmlType::F32 && !dt.to_float) LLAMA4_THROW("quantizeRows: no dequantizer for type %s", dt.name);
    job.n_per_row = info[3].As<Napi::Number>().Int64Value();
    if (job.n_per_row <= 0 || job.n_per_row % dt.blck_size != 0)
      LLAMA4_THROW("quantizeRows: row length %lld is not a multiple of the %s block size %lld", (long long)job.n_per_row,
                   dt.name, (long long)dt.blck_size);
    job.n_threads = std::max(1, info[4].IsNumber() ? (int)info[4].As<Napi::Number>().Int32Value() : 1);
    job.stats = info.Length() > 5 && info[5].ToBoolean().Value();
    Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
    const size_t bytes = ta.ByteLength();
    const size_t src_row = row_size(job.src_type, job.n_per_row);
    if (bytes % src_row != 0)
      LLAMA4_THROW("quantizeRows: %zu source bytes are not whole rows of %lld %s values", bytes,
                   (long long)job.n_per_row, type_name(job.src_type));
    job.n_rows = (int64_t)(bytes / src_row);
    if (job.n_rows == 0) LLAMA4_THROW("quantizeRows: no rows given");
    const uint8_t* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    // Copied on the JS thread: the worker must not read memory the GC or JS code may move or change.
    job.src = std::make_shared<std::vector<uint8_t>>(p, p + bytes);
    return run_async<QuantResult>(
        info.Env(), [job]() { return run(job); },
        [](Napi::Env env, QuantResult& r) -> Napi::Value {
          std::vector<uint8_t>* v = r.data.release();
          Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
              env, v->data(), v->size(), [](Napi::Env, void*, std::vector<uint8_t>* h) { delete h; }, v);
          Napi::Object o = Napi::Object::New(env);
          o.Set("data", Napi::Uint8Array::New(env, v->size(), ab, 0));
          o.Set("sqErr", r.sq_err);
          o.Set("sqRef", r.sq_ref);
          o.Set("maxErr", r.max_err);
          return o;
        });
  } catch (const std::exception& e) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(info.Env());
    d.Reject(Napi::Error::New(info.Env(), e.what()).Value());
    return d.Promise();
  }
}

}  // namespace

void init_quantize_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeRows", Napi::Function::New(env, quantize_rows, "quantizeRows"));
}

}  // namespace llama4
