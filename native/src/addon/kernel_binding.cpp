// Test access to the CPU kernel tables (vec_dot per ISA level against the generic reference).
//   kernelIsas(): string[]                       levels this host can run ("scalar" always)
//   kernelDot(typeId, weightBytes, activations, isa): number
//       quantizes the activations with that level's quantize_act[vec_dot_type], then one vec_dot
//   quantizeAct(actTypeId, values, isa): Uint8Array
//   kernelBench(typeId, weightBytes, activations, isa, iters): number
//       weightBytes holds R rows of activations.length elements; runs iters single-thread mat-vecs
//       (quantize once, then R dot products per iteration) in a native loop; returns seconds per mat-vec.
//   matmulKernel(typeId, weightBytes, activations, nTokens, isa, threads, rowsOnly, packed, order): Float32Array
//       y[t * nOut + o] through matmul_converted_with (that level's tiled kernels, or with rowsOnly the
//       reference schedule: one vec_dot per (row, token)); nOut = weight rows. order 'vecdot' keeps vec_dot's
//       order for batches of F32/F16/BF16 weights (default 'llamacpp': tinyBLAS's where llama.cpp takes it).
//   matmulBench(typeId, nIn, nOut, nTokens, threads, iters, isa?, rowsOnly?, coldBytes?, cpuClock?): number
//       (cpuClock with threads = 1: time the calling thread's CPU time instead of wall time)
//       random weights allocated natively; times iters x matmul() (activation conversion included) on a
//       ThreadPool of `threads`; returns the minimum seconds per call over iters individually timed calls
//       (calls under ~20 us are timed in small batches).
//   attnKernel(isa, op, args): {out: Float32Array, sum?: number}
//       one attention/element-wise helper of ops/cpu/ops.h through that level's table (attn_kernels):
//       op 'swiglu' {x: gate, y: up}, 'round_f16' {x, scale}, 'soft_max' {x, max} (+ sum),
//       'dot_f32' {x, y}, 'dot_f16' {h: Uint16Array, y, tinyblas}, 'dot_rows' {rows: Uint8Array, stride,
//       f16, nRows, y, n, tinyblas}, 'weighted_rows' {x: p, rows, stride, f16, firstCell, n, dim, singleToken},
//       'attn_partial' {q, g, hd, k, kStride, k16, v, vStride, v16, hdv, n, scale} (out: m[g], l[g], acc[g][hdv]),
//       'attn_partial_q' {q, g, hd, k, kStride, kType, v, vStride, vType, hdv, n, scale} (a quantized cache; isa
//       'avx512' allowed: that level's dot kernels), 'fwht' {x, n} (Walsh-Hadamard groups of n; any isa)
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstring>
#include <string>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/ops.h"
#include "ops/matmul.h"
#include "ops/packed.h"
#include "runtime/thread_pool.h"
#include "ops/types.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"
#include "runtime/kv_cache.h"

namespace llama4 {

namespace {

bool isa_supported(IsaLevel l) {
  const CpuFeatures& f = cpu_features();
  switch (l) {
    case IsaLevel::Scalar: return true;
    case IsaLevel::Avx2: return f.has_avx2_set();
    case IsaLevel::Avx512: return f.has_avx2_set() && f.has_avx512_set();
  }
  return false;
}

const CpuKernels& kernels_arg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) LLAMA4_THROW("isa must be 'scalar', 'avx2' or 'avx512'");
  const std::string s = info[i].As<Napi::String>().Utf8Value();
  IsaLevel l;
  if (s == "scalar") l = IsaLevel::Scalar;
  else if (s == "avx2") l = IsaLevel::Avx2;
  else if (s == "avx512") l = IsaLevel::Avx512;
  else LLAMA4_THROW("unknown isa '%s' (scalar, avx2, avx512)", s.c_str());
  if (!isa_supported(l)) LLAMA4_THROW("isa '%s' is not supported by this CPU", s.c_str());
  return cpu_kernels(l);
}

const TypeTraits& traits_arg(const Napi::CallbackInfo& info, size_t i, GgmlType* out) {
  if (!info[i].IsNumber()) LLAMA4_THROW("type id must be a number");
  const uint32_t id = info[i].As<Napi::Number>().Uint32Value();
  if (!type_id_known(id)) LLAMA4_THROW("unknown tensor type id %u", id);
  *out = (GgmlType)id;
  return type_traits((GgmlType)id);
}

std::vector<float> floats_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    LLAMA4_THROW("%s must be a Float32Array", what);
  Napi::Float32Array v = info[i].As<Napi::Float32Array>();
  return std::vector<float>(v.Data(), v.Data() + v.ElementLength());
}

std::vector<uint8_t> bytes_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    LLAMA4_THROW("%s must be a Uint8Array", what);
  Napi::Uint8Array b = info[i].As<Napi::Uint8Array>();
  // Copied into a fresh (malloc-aligned) buffer: the kernels read block fields with wide loads.
  return std::vector<uint8_t>(b.Data(), b.Data() + b.ByteLength());
}

// Converts activations for weight type wt with table k; returns the converted row.
std::vector<uint8_t> convert_acts(const CpuKernels& k, GgmlType wt, const std::vector<float>& x) {
  const TypeTraits& tt = type_traits(wt);
  const GgmlType at = tt.vec_dot_type;
  const FromFloatFn q = k.quantize_act[(int)at];
  if (!q) LLAMA4_THROW("no activation conversion to %s", type_name(at));
  const int64_t n = (int64_t)x.size();
  if (n % tt.blck_size != 0 || n % type_traits(at).blck_size != 0)
    LLAMA4_THROW("n=%lld is not a multiple of the %s / %s block size", (long long)n, tt.name, type_name(at));
  std::vector<uint8_t> out(row_size(at, n) + 64);
  q(x.data(), out.data(), n);
  return out;
}

Napi::Value kernel_isas(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Array arr = Napi::Array::New(info.Env());
    uint32_t k = 0;
    for (IsaLevel l : {IsaLevel::Scalar, IsaLevel::Avx2, IsaLevel::Avx512})
      if (isa_supported(l)) arr.Set(k++, isa_name(l));
    return arr;
  });
}

Napi::Value kernel_dot(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GgmlType wt;
    const TypeTraits& tt = traits_arg(info, 0, &wt);
    std::vector<uint8_t> w = bytes_arg(info, 1, "kernelDot: weightBytes");
    const std::vector<float> x = floats_arg(info, 2, "kernelDot: activations");
    const CpuKernels& k = kernels_arg(info, 3);
    const VecDotFn dot = k.vec_dot[(int)wt];
    if (!dot) LLAMA4_THROW("kernelDot: no %s dot product kernel for %s", k.isa, tt.name);
    const int64_t n = (int64_t)x.size();
    const std::vector<uint8_t> a = convert_acts(k, wt, x);
    if (w.size() != row_size(wt, n))
      LLAMA4_THROW("kernelDot: %zu weight bytes given, %zu needed for %lld %s elements", w.size(), row_size(wt, n),
                   (long long)n, tt.name);
    w.resize(w.size() + 64);  // slack: no kernel may read past the row, but keep a bad one from faulting
    float s = 0.0f;
    dot(n, &s, w.data(), a.data());
    return Napi::Number::New(info.Env(), s);
  });
}

Napi::Value quantize_act(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GgmlType at;
    const TypeTraits& tt = traits_arg(info, 0, &at);
    const std::vector<float> x = floats_arg(info, 1, "quantizeAct: values");
    const CpuKernels& k = kernels_arg(info, 2);
    const FromFloatFn q = k.quantize_act[(int)at];
    if (!q) LLAMA4_THROW("quantizeAct: %s is not an activation type", tt.name);
    const int64_t n = (int64_t)x.size();
    if (n % tt.blck_size != 0) LLAMA4_THROW("quantizeAct: n=%lld is not a multiple of %lld", (long long)n, (long long)tt.blck_size);
    const size_t bytes = row_size(at, n);
    std::vector<uint8_t> tmp(bytes + 64);
    q(x.data(), tmp.data(), n);
    Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), bytes);
    std::memcpy(out.Data(), tmp.data(), bytes);
    return out;
  });
}

Napi::Value kernel_bench(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GgmlType wt;
    const TypeTraits& tt = traits_arg(info, 0, &wt);
    const std::vector<uint8_t> w = bytes_arg(info, 1, "kernelBench: weightBytes");
    const std::vector<float> x = floats_arg(info, 2, "kernelBench: activations");
    const CpuKernels& k = kernels_arg(info, 3);
    const int64_t iters = info[4].IsNumber() ? info[4].As<Napi::Number>().Int64Value() : 1;
    const VecDotFn dot = k.vec_dot[(int)wt];
    if (!dot) LLAMA4_THROW("kernelBench: no %s dot product kernel for %s", k.isa, tt.name);
    const int64_t n = (int64_t)x.size();
    const size_t rb = row_size(wt, n);
    if (rb == 0 || w.size() % rb != 0) LLAMA4_THROW("kernelBench: weight bytes are not whole rows");
    const int64_t rows = (int64_t)(w.size() / rb);
    const std::vector<uint8_t> a = convert_acts(k, wt, x);
    std::vector<float> y((size_t)rows);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t it = 0; it < iters; it++)
      for (int64_t r = 0; r < rows; r++) dot(n, &y[(size_t)r], w.data() + (size_t)r * rb, a.data());
    const auto t1 = std::chrono::steady_clock::now();
    volatile float sink = y[0];
    (void)sink;
    return Napi::Number::New(info.Env(), std::chrono::duration<double>(t1 - t0).count() / (double)(iters > 0 ? iters : 1));
  });
}

Napi::Value matmul_kernel(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GgmlType wt;
    const TypeTraits& tt = traits_arg(info, 0, &wt);
    std::vector<uint8_t> w = bytes_arg(info, 1, "matmulKernel: weightBytes");
    const std::vector<float> x = floats_arg(info, 2, "matmulKernel: activations");
    const int64_t n_tokens = info[3].As<Napi::Number>().Int64Value();
    const CpuKernels& k = kernels_arg(info, 4);
    const int threads = info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 1;
    const bool rows_only = info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
    if (n_tokens <= 0 || x.size() % (size_t)n_tokens != 0) LLAMA4_THROW("matmulKernel: bad token count");
    const int64_t n_in = (int64_t)x.size() / n_tokens;
    const size_t rb = row_size(wt, n_in);
    if (n_in % tt.blck_size != 0 || rb == 0 || w.size() % rb != 0)
      LLAMA4_THROW("matmulKernel: weight bytes are not whole rows of %lld %s elements", (long long)n_in, tt.name);
    const int64_t n_out = (int64_t)(w.size() / rb);
    w.resize(w.size() + 64);
    WeightView wv{wt, n_in, n_out, rb, w.data()};
    // packed: the whole groups of 8 rows through the type's packed layout and this level's packed kernel
    PackedWeights pw;
    if (info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value()) {
      if (!packed_format(wt) || !k.mm_packed[(int)wt]) LLAMA4_THROW("matmulKernel: no %s packed kernel for %s", k.isa, tt.name);
      pw = pack_weights(wt, n_in, n_out, 1, w.data(), rb);
      wv.packed = pw.data();
      wv.group_bytes = pw.group_bytes;
    }
    ThreadPool pool(threads);
    std::vector<uint8_t> buf;
    const ConvertedActs a = convert_activations_with(k, wt, x.data(), n_in, n_in, n_tokens, pool, buf);
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), (size_t)(n_out * n_tokens));
    std::vector<float> y((size_t)(n_out * n_tokens));
    BatchOrder order = BatchOrder::kLlamaCpp;
    if (info[8].IsString()) {
      const std::string o = info[8].As<Napi::String>().Utf8Value();
      if (o == "vecdot")
        order = BatchOrder::kVecDot;
      else if (o != "llamacpp")
        LLAMA4_THROW("matmulKernel: order must be 'llamacpp' or 'vecdot', not '%s'", o.c_str());
    }
    matmul_converted_with(k, wv, a, y.data(), n_out, pool, rows_only, order);
    std::memcpy(out.Data(), y.data(), y.size() * sizeof(float));
    return out;
  });
}

// Random but valid weights: random bytes, f16 scale fields set to moderate values, float types random.
void fill_random_weights(GgmlType t, int64_t n_in, int64_t n_out, uint8_t* dst) {
  const TypeTraits& tt = type_traits(t);
  uint64_t s = 0x9E3779B97F4A7C15ULL;
  auto next = [&]() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  const size_t bytes = row_size(t, n_in) * (size_t)n_out;
  if (!tt.is_quantized) {
    const int64_t n = n_in * n_out;
    std::vector<float> f((size_t)n_in);
    for (int64_t r = 0; r < n_out; r++) {
      for (auto& v : f) v = (float)((double)(next() >> 11) / 9007199254740992.0 - 0.5);
      if (t == GgmlType::F32) std::memcpy(dst + (size_t)r * n_in * 4, f.data(), (size_t)n_in * 4);
      else {
        uint16_t* o = (uint16_t*)(dst + (size_t)r * n_in * 2);
        for (int64_t i = 0; i < n_in; i++) o[i] = t == GgmlType::F16 ? fp32_to_fp16(f[i]) : fp32_to_bf16(f[i]);
      }
    }
    (void)n;
    return;
  }
  for (size_t i = 0; i < bytes; i += 8) {
    const uint64_t v = next();
    std::memcpy(dst + i, &v, std::min<size_t>(8, bytes - i));
  }
  int offs[2] = {-1, -1};
  switch (t) {
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: offs[0] = 0; offs[1] = 2; break;
    case GgmlType::Q2_K: offs[0] = 80; offs[1] = 82; break;
    case GgmlType::Q3_K: offs[0] = 108; break;
    case GgmlType::Q6_K: offs[0] = 208; break;
    default: offs[0] = 0; break;
  }
  const size_t nb = bytes / tt.type_size;
  for (size_t b = 0; b < nb; b++)
    for (int o : offs)
      if (o >= 0) {
        const uint16_t h = fp32_to_fp16((float)((double)(next() % 1000 + 1) * 1e-5));
        std::memcpy(dst + b * tt.type_size + o, &h, 2);
      }
}

Napi::Value matmul_bench(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GgmlType wt;
    const TypeTraits& tt = traits_arg(info, 0, &wt);
    const int64_t n_in = info[1].As<Napi::Number>().Int64Value();
    const int64_t n_out = info[2].As<Napi::Number>().Int64Value();
    const int64_t n_tokens = info[3].As<Napi::Number>().Int64Value();
    const int threads = info[4].As<Napi::Number>().Int32Value();
    const int64_t iters = std::max<int64_t>(1, info[5].As<Napi::Number>().Int64Value());
    const CpuKernels& k = info[6].IsString() ? kernels_arg(info, 6) : cpu_kernels();
    const bool rows_only = info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value();
    if (n_in <= 0 || n_out <= 0 || n_tokens <= 0 || n_in % tt.blck_size != 0) LLAMA4_THROW("matmulBench: bad shape");
    if (!k.vec_dot[(int)wt]) LLAMA4_THROW("matmulBench: no kernel for %s", tt.name);
    const size_t rb = row_size(wt, n_in);
    // coldBytes > 0: rotate over enough copies of the weights that they cannot stay in the cache (decode
    // streams the whole model from memory every token); 0: one copy (cache-resident for small matrices).
    const double cold = info[8].IsNumber() ? info[8].As<Napi::Number>().DoubleValue() : 0.0;
    const size_t mat = rb * (size_t)n_out;
    const size_t copies = cold > 0 ? std::max<size_t>(1, (size_t)(cold / (double)mat) + 1) : 1;
    const size_t pitch = (mat + 4095) & ~(size_t)4095;
    std::vector<uint8_t> w(pitch * copies + 64);
    fill_random_weights(wt, n_in, n_out, w.data());
    for (size_t c = 1; c < copies; c++) std::memcpy(w.data() + c * pitch, w.data(), mat);
    std::vector<float> x((size_t)(n_in * n_tokens));
    uint32_t s = 1;
    for (auto& v : x) {
      s = s * 1664525u + 1013904223u;
      v = (float)((int)(s >> 8) - (1 << 23)) / (float)(1 << 23);
    }
    std::vector<float> y((size_t)(n_out * n_tokens));
    WeightView wv{wt, n_in, n_out, rb, w.data()};
    // packed: time the packed kernel over packed copies (one per plain copy)
    const bool packed = info[10].IsBoolean() && info[10].As<Napi::Boolean>().Value();
    std::vector<PackedWeights> pws;
    if (packed) {
      if (!packed_format(wt) || !k.mm_packed[(int)wt]) LLAMA4_THROW("matmulBench: no %s packed kernel for %s", k.isa, tt.name);
      for (size_t c = 0; c < copies; c++) pws.push_back(pack_weights(wt, n_in, n_out, 1, w.data(), rb));
    }
    ThreadPool pool(threads);
    std::vector<uint8_t> buf;
    size_t next = 0;
    auto once = [&]() {
      if (packed) {
        wv.packed = pws[next].data();
        wv.group_bytes = pws[next].group_bytes;
      }
      wv.data = w.data() + pitch * next;
      next = next + 1 == copies ? 0 : next + 1;
      const ConvertedActs a = convert_activations_with(k, wt, x.data(), n_in, n_in, n_tokens, pool, buf);
      matmul_converted_with(k, wv, a, y.data(), n_out, pool, rows_only);
    };
    once();
    // The minimum over individually timed calls (batches of calls for very short ones): on a shared,
    // oversubscribed machine this filters out preemption, which a mean over a batch does not.
    const auto c0 = std::chrono::steady_clock::now();
    once();
    const double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    const int64_t batch = std::max<int64_t>(1, (int64_t)(20e-6 / std::max(one, 1e-9)));
    // One thread: the calling thread's CPU time (time spent descheduled by other processes excluded).
    const bool cpu_clock = threads == 1 && info[9].IsBoolean() && info[9].As<Napi::Boolean>().Value();
    auto now = [&]() {
      if (!cpu_clock) return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    };
    double best = 1e30;
    for (int64_t it = 0; it < iters; it++) {
      const double t0 = now();
      for (int64_t b = 0; b < batch; b++) once();
      const double t1 = now();
      best = std::min(best, (t1 - t0) / (double)batch);
    }
    volatile float sink = y[0];
    (void)sink;
    return Napi::Number::New(info.Env(), best);
  });
}

// attnKernel(isa, op, args): see the header comment
Napi::Value attn_kernel(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const std::string isa = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    const std::string op = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    // attn_partial_q runs on a CpuKernels table (any level this CPU has); the others on an AttnKernels one
    const bool quant_op = op == "attn_partial_q";
    const IsaLevel level = isa == "scalar" ? IsaLevel::Scalar : isa == "avx2" ? IsaLevel::Avx2 : IsaLevel::Avx512;
    if (level == IsaLevel::Avx512 && (isa != "avx512" || !quant_op)) LLAMA4_THROW("attnKernel: isa must be 'scalar' or 'avx2' ('avx512' too for attn_partial_q)");
    const AttnKernels* k = quant_op ? attn_kernels(IsaLevel::Scalar) : attn_kernels(level);
    if (!k || !isa_supported(level)) LLAMA4_THROW("attnKernel: isa '%s' is not supported by this CPU", isa.c_str());
    if (!info[2].IsObject()) LLAMA4_THROW("attnKernel: args must be an object");
    Napi::Object a = info[2].As<Napi::Object>();
    auto f32 = [&](const char* key) -> std::vector<float> {
      Napi::Value v = a.Get(key);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        LLAMA4_THROW("attnKernel %s: '%s' must be a Float32Array", op.c_str(), key);
      Napi::Float32Array t = v.As<Napi::Float32Array>();
      return std::vector<float>(t.Data(), t.Data() + t.ElementLength());
    };
    auto bytes = [&](const char* key) -> std::vector<uint8_t> {
      Napi::Value v = a.Get(key);
      if (!v.IsTypedArray()) LLAMA4_THROW("attnKernel %s: '%s' must be a typed array", op.c_str(), key);
      Napi::TypedArray t = v.As<Napi::TypedArray>();
      const uint8_t* p = (const uint8_t*)t.ArrayBuffer().Data() + t.ByteOffset();
      return std::vector<uint8_t>(p, p + t.ByteLength());
    };
    auto num = [&](const char* key) -> int64_t {
      Napi::Value v = a.Get(key);
      if (!v.IsNumber()) LLAMA4_THROW("attnKernel %s: '%s' must be a number", op.c_str(), key);
      return v.As<Napi::Number>().Int64Value();
    };
    auto flag = [&](const char* key) { return a.Get(key).ToBoolean().Value(); };
    auto result = [&](const std::vector<float>& v) {
      Napi::Float32Array out = Napi::Float32Array::New(env, v.size());
      std::copy(v.begin(), v.end(), out.Data());
      Napi::Object o = Napi::Object::New(env);
      o.Set("out", out);
      return o;
    };
    if (op == "swiglu") {
      std::vector<float> g = f32("x"), u = f32("y"), out(g.size());
      if (u.size() != g.size()) LLAMA4_THROW("attnKernel swiglu: x and y differ in length");
      k->swiglu(g.data(), u.data(), out.data(), (int64_t)g.size());
      return result(out);
    }
    if (op == "round_f16") {
      std::vector<float> x = f32("x"), out(x.size());
      const double scale = a.Get("scale").IsNumber() ? a.Get("scale").As<Napi::Number>().DoubleValue() : 1.0;
      k->round_to_f16(x.data(), (float)scale, out.data(), (int64_t)x.size());
      return result(out);
    }
    if (op == "soft_max") {
      std::vector<float> x = f32("x"), out(x.size());
      const double mx = a.Get("max").As<Napi::Number>().DoubleValue();
      const double sum = k->soft_max_exp(x.data(), out.data(), (int64_t)x.size(), (float)mx);
      Napi::Object o = result(out);
      o.Set("sum", sum);
      return o;
    }
    if (op == "dot_f32") {
      std::vector<float> x = f32("x"), y = f32("y");
      if (x.size() != y.size()) LLAMA4_THROW("attnKernel dot_f32: x and y differ in length");
      return result({k->dot_f32(x.data(), y.data(), (int64_t)x.size())});
    }
    if (op == "dot_f16") {
      std::vector<uint8_t> h = bytes("h");
      std::vector<float> y = f32("y");
      if (h.size() != 2 * y.size()) LLAMA4_THROW("attnKernel dot_f16: h and y differ in length");
      std::vector<uint16_t> hv(y.size());
      std::memcpy(hv.data(), h.data(), h.size());
      return result({k->dot_f16(hv.data(), y.data(), (int64_t)y.size(), flag("tinyblas"))});
    }
    if (op == "attn_partial") {
      // out = m[g], l[g], acc[g*hdv] (ops.h attn_partial)
      std::vector<float> q = f32("q");
      std::vector<uint8_t> kr = bytes("k"), vr = bytes("v");
      const bool k16 = flag("k16"), v16 = flag("v16");
      const int64_t g = num("g"), hd = num("hd"), hdv = num("hdv"), n = num("n"), ks = num("kStride"), vs = num("vStride");
      const double scale = a.Get("scale").IsNumber() ? a.Get("scale").As<Napi::Number>().DoubleValue() : 1.0;
      if (g < 1 || g > 64 || hd < 1 || hd > 1024 || hdv < 1 || hdv > 1024 || n < 1 || n > (1 << 20) ||
          (int64_t)q.size() != g * hd || ks < hd * (k16 ? 2 : 4) || vs < hdv * (v16 ? 2 : 4) ||
          (size_t)((n - 1) * ks + hd * (k16 ? 2 : 4)) > kr.size() || (size_t)((n - 1) * vs + hdv * (v16 ? 2 : 4)) > vr.size())
        LLAMA4_THROW("attnKernel attn_partial: q/k/v/sizes out of range");
      std::vector<float> out((size_t)(g * (2 + hdv))), scratch((size_t)(g * n + 8 * hd));
      k->attn_partial(q.data(), g, hd, kr.data(), (size_t)ks, k16, vr.data(), (size_t)vs, v16, hdv, n, (float)scale, out.data(),
                      out.data() + g, out.data() + 2 * g, scratch.data());
      return result(out);
    }
    if (op == "fwht") {
      // x in groups of n: ops.h fwht_rows
      std::vector<float> x = f32("x");
      const int64_t n = num("n");
      if (n < 1 || n > 4096 || (n & (n - 1)) || x.size() % (size_t)n) LLAMA4_THROW("attnKernel fwht: n must be a power of two dividing x's length");
      fwht_rows(x.data(), (int64_t)x.size(), n);
      return result(x);
    }
    if (quant_op) {
      // out = m[g], l[g], acc[g*hdv] (ops.h attn_partial_q); kType / vType: ggml type ids of the cache rows
      std::vector<float> q = f32("q");
      std::vector<uint8_t> kr = bytes("k"), vr = bytes("v");
      const int64_t g = num("g"), hd = num("hd"), hdv = num("hdv"), n = num("n"), ks = num("kStride"), vs = num("vStride");
      const int64_t kt = num("kType"), vt = num("vType");
      if (kt < 0 || kt >= kGgmlTypeCount || vt < 0 || vt >= kGgmlTypeCount || !KvCache::type_supported((GgmlType)kt) ||
          !KvCache::type_supported((GgmlType)vt))
        LLAMA4_THROW("attnKernel attn_partial_q: kType / vType must be KV cache types");
      const GgmlType ktt = (GgmlType)kt, vtt = (GgmlType)vt;
      const double scale = a.Get("scale").IsNumber() ? a.Get("scale").As<Napi::Number>().DoubleValue() : 1.0;
      if (g < 1 || g > 64 || hd < 1 || hd > 1024 || hdv < 1 || hdv > 1024 || n < 1 || n > (1 << 20) ||
          hd % type_traits(ktt).blck_size || hdv % type_traits(vtt).blck_size || (int64_t)q.size() != g * hd ||
          ks < (int64_t)row_size(ktt, hd) || vs < (int64_t)row_size(vtt, hdv) ||
          (size_t)((n - 1) * ks) + row_size(ktt, hd) > kr.size() || (size_t)((n - 1) * vs) + row_size(vtt, hdv) > vr.size())
        LLAMA4_THROW("attnKernel attn_partial_q: q/k/v/sizes out of range");
      std::vector<float> out((size_t)(g * (2 + hdv)));
      attn_partial_q(cpu_kernels(level), q.data(), g, hd, kr.data(), (size_t)ks, ktt, vr.data(), (size_t)vs, vtt, hdv, n,
                     (float)scale, out.data(), out.data() + g, out.data() + 2 * g);
      return result(out);
    }
    if (op == "dot_rows" || op == "weighted_rows") {
      std::vector<uint8_t> rows = bytes("rows");
      const bool f16 = flag("f16");
      const int64_t stride = num("stride"), es = f16 ? 2 : 4;
      if (op == "dot_rows") {
        std::vector<float> y = f32("y");
        const int64_t n_rows = num("nRows"), n = num("n");
        if (n_rows < 0 || n < 0 || n > (int64_t)y.size() || stride < n * es ||
            (n_rows > 0 && (size_t)((n_rows - 1) * stride + n * es) > rows.size()))
          LLAMA4_THROW("attnKernel dot_rows: rows/stride/n out of range");
        std::vector<float> out((size_t)n_rows);
        k->dot_rows(rows.data(), (size_t)stride, f16, n_rows, y.data(), n, flag("tinyblas"), out.data());
        return result(out);
      }
      std::vector<float> p = f32("x");
      const int64_t n = num("n"), dim = num("dim"), first = num("firstCell");
      if (n < 0 || n > (int64_t)p.size() || dim <= 0 || first < 0 || stride < dim * es ||
          (n > 0 && (size_t)((n - 1) * stride + dim * es) > rows.size()))
        LLAMA4_THROW("attnKernel weighted_rows: rows/stride/n/dim out of range");
      std::vector<float> acc((size_t)(32 * dim)), out((size_t)dim);
      k->weighted_rows(p.data(), rows.data(), (size_t)stride, f16, first, n, dim, flag("singleToken"), acc.data(),
                       out.data());
      return result(out);
    }
    LLAMA4_THROW("attnKernel: unknown op '%s'", op.c_str());
  });
}

}  // namespace

// packedKernels(isa?): names of the weight types that level has a packed kernel for
Napi::Value packed_kernels(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const CpuKernels& k = info[0].IsString() ? kernels_arg(info, 0) : cpu_kernels();
    Napi::Array out = Napi::Array::New(info.Env());
    uint32_t n = 0;
    for (uint32_t t = 0; t < kGgmlTypeCount; t++)
      if (k.mm_packed[t] && packed_format((GgmlType)t)) out.Set(n++, Napi::String::New(info.Env(), type_name((GgmlType)t)));
    return out;
  });
}

void init_kernel_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("packedKernels", Napi::Function::New(env, packed_kernels, "packedKernels"));
  exports.Set("kernelIsas", Napi::Function::New(env, kernel_isas, "kernelIsas"));
  exports.Set("kernelDot", Napi::Function::New(env, kernel_dot, "kernelDot"));
  exports.Set("quantizeAct", Napi::Function::New(env, quantize_act, "quantizeAct"));
  exports.Set("kernelBench", Napi::Function::New(env, kernel_bench, "kernelBench"));
  exports.Set("matmulKernel", Napi::Function::New(env, matmul_kernel, "matmulKernel"));
  exports.Set("matmulBench", Napi::Function::New(env, matmul_bench, "matmulBench"));
  exports.Set("attnKernel", Napi::Function::New(env, attn_kernel, "attnKernel"));
}

}  // namespace llama4
