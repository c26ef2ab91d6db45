// Model hyper-parameters as llama.cpp derives them from GGUF metadata (spec 3.1, 4.2), including the
// Llama-4 constants that no key carries. Per-layer values (heads, ffn width) may be arrays in the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/names.h"

namespace llama4 {

struct Hparams {
  Arch arch = Arch::Unknown;
  std::string arch_name;
  uint32_t n_ctx_train = 0;
  uint32_t n_embd = 0;
  uint32_t n_layer = 0;
  std::vector<uint32_t> n_head;     // [n_layer]
  std::vector<uint32_t> n_head_kv;  // [n_layer]
  std::vector<uint32_t> n_ff;       // [n_layer] dense FFN width
  uint32_t n_embd_head_k = 0;       // head dim of K/Q
  uint32_t n_embd_head_v = 0;
  uint32_t n_rot = 0;
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  std::string rope_scaling_type = "linear";
  uint32_t n_vocab = 0;  // from the token list (0 when the file has none)

  // experts
  uint32_t n_expert = 0;
  uint32_t n_expert_used = 0;
  uint32_t n_ff_exp = 0;             // llama4: expert width; llama+experts: = n_ff
  uint32_t n_moe_layer_step = 0;     // llama4
  // llama4 constants (hard-coded in llama.cpp)
  bool use_kq_norm = false;
  uint32_t n_no_rope_layer_step = 0;  // 0 = every layer has RoPE
  uint32_t n_swa = 0;                 // chunk size for chunked attention (0 = none)
  uint32_t swa_pattern = 0;           // layer il is chunked iff il % swa_pattern < swa_pattern - 1
  uint32_t attn_temp_floor_scale = 0;
  float attn_temp_scale = 0.0f;
  float attn_temp_offset = 0.0f;

  bool layer_is_moe(uint32_t il) const;
  bool layer_has_rope(uint32_t il) const;
  bool layer_is_chunked(uint32_t il) const;
  uint32_t n_gqa(uint32_t il) const { return n_head[il] / n_head_kv[il]; }
  // Parameters and weight bytes read per token are computed by the loader from the tensors.
};

// Throws Error naming the missing/invalid key. Requires a supported architecture.
Hparams load_hparams(const GgufFile& f);

}  // namespace llama4
