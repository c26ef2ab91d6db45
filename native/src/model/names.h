// The one table of GGUF metadata keys, architecture names and tensor names (as llama.cpp's
// llama-arch.cpp). The loader, the writer (via the addon's ggufNames()) and the tokenizer all read it.
#pragma once
#include <string>

namespace llama4 {

enum class Arch { Llama, Llama4, Unknown };
Arch arch_from_name(const std::string& name);
const char* arch_name(Arch a);

#define LLAMA4_KV_LIST(X)                                                      \
  X(GENERAL_ARCHITECTURE, "general.architecture")                              \
  X(GENERAL_TYPE, "general.type")                                              \
  X(GENERAL_NAME, "general.name")                                              \
  X(GENERAL_BASENAME, "general.basename")                                      \
  X(GENERAL_SIZE_LABEL, "general.size_label")                                  \
  X(GENERAL_FILE_TYPE, "general.file_type")                                    \
  X(GENERAL_QUANT_VERSION, "general.quantization_version")                     \
  X(GENERAL_ALIGNMENT, "general.alignment")                                    \
  X(SPLIT_NO, "split.no")                                                      \
  X(SPLIT_COUNT, "split.count")                                                \
  X(SPLIT_TENSORS_COUNT, "split.tensors.count")                                \
  X(VOCAB_SIZE, "%s.vocab_size")                                               \
  X(CONTEXT_LENGTH, "%s.context_length")                                       \
  X(EMBEDDING_LENGTH, "%s.embedding_length")                                   \
  X(BLOCK_COUNT, "%s.block_count")                                             \
  X(FEED_FORWARD_LENGTH, "%s.feed_forward_length")                             \
  X(EXPERT_FEED_FORWARD_LENGTH, "%s.expert_feed_forward_length")               \
  X(EXPERT_COUNT, "%s.expert_count")                                           \
  X(EXPERT_USED_COUNT, "%s.expert_used_count")                                 \
  X(EXPERT_WEIGHTS_SCALE, "%s.expert_weights_scale")                           \
  X(INTERLEAVE_MOE_LAYER_STEP, "%s.interleave_moe_layer_step")                 \
  X(ATTN_HEAD_COUNT, "%s.attention.head_count")                                \
  X(ATTN_HEAD_COUNT_KV, "%s.attention.head_count_kv")                          \
  X(ATTN_KEY_LENGTH, "%s.attention.key_length")                                \
  X(ATTN_VALUE_LENGTH, "%s.attention.value_length")                            \
  X(ATTN_LAYERNORM_RMS_EPS, "%s.attention.layer_norm_rms_epsilon")             \
  X(ATTN_SLIDING_WINDOW, "%s.attention.sliding_window")                        \
  X(ROPE_DIMENSION_COUNT, "%s.rope.dimension_count")                           \
  X(ROPE_FREQ_BASE, "%s.rope.freq_base")                                       \
  X(ROPE_SCALING_TYPE, "%s.rope.scaling.type")                                 \
  X(ROPE_SCALING_FACTOR, "%s.rope.scaling.factor")                             \
  X(ROPE_SCALE_LINEAR, "%s.rope.scale_linear")                                 \
  X(ROPE_SCALING_ORIG_CTX_LEN, "%s.rope.scaling.original_context_length")      \
  X(ROPE_SCALING_ATTN_FACTOR, "%s.rope.scaling.attn_factor")                   \
  X(TOKENIZER_MODEL, "tokenizer.ggml.model")                                   \
  X(TOKENIZER_PRE, "tokenizer.ggml.pre")                                       \
  X(TOKENIZER_TOKENS, "tokenizer.ggml.tokens")                                 \
  X(TOKENIZER_SCORES, "tokenizer.ggml.scores")                                 \
  X(TOKENIZER_TOKEN_TYPE, "tokenizer.ggml.token_type")                         \
  X(TOKENIZER_MERGES, "tokenizer.ggml.merges")                                 \
  X(TOKENIZER_BOS_ID, "tokenizer.ggml.bos_token_id")                           \
  X(TOKENIZER_EOS_ID, "tokenizer.ggml.eos_token_id")                           \
  X(TOKENIZER_EOT_ID, "tokenizer.ggml.eot_token_id")                           \
  X(TOKENIZER_EOM_ID, "tokenizer.ggml.eom_token_id")                           \
  X(TOKENIZER_UNK_ID, "tokenizer.ggml.unknown_token_id")                       \
  X(TOKENIZER_SEP_ID, "tokenizer.ggml.seperator_token_id")                     \
  X(TOKENIZER_PAD_ID, "tokenizer.ggml.padding_token_id")                       \
  X(TOKENIZER_ADD_BOS, "tokenizer.ggml.add_bos_token")                         \
  X(TOKENIZER_ADD_EOS, "tokenizer.ggml.add_eos_token")                         \
  X(TOKENIZER_ADD_SPACE_PREFIX, "tokenizer.ggml.add_space_prefix")             \
  X(TOKENIZER_CHAT_TEMPLATE, "tokenizer.chat_template")                        \
  X(DEPTH_GATE_BASE_MODEL, "depth_gate.base_model")                            \
  X(DEPTH_GATE_THRESHOLD, "depth_gate.threshold")                             \
  X(DEPTH_GATE_THRESHOLDS, "depth_gate.thresholds")                           \
  X(DEPTH_GATE_KV_MODE, "depth_gate.kv_mode")                                 \
  X(DEPTH_GATE_TARGET_SKIP, "depth_gate.target_skip")                         \
  X(DEPTH_GATE_CALIBRATION, "depth_gate.calibration")                         \
  X(DEPTH_GATE_VERSION, "depth_gate.version")                                 \
  X(DEPTH_GATE_GRANULARITY, "depth_gate.granularity")                         \
  X(DEPTH_GATE_THRESHOLDS_ATTN, "depth_gate.thresholds_attn")                 \
  X(DEPTH_GATE_THRESHOLDS_FFN, "depth_gate.thresholds_ffn")

enum class Kv {
#define X(id, fmt) id,
  LLAMA4_KV_LIST(X)
#undef X
      COUNT
};
const char* kv_format(Kv k);                        // "%s.context_length" (with %s for the arch)
std::string kv_name(Kv k, const std::string& arch);  // "llama.context_length"

#define LLAMA4_TENSOR_LIST(X)                       \
  X(TOKEN_EMBD, "token_embd")                       \
  X(OUTPUT_NORM, "output_norm")                     \
  X(OUTPUT, "output")                               \
  X(ROPE_FREQS, "rope_freqs")                       \
  X(ATTN_NORM, "blk.%d.attn_norm")                  \
  X(ATTN_Q, "blk.%d.attn_q")                        \
  X(ATTN_K, "blk.%d.attn_k")                        \
  X(ATTN_V, "blk.%d.attn_v")                        \
  X(ATTN_OUT, "blk.%d.attn_output")                 \
  X(FFN_NORM, "blk.%d.ffn_norm")                    \
  X(FFN_GATE, "blk.%d.ffn_gate")                    \
  X(FFN_UP, "blk.%d.ffn_up")                        \
  X(FFN_DOWN, "blk.%d.ffn_down")                    \
  X(FFN_GATE_INP, "blk.%d.ffn_gate_inp")            \
  X(FFN_GATE_EXPS, "blk.%d.ffn_gate_exps")          \
  X(FFN_UP_EXPS, "blk.%d.ffn_up_exps")              \
  X(FFN_DOWN_EXPS, "blk.%d.ffn_down_exps")          \
  X(FFN_GATE_SHEXP, "blk.%d.ffn_gate_shexp")        \
  X(FFN_UP_SHEXP, "blk.%d.ffn_up_shexp")            \
  X(FFN_DOWN_SHEXP, "blk.%d.ffn_down_shexp")        \
  X(DEPTH_GATE, "blk.%d.depth_gate")               \
  X(DEPTH_GATE_ATTN, "blk.%d.depth_gate_attn")      \
  X(DEPTH_GATE_FFN, "blk.%d.depth_gate_ffn")

enum class Tn {
#define X(id, fmt) id,
  LLAMA4_TENSOR_LIST(X)
#undef X
      COUNT
};
const char* tensor_format(Tn t);
// "blk.3.attn_q.weight"; layer is ignored for global tensors.
std::string tensor_name(Tn t, int layer = -1, const char* suffix = "weight");

}  // namespace llama4
