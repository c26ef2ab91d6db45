// readGguf(source, options): parse a GGUF header off the JS thread and return plain JS values.
// `source` is a path (memory-mapped; any part of a split model gives the whole model) or a Uint8Array
// (e.g. the first bytes of a download: that header alone).
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "model/gguf.h"
#include "model/names.h"
#include "model/hparams.h"
#include "runtime/error.h"

namespace llama4 {

namespace {

struct ParseJob {
  std::shared_ptr<GgufFile> file;
};

Napi::Value number_or_bigint_u(Napi::Env env, uint64_t v) {
  if (v <= (1ull << 53)) return Napi::Number::New(env, (double)v);
  return Napi::BigInt::New(env, v);
}
Napi::Value number_or_bigint_i(Napi::Env env, int64_t v) {
  if (v <= (1ll << 53) && v >= -(1ll << 53)) return Napi::Number::New(env, (double)v);
  return Napi::BigInt::New(env, v);
}

template <typename TA, typename E>
Napi::Value typed_copy(Napi::Env env, const uint8_t* src, size_t n) {
  TA arr = TA::New(env, n);
  if (n) std::memcpy(arr.Data(), src, n * sizeof(E));
  return arr;
}

Napi::Value array_value(Napi::Env env, const GgufKV& kv, uint64_t limit) {
  const size_t n = (size_t)std::min<uint64_t>(kv.arr_count, limit);
  const uint8_t* p = kv.arr_data;
  switch (kv.arr_type) {
    case GgufType::STRING: {
      Napi::Array a = Napi::Array::New(env, n);
      for (size_t i = 0; i < n; i++) a.Set((uint32_t)i, Napi::String::New(env, kv.arr_str[i].data(), kv.arr_str[i].size()));
      return a;
    }
    case GgufType::BOOL: {
      Napi::Array a = Napi::Array::New(env, n);
      for (size_t i = 0; i < n; i++) a.Set((uint32_t)i, Napi::Boolean::New(env, p[i] != 0));
      return a;
    }
    case GgufType::UINT8: return typed_copy<Napi::Uint8Array, uint8_t>(env, p, n);
    case GgufType::INT8: return typed_copy<Napi::Int8Array, int8_t>(env, p, n);
    case GgufType::UINT16: return typed_copy<Napi::Uint16Array, uint16_t>(env, p, n);
    case GgufType::INT16: return typed_copy<Napi::Int16Array, int16_t>(env, p, n);
    case GgufType::UINT32: return typed_copy<Napi::Uint32Array, uint32_t>(env, p, n);
    case GgufType::INT32: return typed_copy<Napi::Int32Array, int32_t>(env, p, n);
    case GgufType::FLOAT32: return typed_copy<Napi::Float32Array, float>(env, p, n);
    case GgufType::FLOAT64: return typed_copy<Napi::Float64Array, double>(env, p, n);
    case GgufType::UINT64: return typed_copy<Napi::BigUint64Array, uint64_t>(env, p, n);
    case GgufType::INT64: return typed_copy<Napi::BigInt64Array, int64_t>(env, p, n);
    default: return env.Null();
  }
}

Napi::Value scalar_value(Napi::Env env, const GgufKV& kv) {
  switch (kv.type) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::UINT64:
      return number_or_bigint_u(env, kv.num.u64);
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
      return number_or_bigint_i(env, kv.num.i64);
    case GgufType::FLOAT32: case GgufType::FLOAT64: return Napi::Number::New(env, kv.num.f64);
    case GgufType::BOOL: return Napi::Boolean::New(env, kv.num.u64 != 0);
    case GgufType::STRING: return Napi::String::New(env, kv.str.data(), kv.str.size());
    default: return env.Null();
  }
}

Napi::Value u32_array(Napi::Env env, const std::vector<uint32_t>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set((uint32_t)i, v[i]);
  return a;
}

Napi::Value hparams_to_js(Napi::Env env, const Hparams& hp) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("arch", hp.arch_name);
  o.Set("contextLength", hp.n_ctx_train);
  o.Set("embeddingLength", hp.n_embd);
  o.Set("blockCount", hp.n_layer);
  o.Set("headCount", u32_array(env, hp.n_head));
  o.Set("headCountKv", u32_array(env, hp.n_head_kv));
  o.Set("feedForwardLength", u32_array(env, hp.n_ff));
  o.Set("headDimK", hp.n_embd_head_k);
  o.Set("headDimV", hp.n_embd_head_v);
  o.Set("ropeDims", hp.n_rot);
  o.Set("ropeFreqBase", hp.rope_freq_base);
  o.Set("ropeFreqScale", hp.rope_freq_scale);
  o.Set("ropeScalingType", hp.rope_scaling_type);
  o.Set("rmsEps", hp.rms_eps);
  o.Set("vocabSize", hp.n_vocab);
  o.Set("expertCount", hp.n_expert);
  o.Set("expertUsedCount", hp.n_expert_used);
  o.Set("expertFeedForwardLength", hp.n_ff_exp);
  o.Set("moeLayerStep", hp.n_moe_layer_step);
  o.Set("useKqNorm", hp.use_kq_norm);
  o.Set("noRopeLayerStep", hp.n_no_rope_layer_step);
  o.Set("chunkSize", hp.n_swa);
  Napi::Array layers = Napi::Array::New(env, hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; il++) {
    Napi::Object l = Napi::Object::New(env);
    l.Set("moe", hp.layer_is_moe(il));
    l.Set("rope", hp.layer_has_rope(il));
    l.Set("chunked", hp.layer_is_chunked(il));
    layers.Set(il, l);
  }
  o.Set("layers", layers);
  return o;
}

Napi::Value to_js(Napi::Env env, const GgufFile& f, uint64_t array_limit, bool with_hparams) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", f.path());
  o.Set("version", f.version());
  o.Set("alignment", f.alignment());
  o.Set("dataOffset", (double)f.data_offset());
  o.Set("fileSize", (double)f.total_size());
  Napi::Array md = Napi::Array::New(env, f.kvs().size());
  uint32_t i = 0;
  for (const GgufKV& kv : f.kvs()) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("key", kv.key);
    e.Set("type", gguf_type_name(kv.type));
    e.Set("offset", (double)kv.file_offset);
    e.Set("recordBytes", (double)kv.record_bytes);
    if (kv.type == GgufType::ARRAY) {
      e.Set("elementType", gguf_type_name(kv.arr_type));
      e.Set("count", (double)kv.arr_count);
      e.Set("value", array_value(env, kv, array_limit));
    } else {
      e.Set("value", scalar_value(env, kv));
    }
    md.Set(i++, e);
  }
  o.Set("metadata", md);
  Napi::Array ts = Napi::Array::New(env, f.tensors().size());
  i = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", t.name);
    e.Set("typeId", (uint32_t)t.type);
    e.Set("type", type_name(t.type));
    Napi::Array shape = Napi::Array::New(env, (size_t)t.n_dims);
    for (int d = 0; d < t.n_dims; d++) shape.Set((uint32_t)d, (double)t.ne[d]);
    e.Set("shape", shape);
    e.Set("elements", (double)t.n_elements());
    e.Set("offset", (double)(f.part(t.part).data_offset() + t.offset));
    e.Set("bytes", (double)t.nbytes);
    e.Set("part", t.part);
    ts.Set(i++, e);
  }
  o.Set("tensors", ts);
  if (f.n_parts() > 1) {
    std::vector<uint64_t> count(f.n_parts()), bytes(f.n_parts());
    for (const GgufTensorInfo& t : f.tensors()) count[t.part]++, bytes[t.part] += t.nbytes;
    Napi::Array parts = Napi::Array::New(env, f.n_parts());
    for (uint32_t p = 0; p < f.n_parts(); p++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("path", f.part(p).path());
      e.Set("fileSize", (double)f.part(p).file_size());
      e.Set("dataOffset", (double)f.part(p).data_offset());
      e.Set("tensorCount", (double)count[p]);
      e.Set("tensorBytes", (double)bytes[p]);
      parts.Set(p, e);
    }
    o.Set("parts", parts);
  }
  if (with_hparams) {
    try {
      o.Set("hparams", hparams_to_js(env, load_hparams(f)));
    } catch (const Error& e) {
      o.Set("hparamsError", e.what());
    }
  }
  return o;
}

Napi::Value read_gguf(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    uint64_t limit = std::numeric_limits<uint64_t>::max();
    bool hp = false;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object opts = info[1].As<Napi::Object>();
      Napi::Value l = opts.Get("arrayLimit");
      if (l.IsNumber()) limit = (uint64_t)std::max(0.0, l.As<Napi::Number>().DoubleValue());
      hp = opts.Get("hparams").ToBoolean();
    }
    if (info[0].IsString()) {
      std::string path = info[0].As<Napi::String>().Utf8Value();
      return run_async<ParseJob>(
          env, [path]() { return ParseJob{GgufFile::open_model(path)}; },
          [limit, hp](Napi::Env e, ParseJob& j) { return to_js(e, *j.file, limit, hp); });
    }
    if (info[0].IsTypedArray()) {
      // Zero-copy: the buffer is pinned by a reference until the promise settles.
      Napi::Uint8Array b = info[0].As<Napi::Uint8Array>();
      auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(b.As<Napi::Object>()));
      const uint8_t* data = b.Data();
      const uint64_t size = b.ByteLength();
      return run_async<ParseJob>(
          env, [data, size]() { return ParseJob{GgufFile::parse(data, size, "<buffer>")}; },
          [limit, hp, ref](Napi::Env e, ParseJob& j) {
            Napi::Value v = to_js(e, *j.file, limit, hp);
            ref->Reset();
            return v;
          });
    }
    LLAMA4_THROW("readGguf: source must be a path or a Uint8Array");
  });
}

// ggufNames(): the native name table, so TS (tokenizer, writer, info) uses the same strings.
// Formats keep printf placeholders: %s = architecture, %d = block index.
Napi::Value gguf_names(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object keys = Napi::Object::New(env);
#define X(id, fmt) keys.Set(#id, fmt);
  LLAMA4_KV_LIST(X)
#undef X
  Napi::Object tensors = Napi::Object::New(env);
#define X(id, fmt) tensors.Set(#id, fmt);
  LLAMA4_TENSOR_LIST(X)
#undef X
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", keys);
  o.Set("tensors", tensors);
  return o;
}

}  // namespace

void init_gguf_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("readGguf", Napi::Function::New(env, read_gguf, "readGguf"));
  exports.Set("ggufNames", Napi::Function::New(env, gguf_names, "ggufNames"));
}

}  // namespace llama4
