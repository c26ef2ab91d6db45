// Exposes the type-traits table and the reference (de)quantizers, so TS tests can check every row.
#include <algorithm>
#include <cstring>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "ops/select.h"
#include "ops/types.h"
#include "runtime/error.h"

namespace llama4 {

static const TypeTraits& traits_arg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) LLAMA4_THROW("type id must be a number");
  const uint32_t id = info[i].As<Napi::Number>().Uint32Value();
  if (!type_id_known(id)) LLAMA4_THROW("unknown tensor type id %u", id);
  return type_traits((GgmlType)id);
}

static Napi::Value type_table(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Array arr = Napi::Array::New(env);
    uint32_t k = 0;
    for (uint32_t id = 0; id < kGgmlTypeCount; id++) {
      if (!type_id_known(id)) continue;
      const TypeTraits& t = type_traits((GgmlType)id);
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", id);
      o.Set("name", t.name);
      o.Set("blockSize", (double)t.blck_size);
      o.Set("typeSize", (double)t.type_size);
      o.Set("isQuantized", t.is_quantized);
      o.Set("canDequantize", t.to_float != nullptr);
      o.Set("canQuantize", t.from_float != nullptr);
      o.Set("vecDotType", type_traits(t.vec_dot_type).name);
      arr.Set(k++, o);
    }
    return arr;
  });
}

// dequantize(typeId, bytes: Uint8Array, n): Float32Array
static Napi::Value dequantize(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const TypeTraits& t = traits_arg(info, 0);
    if (!info[1].IsTypedArray()) LLAMA4_THROW("dequantize: bytes must be a Uint8Array");
    Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
    const int64_t n = info[2].As<Napi::Number>().Int64Value();
    if (!t.to_float) LLAMA4_THROW("dequantize: type %s has no dequantizer", t.name);
    if (n < 0 || n % t.blck_size != 0) LLAMA4_THROW("dequantize: n=%lld is not a multiple of %lld", (long long)n, (long long)t.blck_size);
    const size_t need = (size_t)(n / t.blck_size) * t.type_size;
    if (bytes.ByteLength() < need) LLAMA4_THROW("dequantize: %zu bytes given, %zu needed", bytes.ByteLength(), need);
    // Copy to an aligned buffer: block structs may be read with wider loads.
    std::vector<uint8_t> src(bytes.Data(), bytes.Data() + need);
    Napi::Float32Array out = Napi::Float32Array::New(info.Env(), (size_t)n);
    t.to_float(src.data(), out.Data(), n);
    return out;
  });
}

// quantize(typeId, values: Float32Array): Uint8Array (reference quantizer)
static Napi::Value quantize(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const TypeTraits& t = traits_arg(info, 0);
    if (!info[1].IsTypedArray()) LLAMA4_THROW("quantize: values must be a Float32Array");
    Napi::Float32Array v = info[1].As<Napi::Float32Array>();
    const int64_t n = (int64_t)v.ElementLength();
    if (!t.from_float) LLAMA4_THROW("quantize: type %s has no reference quantizer", t.name);
    if (n % t.blck_size != 0) LLAMA4_THROW("quantize: n=%lld is not a multiple of %lld", (long long)n, (long long)t.blck_size);
    std::vector<float> src(v.Data(), v.Data() + n);
    const size_t bytes = (size_t)(n / t.blck_size) * t.type_size;
    Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), bytes);
    t.from_float(src.data(), out.Data(), n);
    return out;
  });
}

// Arguments i and i+1 of a selection: n (a count of at most `len` values) and k (a count, capped at n).
static void select_counts(const Napi::CallbackInfo& info, size_t i, const char* what, size_t len, int64_t* n_out,
                          int64_t* k_out) {
  const double n = info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
  const double k = info[i + 1].IsNumber() ? info[i + 1].As<Napi::Number>().DoubleValue() : -1;
  if (!(n >= 0 && n <= (double)len && n == (int64_t)n))
    LLAMA4_THROW("%s: n=%g is not a count within the %zu values", what, n, len);
  if (!(k >= 0 && k == (int64_t)k)) LLAMA4_THROW("%s: k=%g is not a count", what, k);
  *n_out = (int64_t)n;
  *k_out = std::min<int64_t>((int64_t)k, (int64_t)n);
}

// topK(values: Float32Array, n, k): Int32Array of the k best positions among values[0..n) (sampler)
static Napi::Value top_k(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      LLAMA4_THROW("topK: values must be a Float32Array");
    Napi::Float32Array v = info[0].As<Napi::Float32Array>();
    int64_t n, k;
    select_counts(info, 1, "topK", v.ElementLength(), &n, &k);
    Napi::Int32Array out = Napi::Int32Array::New(info.Env(), (size_t)k);
    top_k_positions(v.Data(), n, k, out.Data());
    return out;
  });
}

// keepTopK(ids: Int32Array, logits: Float32Array, probs: Float32Array, n, k): the sampler candidates'
// k best moved to the front, in order (no allocation: the sampler calls it every token)
static Napi::Value keep_top_k_js(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto is = [&](size_t i, napi_typedarray_type t) {
      return info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == t;
    };
    if (!is(0, napi_int32_array) || !is(1, napi_float32_array) || !is(2, napi_float32_array))
      LLAMA4_THROW("keepTopK: expects (ids: Int32Array, logits: Float32Array, probs: Float32Array, n, k)");
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    Napi::Float32Array logits = info[1].As<Napi::Float32Array>(), probs = info[2].As<Napi::Float32Array>();
    const size_t len = std::min({ids.ElementLength(), logits.ElementLength(), probs.ElementLength()});
    int64_t n, k;
    select_counts(info, 3, "keepTopK", len, &n, &k);
    keep_top_k(ids.Data(), logits.Data(), probs.Data(), n, k);
    return info.Env().Undefined();
  });
}

void init_ops_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("typeTable", Napi::Function::New(env, type_table, "typeTable"));
  exports.Set("dequantize", Napi::Function::New(env, dequantize, "dequantize"));
  exports.Set("quantize", Napi::Function::New(env, quantize, "quantize"));
  exports.Set("topK", Napi::Function::New(env, top_k, "topK"));
  exports.Set("keepTopK", Napi::Function::New(env, keep_top_k_js, "keepTopK"));
}

}  // namespace llama4
