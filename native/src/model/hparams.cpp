#include "model/hparams.h"

#include <cstring>

#include "runtime/error.h"

namespace llama4 {

namespace {

uint32_t req_u32(const GgufFile& f, Kv k, const std::string& arch) {
  const std::string key = kv_name(k, arch);
  const GgufKV* kv = f.find(key);
  if (!kv) LLAMA4_THROW("model is missing required metadata key '%s'", key.c_str());
  int64_t v = kv->as_int();
  if (v < 0 || v > (int64_t)UINT32_MAX) LLAMA4_THROW("metadata key '%s' value %lld is out of range", key.c_str(), (long long)v);
  return (uint32_t)v;
}

uint32_t opt_u32(const GgufFile& f, Kv k, const std::string& arch, uint32_t fallback) {
  const std::string key = kv_name(k, arch);
  if (!f.has(key)) return fallback;
  return req_u32(f, k, arch);
}

// Scalar or per-layer array (llama.cpp get_key_or_arr).
std::vector<uint32_t> per_layer(const GgufFile& f, Kv k, const std::string& arch, uint32_t n_layer, bool required,
                                uint32_t fallback) {
  const std::string key = kv_name(k, arch);
  const GgufKV* kv = f.find(key);
  if (!kv) {
    if (required) LLAMA4_THROW("model is missing required metadata key '%s'", key.c_str());
    return std::vector<uint32_t>(n_layer, fallback);
  }
  if (kv->type != GgufType::ARRAY) {
    int64_t v = kv->as_int();
    if (v < 0 || v > (int64_t)UINT32_MAX) LLAMA4_THROW("metadata key '%s' is out of range", key.c_str());
    return std::vector<uint32_t>(n_layer, (uint32_t)v);
  }
  if (kv->arr_count != n_layer)
    LLAMA4_THROW("metadata key '%s' has %llu entries, expected one per layer (%u)", key.c_str(),
                 (unsigned long long)kv->arr_count, n_layer);
  std::vector<uint32_t> out(n_layer);
  const size_t es = gguf_type_size(kv->arr_type);
  for (uint32_t i = 0; i < n_layer; i++) {
    int64_t v = 0;
    const uint8_t* p = kv->arr_data + es * i;
    switch (kv->arr_type) {
      case GgufType::UINT32: { uint32_t x; memcpy(&x, p, 4); v = x; break; }
      case GgufType::INT32: { int32_t x; memcpy(&x, p, 4); v = x; break; }
      case GgufType::UINT16: { uint16_t x; memcpy(&x, p, 2); v = x; break; }
      case GgufType::INT16: { int16_t x; memcpy(&x, p, 2); v = x; break; }
      case GgufType::UINT8: v = *p; break;
      case GgufType::INT8: v = (int8_t)*p; break;
      case GgufType::UINT64: { uint64_t x; memcpy(&x, p, 8); v = x > (uint64_t)INT64_MAX ? -1 : (int64_t)x; break; }
      case GgufType::INT64: { int64_t x; memcpy(&x, p, 8); v = x; break; }
      default: LLAMA4_THROW("metadata key '%s' must be an integer array", key.c_str());
    }
    if (v < 0 || v > (int64_t)UINT32_MAX) LLAMA4_THROW("metadata key '%s'[%u] is out of range", key.c_str(), i);
    out[i] = (uint32_t)v;
  }
  return out;
}

}  // namespace

bool Hparams::layer_is_moe(uint32_t il) const {
  if (n_expert == 0) return false;
  if (arch == Arch::Llama4) return n_moe_layer_step > 0 && (il + 1) % n_moe_layer_step == 0;
  return true;
}

bool Hparams::layer_has_rope(uint32_t il) const {
  return n_no_rope_layer_step == 0 || (il + 1) % n_no_rope_layer_step != 0;
}

bool Hparams::layer_is_chunked(uint32_t il) const {
  return n_swa > 0 && swa_pattern > 0 && il % swa_pattern < swa_pattern - 1;
}

Hparams load_hparams(const GgufFile& f) {
  Hparams hp;
  hp.arch_name = f.get_str(kv_name(Kv::GENERAL_ARCHITECTURE, ""), "");
  if (hp.arch_name.empty()) LLAMA4_THROW("model has no 'general.architecture' key");
  hp.arch = arch_from_name(hp.arch_name);
  if (hp.arch == Arch::Unknown)
    LLAMA4_THROW("unsupported model architecture '%s' (supported: llama, llama4)", hp.arch_name.c_str());
  const std::string& a = hp.arch_name;

  hp.n_ctx_train = req_u32(f, Kv::CONTEXT_LENGTH, a);
  hp.n_embd = req_u32(f, Kv::EMBEDDING_LENGTH, a);
  hp.n_layer = req_u32(f, Kv::BLOCK_COUNT, a);
  if (hp.n_embd == 0 || hp.n_layer == 0) LLAMA4_THROW("model has zero embedding length or block count");
  if (hp.n_layer > 4096) LLAMA4_THROW("block_count %u is absurd", hp.n_layer);
  hp.n_head = per_layer(f, Kv::ATTN_HEAD_COUNT, a, hp.n_layer, true, 0);
  hp.n_head_kv = per_layer(f, Kv::ATTN_HEAD_COUNT_KV, a, hp.n_layer, false, 0);
  for (uint32_t i = 0; i < hp.n_layer; i++) {
    if (hp.n_head[i] == 0) LLAMA4_THROW("layer %u has zero attention heads", i);
    if (hp.n_head_kv[i] == 0) hp.n_head_kv[i] = hp.n_head[i];
    if (hp.n_head[i] % hp.n_head_kv[i] != 0)
      LLAMA4_THROW("layer %u: head_count %u is not a multiple of head_count_kv %u", i, hp.n_head[i], hp.n_head_kv[i]);
  }
  hp.n_ff = per_layer(f, Kv::FEED_FORWARD_LENGTH, a, hp.n_layer, false, 0);
  const uint32_t default_hd = hp.n_embd / hp.n_head[0];
  hp.n_embd_head_k = opt_u32(f, Kv::ATTN_KEY_LENGTH, a, default_hd);
  hp.n_embd_head_v = opt_u32(f, Kv::ATTN_VALUE_LENGTH, a, default_hd);
  hp.n_rot = opt_u32(f, Kv::ROPE_DIMENSION_COUNT, a, hp.n_embd_head_k);
  if (hp.n_rot != hp.n_embd_head_k) LLAMA4_THROW("invalid n_rot %u: must equal the head dimension %u", hp.n_rot, hp.n_embd_head_k);
  if (hp.n_embd_head_k == 0 || hp.n_embd_head_k % 2 != 0) LLAMA4_THROW("invalid head dimension %u", hp.n_embd_head_k);
  {
    const std::string key = kv_name(Kv::ATTN_LAYERNORM_RMS_EPS, a);
    if (!f.has(key)) LLAMA4_THROW("model is missing required metadata key '%s'", key.c_str());
    hp.rms_eps = (float)f.get_float(key, 1e-5);
  }
  hp.rope_freq_base = (float)f.get_float(kv_name(Kv::ROPE_FREQ_BASE, a), 10000.0);
  hp.rope_scaling_type = f.get_str(kv_name(Kv::ROPE_SCALING_TYPE, a), "linear");
  double factor = f.get_float(kv_name(Kv::ROPE_SCALING_FACTOR, a), 0.0);
  if (factor == 0.0) factor = f.get_float(kv_name(Kv::ROPE_SCALE_LINEAR, a), 0.0);
  hp.rope_freq_scale = factor == 0.0 ? 1.0f : (float)(1.0 / factor);
  if (hp.rope_scaling_type == "none") hp.rope_freq_scale = 1.0f;
  if (hp.rope_scaling_type == "yarn" || hp.rope_scaling_type == "longrope")
    LLAMA4_THROW("rope scaling type '%s' is not supported yet", hp.rope_scaling_type.c_str());

  hp.n_expert = opt_u32(f, Kv::EXPERT_COUNT, a, 0);
  hp.n_expert_used = opt_u32(f, Kv::EXPERT_USED_COUNT, a, 0);
  if (hp.n_expert_used > hp.n_expert) LLAMA4_THROW("expert_used_count %u exceeds expert_count %u", hp.n_expert_used, hp.n_expert);
  if (hp.n_expert > 0 && hp.n_expert_used == 0) LLAMA4_THROW("expert_count is %u but expert_used_count is 0", hp.n_expert);
  if (hp.n_expert > 4096) LLAMA4_THROW("expert_count %u is absurd", hp.n_expert);

  if (const GgufKV* tok = f.find(kv_name(Kv::TOKENIZER_TOKENS, a))) hp.n_vocab = (uint32_t)tok->arr_count;

  if (hp.arch == Arch::Llama) {
    hp.n_ff_exp = hp.n_ff[0];
  } else {  // llama4 (spec 4.2)
    hp.n_ff_exp = req_u32(f, Kv::EXPERT_FEED_FORWARD_LENGTH, a);
    hp.n_moe_layer_step = req_u32(f, Kv::INTERLEAVE_MOE_LAYER_STEP, a);
    if (hp.n_moe_layer_step == 0) LLAMA4_THROW("interleave_moe_layer_step must be > 0");
    if (hp.n_expert == 0) LLAMA4_THROW("llama4 model has zero experts");
    hp.use_kq_norm = hp.n_expert != 128;
    const std::string sw_key = kv_name(Kv::ATTN_SLIDING_WINDOW, a);
    if (f.has(sw_key) && f.get_int(sw_key, 1) == 0) {
      // all layers full attention; llama.cpp then sets the NoPE step to n_layer
      hp.n_swa = 0;
      hp.swa_pattern = 0;
      hp.n_no_rope_layer_step = hp.n_layer;
    } else {
      hp.n_swa = 8192;
      hp.swa_pattern = 4;
      hp.n_no_rope_layer_step = 4;
      hp.attn_temp_floor_scale = 8192;
      hp.attn_temp_scale = 0.1f;
      hp.attn_temp_offset = 1.0f;
    }
  }
  return hp;
}

}  // namespace llama4
