#include "model/model.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <cstring>
#include <map>

#include "model/names.h"
#include "ops/cpu/kernels.h"
#include "runtime/mmap_file.h"
#include "runtime/thread_pool.h"
#include "runtime/error.h"

namespace llama4 {

namespace {

class Loader {
 public:
  explicit Loader(const Model& m) : f_(*m.file) {}

  // Expected shape in ne order; ne values of -1 are not checked.
  Weight get(Tn id, int layer, std::initializer_list<int64_t> shape, bool required = true) {
    const std::string name = tensor_name(id, layer);
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (!t) {
      if (required) LLAMA4_THROW("model is missing tensor '%s'", name.c_str());
      return Weight{};
    }
    int d = 0;
    for (int64_t want : shape) {
      if (want >= 0 && t->ne[d] != want) {
        std::string got, exp;
        for (int i = 0; i < (int)shape.size(); i++) got += (i ? ", " : "") + std::to_string(t->ne[i]);
        int i = 0;
        for (int64_t w : shape) exp += (i++ ? ", " : "") + (w >= 0 ? std::to_string(w) : std::string("*"));
        LLAMA4_THROW("tensor '%s' has shape [%s], expected [%s]", name.c_str(), got.c_str(), exp.c_str());
      }
      d++;
    }
    for (; d < 4; d++)
      if (t->ne[d] != 1) LLAMA4_THROW("tensor '%s' has more dimensions than expected (%d)", name.c_str(), (int)shape.size());
    const TypeTraits& tt = type_traits(t->type);
    if (!tt.to_float)
      LLAMA4_THROW("tensor '%s' has type %s, which this engine cannot compute with yet", name.c_str(), tt.name);
    used_[name] = true;
    Weight w;
    w.info = t;
    w.type = t->type;
    for (int i = 0; i < 3; i++) w.ne[i] = t->ne[i];
    w.data = f_.tensor_data(*t);
    w.row_bytes = row_size(t->type, t->ne[0]);
    return w;
  }

  // A small vector converted to f32.
  std::vector<float> vec(Tn id, int layer, int64_t n, bool required = true) {
    Weight w = get(id, layer, {n}, required);
    if (!w) return {};
    std::vector<float> out((size_t)n);
    type_traits(w.type).to_float(w.data, out.data(), n);
    return out;
  }

  void check_all_used() const {
    for (const GgufTensorInfo& t : f_.tensors()) {
      if (!used_.count(t.name)) {
        // depth gates are loaded separately (adapter or in-model); anything else is unexpected
        if (t.name.find(".depth_gate.") != std::string::npos) continue;
        LLAMA4_THROW("model has an unexpected tensor '%s'", t.name.c_str());
      }
    }
  }

 private:
  const GgufFile& f_;
  std::map<std::string, bool> used_;
};

// heads x head dimension, a tensor dimension the file's shapes are checked against. Both come from the
// file as u32: a product past u32 (which the context's sizes use) fits no real model, and as an int64 it
// could even overflow, so it is refused before any shape is compared with it.
int64_t heads_times_dim(uint32_t il, const char* heads_key, uint32_t heads, const char* dim_key, uint32_t dim) {
  const uint64_t p = (uint64_t)heads * dim;
  if (p > UINT32_MAX)
    LLAMA4_THROW("layer %u: %s %u x %s %u = %llu is too large for an attention projection", il, heads_key, heads, dim_key, dim,
                 (unsigned long long)p);
  return (int64_t)p;
}

}  // namespace

uint64_t Model::bytes_per_token() const {
  uint64_t b = output.bytes();
  for (uint32_t il = 0; il < layers.size(); il++) {
    const LayerWeights& l = layers[il];
    b += l.wq.bytes() + l.wk.bytes() + l.wv.bytes() + l.wo.bytes();
    b += l.ffn_gate.bytes() + l.ffn_up.bytes() + l.ffn_down.bytes();
    b += l.ffn_gate_inp.bytes() + l.ffn_gate_shexp.bytes() + l.ffn_up_shexp.bytes() + l.ffn_down_shexp.bytes();
    if (l.ffn_gate_exps && hp.n_expert > 0) {
      const uint64_t per_expert = (l.ffn_gate_exps.bytes() + l.ffn_up_exps.bytes() + l.ffn_down_exps.bytes()) / hp.n_expert;
      b += per_expert * hp.n_expert_used;
    }
  }
  return b;
}

std::string Model::describe() const {
  std::map<std::string, uint64_t> by_type;
  for (const GgufTensorInfo& t : file->tensors()) by_type[type_name(t.type)] += t.nbytes;
  std::string main_type;
  uint64_t best = 0;
  for (auto& [k, v] : by_type)
    if (v > best) best = v, main_type = k;
  double p = (double)n_params;
  std::string size = p >= 1e9 ? strfmt("%.1fB", p / 1e9) : p >= 1e6 ? strfmt("%.0fM", p / 1e6) : strfmt("%.0fK", p / 1e3);
  return hp.arch_name + " " + size + " " + main_type;
}

// Packs every matrix whose type has a packed layout and a kernel at this host's level; the mapped pages
// of the packed rows are released (the embedding gather keeps reading the plain rows of token_embd).
static void store_progress(double* p, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  __atomic_store_n(reinterpret_cast<uint64_t*>(p), bits, __ATOMIC_RELAXED);
}

void pack_model(Model& m, int n_threads, double* progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const CpuKernels& k = cpu_kernels();
  std::vector<Weight*> ws;
  for (LayerWeights& l : m.layers)
    for (Weight* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down, &l.ffn_gate_exps, &l.ffn_up_exps,
                      &l.ffn_down_exps, &l.ffn_gate_shexp, &l.ffn_up_shexp, &l.ffn_down_shexp})
      if (*w) ws.push_back(w);
  if (m.output) ws.push_back(&m.output);
  // One slot per weight, filled in parallel (a pool for the duration of the load; the copies are
  // bound by page faults on the file and on the new huge pages), then moved into the model in order.
  struct Slot {
    PackedWeights packed;
    WeightBuffer plain;
  };
  std::vector<Slot> slots(ws.size());
  std::atomic<uint64_t> done_bytes{0};
  uint64_t total_bytes = 0;
  for (const Weight* w : ws) total_bytes += (uint64_t)w->info->nbytes;
  if (progress) store_progress(progress + 1, (double)total_bytes);
  ThreadPool pool(std::max(1, n_threads));
  auto pack_one = [&](int64_t i) {
    Weight* w = ws[(size_t)i];
    const MappedFile* map = m.file->mapping(*w->info);  // the part of a split model that holds it
    const bool gathered = m.output_tied && w == &m.output;  // token_embd's rows: the embedding reads them too
    if (k.mm_packed[(int)w->type] && packed_format(w->type))
      slots[(size_t)i].packed = pack_weights(w->type, w->ne[0], w->ne[1], w->ne[2], w->data, w->row_bytes);
    if (slots[(size_t)i].packed.data()) {
      if (map && !gathered && w->ne[1] % kPackRows == 0) map->release((uint64_t)(w->data - map->data()), w->info->nbytes);
    } else if (map && !gathered) {
      // no packed layout: a plain copy on huge pages (4 KiB pages of a mapped file cost a TLB miss per page)
      const size_t bytes = (size_t)w->info->nbytes;
      slots[(size_t)i].plain = alloc_weight_buffer(bytes, w->info->name.c_str());
      std::memcpy(slots[(size_t)i].plain.get(), w->data, bytes);
      map->release((uint64_t)(w->data - map->data()), bytes);
    }
  };
  std::vector<std::exception_ptr> errors(ws.size());
  pool.parallel_for((int64_t)ws.size(), [&](int64_t i, int) {
    try {
      pack_one(i);
      const uint64_t d = done_bytes.fetch_add((uint64_t)ws[(size_t)i]->info->nbytes) + (uint64_t)ws[(size_t)i]->info->nbytes;
      if (progress) store_progress(progress, (double)d);
    } catch (...) {
      errors[(size_t)i] = std::current_exception();  // rethrown on the calling thread below
    }
  });
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  for (size_t i = 0; i < ws.size(); i++) {
    Weight* w = ws[i];
    if (slots[i].packed.data()) {
      w->packed = slots[i].packed.data();
      w->group_bytes = slots[i].packed.group_bytes;
      m.packed_bytes += slots[i].packed.bytes;
      m.packed.push_back(std::move(slots[i].packed));
    } else if (slots[i].plain) {
      w->data = slots[i].plain.get();
      m.resident_bytes += (uint64_t)w->info->nbytes;
      m.resident.push_back(std::move(slots[i].plain));
    }
  }
  if (m.output_tied) {  // the tied output shares token_embd's rows: keep the gather's plain view, add the packed one
    m.tok_embd.packed = nullptr;
    m.tok_embd.group_bytes = 0;
  }
  m.pack_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::shared_ptr<Model> load_model(const std::string& path, const LoadOptions& opt) {
  auto m = std::make_shared<Model>();
  m->file = GgufFile::open_model(path);
  m->hp = load_hparams(*m->file);
  const Hparams& hp = m->hp;
  if (hp.n_vocab == 0) LLAMA4_THROW("model has no vocabulary (tokenizer.ggml.tokens)");
  Loader L(*m);
  const int64_t E = hp.n_embd, V = hp.n_vocab;
  m->tok_embd = L.get(Tn::TOKEN_EMBD, -1, {E, V});
  m->output = L.get(Tn::OUTPUT, -1, {E, V}, false);
  if (!m->output) {
    m->output = m->tok_embd;
    m->output_tied = true;
  }
  m->output_norm = L.vec(Tn::OUTPUT_NORM, -1, E);
  m->rope_freqs = L.vec(Tn::ROPE_FREQS, -1, hp.n_rot / 2, false);
  m->layers.resize(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; il++) {
    LayerWeights& l = m->layers[il];
    const uint32_t hd = hp.n_embd_head_k, hdv = hp.n_embd_head_v, nh = hp.n_head[il], nkv = hp.n_head_kv[il];
    const int64_t q_dim = heads_times_dim(il, "head_count", nh, "key_length", hd);
    const int64_t k_dim = heads_times_dim(il, "head_count_kv", nkv, "key_length", hd);
    const int64_t v_dim = heads_times_dim(il, "head_count_kv", nkv, "value_length", hdv);
    const int64_t o_dim = heads_times_dim(il, "head_count", nh, "value_length", hdv);
    l.attn_norm = L.vec(Tn::ATTN_NORM, il, E);
    l.wq = L.get(Tn::ATTN_Q, il, {E, q_dim});
    l.wk = L.get(Tn::ATTN_K, il, {E, k_dim});
    l.wv = L.get(Tn::ATTN_V, il, {E, v_dim});
    l.wo = L.get(Tn::ATTN_OUT, il, {o_dim, E});
    l.ffn_norm = L.vec(Tn::FFN_NORM, il, E);
    if (hp.layer_is_moe(il)) {
      const int64_t X = hp.n_expert, F = hp.n_ff_exp;
      l.ffn_gate_inp = L.get(Tn::FFN_GATE_INP, il, {E, X});
      l.ffn_gate_exps = L.get(Tn::FFN_GATE_EXPS, il, {E, F, X});
      l.ffn_up_exps = L.get(Tn::FFN_UP_EXPS, il, {E, F, X});
      l.ffn_down_exps = L.get(Tn::FFN_DOWN_EXPS, il, {F, E, X});
      if (hp.arch == Arch::Llama4) {
        l.ffn_gate_shexp = L.get(Tn::FFN_GATE_SHEXP, il, {E, F});
        l.ffn_up_shexp = L.get(Tn::FFN_UP_SHEXP, il, {E, F});
        l.ffn_down_shexp = L.get(Tn::FFN_DOWN_SHEXP, il, {F, E});
      }
    } else {
      const int64_t F = hp.n_ff[il];
      l.ffn_gate = L.get(Tn::FFN_GATE, il, {E, F});
      l.ffn_up = L.get(Tn::FFN_UP, il, {E, F});
      l.ffn_down = L.get(Tn::FFN_DOWN, il, {F, E});
    }
  }
  L.check_all_used();
  for (const GgufTensorInfo& t : m->file->tensors()) {
    m->n_params += (uint64_t)t.n_elements();
    m->weight_bytes += t.nbytes;
  }
  if (opt.repack) pack_model(*m, opt.n_threads);
  return m;
}

}  // namespace llama4
