// Model and Context objects for JS. Slow calls (load, decode) run on worker threads and return Promises;
// cancel() sets the flag the decode loop polls. Logits are a zero-copy Float32Array over the context's
// fixed last-token buffer.
#include <cctype>
#include <atomic>
#include <functional>
#include <algorithm>
#include <memory>
#include <thread>

#include "addon/async.h"
#include "addon/bindings.h"
#include "runtime/kv_cache.h"
#include "model/context.h"
#include "model/depth_gates.h"
#include "model/model.h"
#include "runtime/error.h"
#include "runtime/memory.h"

namespace llama4 {

namespace {

Napi::FunctionReference* g_model_ctor = nullptr;
Napi::FunctionReference* g_context_ctor = nullptr;
Napi::FunctionReference* g_gates_ctor = nullptr;

class GatesWrap : public Napi::ObjectWrap<GatesWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeDepthGates", {InstanceMethod("info", &GatesWrap::Info)});
  }
  GatesWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GatesWrap>(info) {}
  std::shared_ptr<DepthGates> gates;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("source", gates->source);
    o.Set("baseModel", gates->base_model);
    o.Set("threshold", gates->threshold);
    o.Set("version", gates->version);
    auto list = [&](const std::vector<DepthGateLayer>& ls) {
      Napi::Array a = Napi::Array::New(env, ls.size());
      for (size_t i = 0; i < ls.size(); i++) {
        Napi::Object l = Napi::Object::New(env);
        l.Set("present", ls[i].present);
        l.Set("threshold", ls[i].threshold);
        a.Set((uint32_t)i, l);
      }
      return a;
    };
    o.Set("layers", list(gates->layers));
    o.Set("attn", list(gates->attn));
    o.Set("ffn", list(gates->ffn));
    return o;
  }
};

Napi::Float32Array f32_copy(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

std::string gib(uint64_t b) { return strfmt("%.2f GiB", (double)b / (1024.0 * 1024 * 1024)); }

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeModel", {InstanceMethod("info", &ModelWrap::Info)});
  }
  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}
  std::shared_ptr<Model> model;

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Model& m = *model;
    Napi::Object o = Napi::Object::New(env);
    o.Set("description", m.describe());
    o.Set("arch", m.hp.arch_name);
    o.Set("nParams", (double)m.n_params);
    o.Set("weightBytes", (double)m.weight_bytes);
    o.Set("fileSize", (double)m.file->total_size());
    o.Set("parts", (double)m.file->n_parts());
    o.Set("bytesPerToken", (double)m.bytes_per_token());
    o.Set("nVocab", m.hp.n_vocab);
    o.Set("nCtxTrain", m.hp.n_ctx_train);
    o.Set("nLayer", m.hp.n_layer);
    o.Set("nEmbd", m.hp.n_embd);
    o.Set("nExpert", m.hp.n_expert);
    o.Set("nExpertUsed", m.hp.n_expert_used);
    o.Set("outputTied", m.output_tied);
    o.Set("packedBytes", (double)m.packed_bytes);
    o.Set("packSeconds", m.pack_seconds);
    return o;
  }
};

GgmlType cache_type(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return GgmlType::F16;
  std::string s = v.ToString().Utf8Value();
  for (uint32_t id = 0; id < kGgmlTypeCount; id++) {
    if (!type_id_known(id) || !KvCache::type_supported((GgmlType)id)) continue;
    std::string name = type_name((GgmlType)id);
    for (char& ch : name) ch = (char)std::tolower((unsigned char)ch);
    if (s == name) return (GgmlType)id;
  }
  LLAMA4_THROW("unsupported KV cache type '%s' (%s)", s.c_str(), KvCache::kSupportedTypes);
}

class ContextWrap : public Napi::ObjectWrap<ContextWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeContext",
                       {InstanceMethod("decode", &ContextWrap::Decode), InstanceMethod("logits", &ContextWrap::Logits),
                        InstanceMethod("allLogits", &ContextWrap::AllLogits), InstanceMethod("cancel", &ContextWrap::Cancel),
                        InstanceMethod("truncate", &ContextWrap::Truncate), InstanceMethod("state", &ContextWrap::State),
                        InstanceMethod("copyFrom", &ContextWrap::CopyFrom),
                        InstanceMethod("setDepthPolicy", &ContextWrap::SetDepthPolicy),
                        InstanceMethod("stats", &ContextWrap::Stats), InstanceMethod("resetStats", &ContextWrap::ResetStats),
                        InstanceMethod("decodeTaps", &ContextWrap::DecodeTaps)});
  }
  ContextWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ContextWrap>(info) {}
  std::shared_ptr<Context> ctx;
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> busy = std::make_shared<std::atomic<bool>>(false);

 private:
  void check_idle(const char* what) {
    if (busy->load()) LLAMA4_THROW("%s: the context is busy with another decode", what);
  }
  // The Int32Array of tokens in argument 0, copied for the worker thread.
  static std::shared_ptr<std::vector<int32_t>> tokens_arg(const Napi::CallbackInfo& info, const char* what) {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      LLAMA4_THROW("%s: tokens must be an Int32Array", what);
    Napi::Int32Array t = info[0].As<Napi::Int32Array>();
    return std::make_shared<std::vector<int32_t>>(t.Data(), t.Data() + t.ElementLength());
  }
  // Runs work(context, cancel flag) off the JS thread with the context marked busy until it ends; a new
  // job clears an earlier cancel(). `on_caller`: the job is too short to be worth a thread hop (see
  // ContextParams::inline_bytes), so it runs here and the Promise is already settled.
  template <typename R>
  Napi::Value run_job(Napi::Env env, const char* what, std::function<R(Context&, const std::atomic<bool>*)> work,
                      typename FnWorker<R>::Done done, bool on_caller = false) {
    check_idle(what);
    cancel->store(false);
    if (on_caller) return run_inline<R>(env, [&]() { return work(*ctx, cancel.get()); }, done);
    busy->store(true);
    auto c = ctx;
    auto cf = cancel;
    auto b = busy;
    return run_async<R>(
        env,
        [c, cf, b, work]() {
          struct Reset {
            std::shared_ptr<std::atomic<bool>> b;
            ~Reset() { b->store(false); }
          } reset{b};
          return work(*c, cf.get());
        },
        std::move(done));
  }
  // decode(tokens: Int32Array, allLogits: boolean, {gated, sequential}): Promise<void>
  Napi::Value Decode(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      auto tokens = tokens_arg(info, "decode");
      const bool all = info.Length() > 1 && info[1].ToBoolean();
      bool gated = true, sequential = false;
      if (info.Length() > 2 && info[2].IsObject()) {
        Napi::Object o = info[2].As<Napi::Object>();
        if (o.Has("gated")) gated = o.Get("gated").ToBoolean();
        if (o.Has("sequential")) sequential = o.Get("sequential").ToBoolean();
      }
      return run_job<bool>(
          info.Env(), "decode",
          [tokens, all, gated, sequential](Context& c, const std::atomic<bool>* cancel) {
            c.decode(tokens->data(), (int64_t)tokens->size(), all, cancel, gated, sequential);
            return true;
          },
          [](Napi::Env env, bool&) { return env.Undefined(); },
          ctx->step_bytes((int64_t)tokens->size()) <= ctx->params().inline_bytes);
    });
  }
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* keep = new std::shared_ptr<Context>(ctx);
    const size_t n = ctx->n_vocab();
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, (void*)ctx->logits(), n * sizeof(float), [](Napi::Env, void*, std::shared_ptr<Context>* k) { delete k; }, keep);
    return Napi::Float32Array::New(env, n, ab, 0);
  }
  Napi::Value AllLogits(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      check_idle("allLogits");
      const size_t n = (size_t)ctx->n_logit_rows() * ctx->n_vocab();
      Napi::Float32Array out = Napi::Float32Array::New(info.Env(), n);
      std::copy(ctx->all_logits(), ctx->all_logits() + n, out.Data());
      return out;
    });
  }
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    cancel->store(true);
    return info.Env().Undefined();
  }
  // copyFrom(src: NativeContext, n): this context's cache becomes src's positions [0, n)
  Napi::Value CopyFrom(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      check_idle("copyFrom");
      if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(g_context_ctor->Value()))
        LLAMA4_THROW("copyFrom: the source must be a context");
      ContextWrap* src = ContextWrap::Unwrap(info[0].As<Napi::Object>());
      if (src->busy->load()) LLAMA4_THROW("copyFrom: the source context is busy with a decode");
      if (!info[1].IsNumber()) LLAMA4_THROW("copyFrom: n must be a number");
      const double n = info[1].As<Napi::Number>().DoubleValue();
      if (!(n >= 0 && n <= 4294967295.0) || n != (double)(uint32_t)n) LLAMA4_THROW("copyFrom: n must be a whole number of positions");
      ctx->copy_from(*src->ctx, (uint32_t)n);
      return info.Env().Undefined();
    });
  }
  Napi::Value Truncate(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      check_idle("truncate");
      ctx->truncate(info[0].As<Napi::Number>().Uint32Value());
      return info.Env().Undefined();
    });
  }
  // setDepthPolicy({gates?, threshold?, prefill?, kv?: 'fill'|'skip', drop?: number[]} | null)
  Napi::Value SetDepthPolicy(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      check_idle("setDepthPolicy");
      DepthPolicy p;
      if (info.Length() > 0 && info[0].IsObject()) {
        Napi::Object o = info[0].As<Napi::Object>();
        Napi::Value g = o.Get("gates");
        if (g.IsObject()) {
          if (!g.As<Napi::Object>().InstanceOf(g_gates_ctor->Value())) LLAMA4_THROW("setDepthPolicy: gates must come from loadDepthGates");
          p.gates = GatesWrap::Unwrap(g.As<Napi::Object>())->gates;
        }
        Napi::Value th = o.Get("threshold");
        if (th.IsNumber()) p.threshold = th.As<Napi::Number>().FloatValue();
        Napi::Value sh = o.Get("sharedThreshold");
        if (sh.IsNumber()) p.shared_threshold = sh.As<Napi::Number>().FloatValue();
        p.prefill = o.Get("prefill").ToBoolean();
        Napi::Value kv = o.Get("kv");
        if (kv.IsString()) {
          const std::string k = kv.As<Napi::String>().Utf8Value();
          if (k == "skip") p.kv = KvSkipMode::Skip;
          else if (k != "fill") LLAMA4_THROW("depth KV mode '%s' is not one of fill, skip", k.c_str());
        }
        const uint32_t L = ctx->model().hp.n_layer;
        auto drops = [&](const char* key, std::vector<uint8_t>& out) {
          Napi::Value d = o.Get(key);
          if (d.IsUndefined() || d.IsNull()) return;
          if (!d.IsArray()) LLAMA4_THROW("setDepthPolicy: %s must be an array of block indices", key);
          Napi::Array a = d.As<Napi::Array>();
          out.assign(L, 0);
          for (uint32_t i = 0; i < a.Length(); i++) {
            Napi::Value v = a.Get(i);
            const double x = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
            if (!(x >= 0 && x < L) || x != (double)(int64_t)x)
              LLAMA4_THROW("%s: block %s does not exist (0..%u)", key, v.ToString().Utf8Value().c_str(), L - 1);
            out[(size_t)x] = 1;
          }
        };
        drops("drop", p.drop);
        drops("dropAttn", p.drop_attn);
        drops("dropFfn", p.drop_ffn);
        Napi::Value fk = o.Get("freeDroppedKv");
        if (fk.IsBoolean()) p.free_dropped_kv = fk.As<Napi::Boolean>().Value();
      }
      ctx->set_depth_policy(p);
      return info.Env().Undefined();
    });
  }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const DecodeStats& st = ctx->stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("tokens", (double)st.tokens);
    o.Set("seconds", st.seconds);
    o.Set("routedTokens", (double)st.routed_tokens);
    o.Set("expertEvals", (double)st.expert_evals);
    o.Set("weightBytes", (double)st.weight_bytes);
    auto arr = [&](const std::vector<uint64_t>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); i++) a.Set((uint32_t)i, (double)v[i]);
      return a;
    };
    o.Set("blockRuns", arr(st.block_runs));
    o.Set("blockSkips", arr(st.block_skips));
    o.Set("blockSharedOnly", arr(st.block_shared_only));
    o.Set("attnRuns", arr(st.attn_runs));
    o.Set("attnSkips", arr(st.attn_skips));
    o.Set("ffnRuns", arr(st.ffn_runs));
    o.Set("ffnSkips", arr(st.ffn_skips));
    o.Set("kvBytes", (double)ctx->kv().bytes());
    o.Set("kvBytesUsed", (double)ctx->kv().bytes_used());
    return o;
  }
  Napi::Value ResetStats(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      check_idle("resetStats");
      ctx->reset_stats();
      return info.Env().Undefined();
    });
  }
  // decodeTaps(tokens, {features, ffnFeatures}): Promise<BlockTaps> (full depth, one batch; per block and sublayer)
  Napi::Value DecodeTaps(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      auto tokens = tokens_arg(info, "decodeTaps");
      auto taps = std::make_shared<BlockTaps>();
      if (info.Length() > 1 && info[1].IsObject()) {
        taps->features = info[1].As<Napi::Object>().Get("features").ToBoolean();
        taps->ffn_features = info[1].As<Napi::Object>().Get("ffnFeatures").ToBoolean();
      }
      return run_job<std::shared_ptr<BlockTaps>>(
          info.Env(), "decodeTaps",
          [tokens, taps](Context& c, const std::atomic<bool>* cancel) {
            c.decode_taps(tokens->data(), (int64_t)tokens->size(), *taps, cancel);
            return taps;
          },
          [](Napi::Env env, std::shared_ptr<BlockTaps>& t) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("feat", f32_copy(env, t->feat));
            o.Set("cos", f32_copy(env, t->cos));
            o.Set("rel", f32_copy(env, t->rel));
            o.Set("featFfn", f32_copy(env, t->feat_ffn));
            o.Set("cosAttn", f32_copy(env, t->cos_attn));
            o.Set("relAttn", f32_copy(env, t->rel_attn));
            o.Set("cosFfn", f32_copy(env, t->cos_ffn));
            o.Set("relFfn", f32_copy(env, t->rel_ffn));
            return o;
          });
    });
  }
  Napi::Value State(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("nPast", ctx->n_past());
    o.Set("nCtx", ctx->params().n_ctx);
    o.Set("nBatch", ctx->params().n_batch);
    o.Set("nThreads", ctx->params().n_threads);
    o.Set("inlineBytes", (double)ctx->params().inline_bytes);
    o.Set("exactNumerics", ctx->params().exact_numerics);
    o.Set("kvBytes", (double)ctx->kv().bytes());
    o.Set("typeK", type_name(ctx->kv().type_k()));
    o.Set("typeV", type_name(ctx->kv().type_v()));
    o.Set("busy", busy->load());
    return o;
  }
};

// loadModel(path, {repack?}): Promise<NativeModel>
Napi::Value load_model_js(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsString()) LLAMA4_THROW("loadModel: path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    bool repack = true;
    double* progress = nullptr;
    auto keep = std::make_shared<Napi::ObjectReference>();  // keeps the progress array alive until the load settles
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Value r = info[1].As<Napi::Object>().Get("repack");
      if (!r.IsUndefined()) {
        if (!r.IsBoolean()) LLAMA4_THROW("loadModel: repack must be a boolean");
        repack = r.As<Napi::Boolean>().Value();
      }
      Napi::Value p = info[1].As<Napi::Object>().Get("progress");
      if (!p.IsUndefined()) {
        if (!p.IsTypedArray() || p.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
            p.As<Napi::TypedArray>().ElementLength() < 2)
          LLAMA4_THROW("loadModel: progress must be a Float64Array of 2 elements");
        Napi::Float64Array a = p.As<Napi::Float64Array>();
        progress = a.Data();
        progress[0] = progress[1] = 0;
        *keep = Napi::Persistent(a.As<Napi::Object>());
      }
    }
    struct Loaded {
      std::shared_ptr<Model> m;
    };
    return run_async<Loaded>(
        info.Env(),
        [path, repack, progress]() {
          Loaded l{load_model(path, LoadOptions{false})};
          const uint64_t total = mem_total_bytes();
          if (total && l.m->weight_bytes > total)
            LLAMA4_THROW("model '%s' needs %s for its weights but this machine has %s of memory", path.c_str(),
                         gib(l.m->weight_bytes).c_str(), gib(total).c_str());
          if (repack) pack_model(*l.m, (int)std::min(8u, std::max(1u, std::thread::hardware_concurrency())), progress);
          return l;
        },
        [keep](Napi::Env env, Loaded& l) -> Napi::Value {
          Napi::Object obj = g_model_ctor->New({});
          ModelWrap::Unwrap(obj)->model = l.m;
          return obj;
        });
  });
}

// loadDepthGates(model, adapterPath | ''): Promise<NativeDepthGates>
Napi::Value load_depth_gates_js(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(g_model_ctor->Value()))
      LLAMA4_THROW("loadDepthGates: first argument must be a model");
    std::shared_ptr<Model> m = ModelWrap::Unwrap(info[0].As<Napi::Object>())->model;
    const std::string path = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    struct Loaded {
      std::shared_ptr<DepthGates> g;
    };
    return run_async<Loaded>(
        info.Env(), [m, path]() { return Loaded{load_depth_gates(*m, path)}; },
        [](Napi::Env, Loaded& l) -> Napi::Value {
          Napi::Object obj = g_gates_ctor->New({});
          GatesWrap::Unwrap(obj)->gates = l.g;
          return obj;
        });
  });
}

// createContext(model, {nCtx, nBatch, nThreads, typeK, typeV, inlineBytes, exactNumerics}): NativeContext
Napi::Value create_context_js(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(g_model_ctor->Value()))
      LLAMA4_THROW("createContext: first argument must be a model");
    std::shared_ptr<Model> m = ModelWrap::Unwrap(info[0].As<Napi::Object>())->model;
    Napi::Object o = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    ContextParams p;
    auto num = [&](const char* k, double def) {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
    };
    const double n_ctx = num("nCtx", std::min<uint32_t>(4096, m->hp.n_ctx_train));
    const double n_batch = num("nBatch", 512);
    const double n_threads = num("nThreads", 1);
    if (!(n_ctx >= 1 && n_ctx <= (1u << 24))) LLAMA4_THROW("context size %g is out of range (1 .. 16777216)", n_ctx);
    if (!(n_batch >= 1 && n_batch <= 65536)) LLAMA4_THROW("batch size %g is out of range (1 .. 65536)", n_batch);
    if (!(n_threads >= 1 && n_threads <= 512)) LLAMA4_THROW("thread count %g is out of range (1 .. 512)", n_threads);
    p.n_ctx = (uint32_t)n_ctx;
    p.n_batch = (uint32_t)n_batch;
    p.n_threads = (int)n_threads;
    p.type_k = cache_type(o, "typeK");
    p.type_v = cache_type(o, "typeV");
    const double inline_bytes = num("inlineBytes", (double)p.inline_bytes);
    if (!(inline_bytes >= 0 && inline_bytes <= 9e15)) LLAMA4_THROW("inlineBytes %g is out of range", inline_bytes);
    p.inline_bytes = (uint64_t)inline_bytes;
    const Napi::Value exact = o.Get("exactNumerics");
    if (!exact.IsUndefined() && !exact.IsBoolean()) LLAMA4_THROW("exactNumerics must be a boolean");
    p.exact_numerics = exact.IsBoolean() && exact.As<Napi::Boolean>().Value();
    const uint64_t need = Context::memory_needed(*m, p);
    const uint64_t avail = mem_available_bytes();
    if (avail && need > avail)
      LLAMA4_THROW("a context of %u tokens needs %s (KV cache and buffers) but only %s of memory is available; lower -c",
                   p.n_ctx, gib(need).c_str(), gib(avail).c_str());
    Napi::Object obj = g_context_ctor->New({});
    ContextWrap::Unwrap(obj)->ctx = std::make_shared<Context>(m, p);
    return obj;
  });
}

// decodeStep(contexts: NativeContext[], tokens: Int32Array, {gated}): Promise<void> — token i is the next
// token of contexts[i]; one forward pass for all (Context::decode_step). Every context is busy until it
// settles.
Napi::Value decode_step_js(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsArray()) LLAMA4_THROW("decodeStep: contexts must be an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      LLAMA4_THROW("decodeStep: tokens must be an Int32Array");
    Napi::Int32Array t = info[1].As<Napi::Int32Array>();
    if (t.ElementLength() != arr.Length())
      LLAMA4_THROW("decodeStep: %zu tokens for %u contexts", (size_t)t.ElementLength(), arr.Length());
    bool gated = true;
    if (info.Length() > 2 && info[2].IsObject() && info[2].As<Napi::Object>().Has("gated"))
      gated = info[2].As<Napi::Object>().Get("gated").ToBoolean();
    std::vector<std::shared_ptr<Context>> ctxs;
    std::vector<std::shared_ptr<std::atomic<bool>>> busy;
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(g_context_ctor->Value()))
        LLAMA4_THROW("decodeStep: contexts[%u] is not a context", i);
      ContextWrap* w = ContextWrap::Unwrap(v.As<Napi::Object>());
      if (w->busy->load()) LLAMA4_THROW("decodeStep: contexts[%u] is busy with another decode", i);
      for (const auto& c : ctxs)
        if (c == w->ctx) LLAMA4_THROW("decodeStep: contexts[%u] appears twice", i);
      ctxs.push_back(w->ctx);
      busy.push_back(w->busy);
    }
    if (ctxs.empty()) LLAMA4_THROW("decodeStep: no contexts");
    auto tokens = std::make_shared<std::vector<int32_t>>(t.Data(), t.Data() + t.ElementLength());
    for (auto& b : busy) b->store(true);
    return run_async<bool>(
        info.Env(),
        [ctxs, busy, tokens, gated]() {
          struct Reset {
            const std::vector<std::shared_ptr<std::atomic<bool>>>& b;
            ~Reset() {
              for (auto& x : b) x->store(false);
            }
          } reset{busy};
          std::vector<Context*> cs;
          for (const auto& c : ctxs) cs.push_back(c.get());
          Context::decode_step(cs, tokens->data(), gated);
          return true;
        },
        [](Napi::Env env, bool&) { return env.Undefined(); });
  });
}

}  // namespace

void init_model_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeStep", Napi::Function::New(env, decode_step_js, "decodeStep"));
  g_model_ctor = new Napi::FunctionReference(Napi::Persistent(ModelWrap::Define(env)));
  g_context_ctor = new Napi::FunctionReference(Napi::Persistent(ContextWrap::Define(env)));
  g_gates_ctor = new Napi::FunctionReference(Napi::Persistent(GatesWrap::Define(env)));
  exports.Set("loadDepthGates", Napi::Function::New(env, load_depth_gates_js, "loadDepthGates"));
  exports.Set("loadModel", Napi::Function::New(env, load_model_js, "loadModel"));
  exports.Set("createContext", Napi::Function::New(env, create_context_js, "createContext"));
}

}  // namespace llama4
