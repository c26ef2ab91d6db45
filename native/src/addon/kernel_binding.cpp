// Test access to the CPU kernel tables (vec_dot per ISA level against the generic reference).
//   kernelIsas(): string[]                       levels this host can run ("scalar" always)
//   kernelDot(typeId, weightBytes, activations, isa): number
//       quantizes the activations with that level's quantize_act[vec_dot_type], then one vec_dot
//   quantizeAct(actTypeId, values, isa): Uint8Array
//   kernelBench(typeId, weightBytes, activations, isa, iters): number
//       weightBytes holds R rows of activations.length elements; runs iters single-thread mat-vecs
//       (quantize once, then R dot products per iteration) in a native loop; returns seconds per mat-vec.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "ops/cpu/kernels.h"
#include "ops/types.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"

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

}  // namespace

void init_kernel_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelIsas", Napi::Function::New(env, kernel_isas, "kernelIsas"));
  exports.Set("kernelDot", Napi::Function::New(env, kernel_dot, "kernelDot"));
  exports.Set("quantizeAct", Napi::Function::New(env, quantize_act, "quantizeAct"));
  exports.Set("kernelBench", Napi::Function::New(env, kernel_bench, "kernelBench"));
}

}  // namespace llama4
