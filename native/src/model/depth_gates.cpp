#include "model/depth_gates.h"

#include <cmath>
#include <cstring>

#include "model/names.h"
#include "runtime/error.h"

namespace llama4 {

namespace {

std::vector<float> read_f32(const GgufFile& f, const GgufTensorInfo& t) {
  const TypeTraits& tt = type_traits(t.type);
  if (!tt.to_float) LLAMA4_THROW("'%s': depth gate tensor '%s' has unsupported type %s", f.path().c_str(), t.name.c_str(), tt.name);
  std::vector<float> v((size_t)t.n_elements());
  tt.to_float(f.tensor_data(t), v.data(), t.n_elements());
  return v;
}

}  // namespace

std::shared_ptr<DepthGates> load_depth_gates(const Model& m, const std::string& adapter) {
  std::shared_ptr<GgufFile> own;
  const GgufFile* f = m.file.get();
  if (!adapter.empty()) {
    own = GgufFile::open(adapter);
    f = own.get();
  }
  const Hparams& hp = m.hp;
  auto g = std::make_shared<DepthGates>();
  g->source = adapter.empty() ? "model" : adapter;
  g->layers.resize(hp.n_layer);
  if (const GgufKV* kv = f->find(kv_name(Kv::DEPTH_GATE_THRESHOLD, ""))) g->threshold = (float)kv->as_float();
  g->base_model = f->get_str(kv_name(Kv::DEPTH_GATE_BASE_MODEL, ""), "");
  if (!adapter.empty()) {
    const std::string arch = f->get_str(kv_name(Kv::GENERAL_ARCHITECTURE, ""), hp.arch_name);
    if (arch != hp.arch_name)
      LLAMA4_THROW("'%s': depth gates are for architecture '%s', the model is '%s'", adapter.c_str(), arch.c_str(), hp.arch_name.c_str());
  }
  if (const GgufKV* v = f->find(kv_name(Kv::DEPTH_GATE_VERSION, ""))) {
    const int64_t ver = v->as_int();
    if (ver < 1 || ver > 2)
      LLAMA4_THROW("'%s': depth_gate.version %lld is not supported (this build reads versions 1 and 2)", g->source.c_str(), (long long)ver);
    g->version = (uint32_t)ver;
  }
  struct Kind {
    Tn tensor;
    Kv thresholds;
    std::vector<DepthGateLayer>* layers;
  };
  const Kind kinds[] = {{Tn::DEPTH_GATE, Kv::DEPTH_GATE_THRESHOLDS, &g->layers},
                        {Tn::DEPTH_GATE_ATTN, Kv::DEPTH_GATE_THRESHOLDS_ATTN, &g->attn},
                        {Tn::DEPTH_GATE_FFN, Kv::DEPTH_GATE_THRESHOLDS_FFN, &g->ffn}};
  int found = 0;
  for (const Kind& k : kinds) {
    k.layers->resize(hp.n_layer);
    for (uint32_t il = 0; il < hp.n_layer; il++) {
      const GgufTensorInfo* w = f->find_tensor(tensor_name(k.tensor, (int)il, "weight"));
      const GgufTensorInfo* b = f->find_tensor(tensor_name(k.tensor, (int)il, "bias"));
      if (!w && !b) continue;
      if (!w || !b)
        LLAMA4_THROW("'%s': block %u has %s but no %s", g->source.c_str(), il,
                     tensor_name(k.tensor, (int)il, w ? "weight" : "bias").c_str(),
                     tensor_name(k.tensor, (int)il, w ? "bias" : "weight").c_str());
      if (w->n_elements() != hp.n_embd || w->ne[0] != hp.n_embd)
        LLAMA4_THROW("'%s': tensor '%s' has %lld elements, expected [%u] (the model's embedding length)", g->source.c_str(),
                     w->name.c_str(), (long long)w->n_elements(), hp.n_embd);
      if (b->n_elements() != 1)
        LLAMA4_THROW("'%s': tensor '%s' must have exactly 1 element (the bias)", g->source.c_str(), b->name.c_str());
      DepthGateLayer& L = (*k.layers)[il];
      L.present = true;
      L.w = read_f32(*f, *w);
      std::vector<float> bv = read_f32(*f, *b);
      L.b = bv[0];
      found++;
    }
    // optional per-block thresholds (a calibrated tau for each gate of this kind)
    if (const GgufKV* th = f->find(kv_name(k.thresholds, ""))) {
      if (th->type != GgufType::ARRAY || th->arr_type != GgufType::FLOAT32 || th->arr_count != hp.n_layer)
        LLAMA4_THROW("'%s': %s must be an f32 array with one entry per block (%u)", g->source.c_str(),
                     kv_name(k.thresholds, "").c_str(), hp.n_layer);
      for (uint32_t il = 0; il < hp.n_layer; il++) {
        float t;
        std::memcpy(&t, th->arr_data + 4 * il, 4);
        if (!(t <= 1.0f)) LLAMA4_THROW("'%s': %s[%u] = %g is not a probability", g->source.c_str(), kv_name(k.thresholds, "").c_str(), il, t);
        (*k.layers)[il].threshold = t;
      }
    }
  }
  if (found == 0)
    LLAMA4_THROW("'%s' has no depth gate tensors (blk.N.depth_gate / depth_gate_attn / depth_gate_ffn .weight and .bias)", g->source.c_str());
  if (!(g->threshold >= 0.0f && g->threshold <= 1.0f))
    LLAMA4_THROW("'%s': depth_gate.threshold %g is not a probability in [0, 1]", g->source.c_str(), g->threshold);
  return g;
}

float depth_gate_prob(const DepthGateLayer& g, const float* xn, int64_t n_embd) {
  double s = g.b;
  for (int64_t i = 0; i < n_embd; i++) s += (double)g.w[(size_t)i] * xn[i];
  return (float)(1.0 / (1.0 + std::exp(-s)));
}

}  // namespace llama4
