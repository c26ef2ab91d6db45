// A tiny in-memory GGUF v3 writer for the fuzz targets and their seed corpora: well-formed files only (the
// fuzzer breaks them), tensor data deterministic pseudo-random bytes of the right size for any type.
// Recipes for the smallest models each loader path accepts (dense llama, llama with experts, llama4) and
// for depth-gate adapters live here too, so the depth-gate target needs no file from outside.
#pragma once
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/names.h"
#include "ops/types.h"

namespace llama4::fuzz {

class GgufBuilder {
 public:
  void u32(const std::string& k, uint32_t v) { kv(k, GgufType::UINT32), pod(v); }
  void u16(const std::string& k, uint16_t v) { kv(k, GgufType::UINT16), pod(v); }
  void i32(const std::string& k, int32_t v) { kv(k, GgufType::INT32), pod(v); }
  void f32(const std::string& k, float v) { kv(k, GgufType::FLOAT32), pod(v); }
  void str(const std::string& k, const std::string& v) { kv(k, GgufType::STRING), s(v); }
  void strs(const std::string& k, const std::vector<std::string>& v) {
    kv(k, GgufType::ARRAY), pod((uint32_t)GgufType::STRING), pod((uint64_t)v.size());
    for (const std::string& x : v) s(x);
  }
  void f32s(const std::string& k, const std::vector<float>& v) {
    kv(k, GgufType::ARRAY), pod((uint32_t)GgufType::FLOAT32), pod((uint64_t)v.size());
    for (float x : v) pod(x);
  }
  void i32s(const std::string& k, const std::vector<int32_t>& v) {
    kv(k, GgufType::ARRAY), pod((uint32_t)GgufType::INT32), pod((uint64_t)v.size());
    for (int32_t x : v) pod(x);
  }
  // A tensor of shape ne (ne[0] contiguous); its bytes are pseudo-random, except F32 data, which is small
  // finite values (norm weights and gate vectors that a forward pass can use).
  void tensor(const std::string& name, std::initializer_list<int64_t> ne, GgmlType type = GgmlType::F32) {
    Tensor t{name, std::vector<int64_t>(ne), type, {}};
    int64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); d++) rows *= t.ne[d];
    const size_t bytes = row_size(type, t.ne[0]) * (size_t)rows;
    t.data.resize(bytes);
    for (size_t i = 0; i < bytes; i++) t.data[i] = (uint8_t)(next() >> 24);
    if (type == GgmlType::F32)
      for (size_t i = 0; i + 4 <= bytes; i += 4) {
        const float v = (float)((int)(next() % 2001) - 1000) / 4000.0f;
        std::memcpy(&t.data[i], &v, 4);
      }
    if (type == GgmlType::F16 || type == GgmlType::Q8_0 || type == GgmlType::Q4_0 || type == GgmlType::Q4_1)
      sane_scales(t);
    tensors_.push_back(std::move(t));
  }

  std::vector<uint8_t> build(uint32_t alignment = 32) const {
    std::vector<uint8_t> out;
    auto put = [&](const void* p, size_t n) { out.insert(out.end(), (const uint8_t*)p, (const uint8_t*)p + n); };
    auto put_u32 = [&](uint32_t v) { put(&v, 4); };
    auto put_u64 = [&](uint64_t v) { put(&v, 8); };
    put("GGUF", 4);
    put_u32(3);
    put_u64(tensors_.size());
    put_u64(n_kv_);
    put(kvs_.data(), kvs_.size());
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
      put_u64(t.name.size());
      put(t.name.data(), t.name.size());
      put_u32((uint32_t)t.ne.size());
      for (int64_t d : t.ne) put_u64((uint64_t)d);
      put_u32((uint32_t)t.type);
      put_u64(offset);
      offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    if (!tensors_.empty()) out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    for (const Tensor& t : tensors_) {
      put(t.data.data(), t.data.size());
      out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    }
    return out;
  }
  size_t n_tensors() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    std::vector<uint8_t> data;
  };
  template <typename V>
  void pod(V v) {
    kvs_.append((const char*)&v, sizeof v);
  }
  void s(const std::string& v) { pod((uint64_t)v.size()), kvs_.append(v); }
  void kv(const std::string& k, GgufType t) { s(k), pod((uint32_t)t), n_kv_++; }
  uint32_t next() { return rng_ = rng_ * 1664525u + 1013904223u; }
  // Keeps f16 values and block scales small and finite so a forward pass on a seed model stays finite.
  void sane_scales(Tensor& t) {
    const size_t stride = t.type == GgmlType::F16 ? 2 : type_traits(t.type).type_size;
    const size_t halves = t.type == GgmlType::Q4_1 ? 2 : 1;  // Q4_1: the scale and the minimum
    for (size_t i = 0; i + 2 * halves <= t.data.size(); i += stride)
      for (size_t h = 0; h < halves; h++) {
        const uint16_t v = fp32_to_fp16((float)(next() % 1000) / 64000.0f);
        std::memcpy(&t.data[i + 2 * h], &v, 2);
      }
  }

  std::string kvs_;
  uint64_t n_kv_ = 0;
  std::vector<Tensor> tensors_;
  uint32_t rng_ = 0x1234567u;
};

// The smallest model of each shape the loader knows, as a builder to which a caller may add more.
struct TinyModel {
  enum class Kind { Dense, Moe, Llama4 };
  Kind kind = Kind::Dense;
  uint32_t n_embd = 8, n_layer = 2, n_head = 2, n_head_kv = 1, n_ff = 16, n_vocab = 8;
  uint32_t n_expert = 2, n_expert_used = 1;
  GgmlType matrix_type = GgmlType::F32;  // the projections; norms stay F32
  bool tied_output = false;
  bool split_keys = false;  // leave room for callers that add split.* keys themselves

  GgufBuilder builder() const {
    GgufBuilder b;
    const std::string a = kind == Kind::Llama4 ? "llama4" : "llama";
    b.str(kv_name(Kv::GENERAL_ARCHITECTURE, ""), a);
    b.str(kv_name(Kv::GENERAL_NAME, ""), "tiny");
    b.u32(kv_name(Kv::CONTEXT_LENGTH, a), 64);
    b.u32(kv_name(Kv::EMBEDDING_LENGTH, a), n_embd);
    b.u32(kv_name(Kv::BLOCK_COUNT, a), n_layer);
    b.u32(kv_name(Kv::FEED_FORWARD_LENGTH, a), n_ff);
    b.u32(kv_name(Kv::ATTN_HEAD_COUNT, a), n_head);
    b.u32(kv_name(Kv::ATTN_HEAD_COUNT_KV, a), n_head_kv);
    b.f32(kv_name(Kv::ATTN_LAYERNORM_RMS_EPS, a), 1e-5f);
    b.f32(kv_name(Kv::ROPE_FREQ_BASE, a), 10000.0f);
    if (kind != Kind::Dense) {
      b.u32(kv_name(Kv::EXPERT_COUNT, a), n_expert);
      b.u32(kv_name(Kv::EXPERT_USED_COUNT, a), n_expert_used);
    }
    if (kind == Kind::Llama4) {
      b.u32(kv_name(Kv::EXPERT_FEED_FORWARD_LENGTH, a), n_ff);
      b.u32(kv_name(Kv::INTERLEAVE_MOE_LAYER_STEP, a), 2);
    }
    b.str(kv_name(Kv::TOKENIZER_MODEL, a), "llama");
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (uint32_t i = 0; i < n_vocab; i++) {
      tokens.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : std::string(1, (char)('a' + i)));
      scores.push_back(-(float)i);
      types.push_back(i < 3 ? (i == 0 ? 2 : 3) : 1);
    }
    b.strs(kv_name(Kv::TOKENIZER_TOKENS, a), tokens);
    b.f32s(kv_name(Kv::TOKENIZER_SCORES, a), scores);
    b.i32s(kv_name(Kv::TOKENIZER_TOKEN_TYPE, a), types);
    b.u32(kv_name(Kv::TOKENIZER_BOS_ID, a), 1);
    b.u32(kv_name(Kv::TOKENIZER_EOS_ID, a), 2);
    return b;
  }

  // The tensors, in the loader's order; `from` / `to` pick a slice (split parts).
  void add_tensors(GgufBuilder& b, size_t from = 0, size_t to = SIZE_MAX) const {
    size_t i = 0;
    auto t = [&](const std::string& name, std::initializer_list<int64_t> ne, GgmlType type) {
      if (i >= from && i < to) b.tensor(name, ne, type);
      i++;
    };
    const int64_t E = n_embd, V = n_vocab, hd = n_embd / n_head, F = n_ff, X = n_expert;
    const GgmlType M = matrix_type, N = GgmlType::F32;
    t(tensor_name(Tn::TOKEN_EMBD), {E, V}, M);
    t(tensor_name(Tn::OUTPUT_NORM), {E}, N);
    if (!tied_output) t(tensor_name(Tn::OUTPUT), {E, V}, M);
    for (int il = 0; il < (int)n_layer; il++) {
      t(tensor_name(Tn::ATTN_NORM, il), {E}, N);
      t(tensor_name(Tn::ATTN_Q, il), {E, n_head * hd}, M);
      t(tensor_name(Tn::ATTN_K, il), {E, n_head_kv * hd}, M);
      t(tensor_name(Tn::ATTN_V, il), {E, n_head_kv * hd}, M);
      t(tensor_name(Tn::ATTN_OUT, il), {n_head * hd, E}, M);
      t(tensor_name(Tn::FFN_NORM, il), {E}, N);
      const bool moe = kind == Kind::Moe || (kind == Kind::Llama4 && (il + 1) % 2 == 0);
      if (moe) {
        t(tensor_name(Tn::FFN_GATE_INP, il), {E, X}, N);
        t(tensor_name(Tn::FFN_GATE_EXPS, il), {E, F, X}, M);
        t(tensor_name(Tn::FFN_UP_EXPS, il), {E, F, X}, M);
        t(tensor_name(Tn::FFN_DOWN_EXPS, il), {F, E, X}, M);
        if (kind == Kind::Llama4) {
          t(tensor_name(Tn::FFN_GATE_SHEXP, il), {E, F}, M);
          t(tensor_name(Tn::FFN_UP_SHEXP, il), {E, F}, M);
          t(tensor_name(Tn::FFN_DOWN_SHEXP, il), {F, E}, M);
        }
      } else {
        t(tensor_name(Tn::FFN_GATE, il), {E, F}, M);
        t(tensor_name(Tn::FFN_UP, il), {E, F}, M);
        t(tensor_name(Tn::FFN_DOWN, il), {F, E}, M);
      }
    }
  }
  size_t tensor_count() const {
    GgufBuilder b;
    add_tensors(b);
    return b.n_tensors();
  }

  std::vector<uint8_t> file() const {
    GgufBuilder b = builder();
    add_tensors(b);
    return b.build();
  }
};

// A depth-gate adapter for a model of n_layer blocks of width n_embd: gates of the given kinds on every
// middle block, version 2 metadata with per-block thresholds.
inline std::vector<uint8_t> tiny_adapter(uint32_t n_embd, uint32_t n_layer, std::initializer_list<Tn> kinds,
                                         uint32_t version = 2, bool thresholds = true) {
  GgufBuilder b;
  b.str(kv_name(Kv::GENERAL_ARCHITECTURE, ""), "llama");
  b.str(kv_name(Kv::DEPTH_GATE_BASE_MODEL, ""), "tiny");
  if (version > 1) b.u32(kv_name(Kv::DEPTH_GATE_VERSION, ""), version);
  b.f32(kv_name(Kv::DEPTH_GATE_THRESHOLD, ""), 0.5f);
  const Kv per_kind[] = {Kv::DEPTH_GATE_THRESHOLDS, Kv::DEPTH_GATE_THRESHOLDS_ATTN, Kv::DEPTH_GATE_THRESHOLDS_FFN};
  for (Tn k : kinds) {
    if (thresholds) {
      std::vector<float> th(n_layer, 0.5f);
      th[0] = -1.0f;
      b.f32s(kv_name(per_kind[k == Tn::DEPTH_GATE ? 0 : k == Tn::DEPTH_GATE_ATTN ? 1 : 2], ""), th);
    }
    for (uint32_t il = 1; il + 1 < n_layer; il++) {
      b.tensor(tensor_name(k, (int)il, "weight"), {(int64_t)n_embd});
      b.tensor(tensor_name(k, (int)il, "bias"), {1});
    }
  }
  return b.build();
}

}  // namespace llama4::fuzz
