// Depth gates: the second sparsity. A gate scores a sublayer's own normed input, s = w · n(h) + b, and the
// token runs it when sigmoid(s) >= tau; otherwise h passes through unchanged. Three granularities, per
// block l (any mix may be present):
//   block  blk.N.depth_gate.{weight,bias}       reads the attention norm's output; skips the whole block
//   attn   blk.N.depth_gate_attn.{weight,bias}  reads the attention norm's output; skips the attention
//   ffn    blk.N.depth_gate_ffn.{weight,bias}   reads the FFN norm's output (after attention); skips the FFN
// Gates come from an adapter GGUF beside the model (metadata depth_gate.*; depth_gate.version 2, absent in
// version-1 adapters, which hold block gates only) or from the same tensors inside the model. The first
// and last blocks always run in full.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/model.h"

namespace llama4 {

struct DepthGateLayer {
  bool present = false;
  std::vector<float> w;  // [n_embd]
  float b = 0.0f;
  float threshold = -1.0f;  // per-block tau from calibration (< 0: use the global one)
};

enum class Sublayer { Block = 0, Attn = 1, Ffn = 2 };

struct DepthGates {
  std::vector<DepthGateLayer> layers;  // block gates [n_layer]
  std::vector<DepthGateLayer> attn;    // attention-sublayer gates [n_layer]
  std::vector<DepthGateLayer> ffn;     // FFN-sublayer gates [n_layer]
  uint32_t version = 1;                // adapter format (depth_gate.version)
  float threshold = 0.5f;              // calibrated global tau (a probability)
  std::string base_model;              // general.name / file name of the model they were fitted on
  std::string source;                  // adapter path or "model"
};

// Loads gates from `adapter` (a GGUF with depth_gate tensors and metadata), or from the model's own
// tensors when adapter is empty. Throws Error naming the file, tensor and shape problem.
std::shared_ptr<DepthGates> load_depth_gates(const Model& m, const std::string& adapter);

// How a context routes tokens through depth.
enum class KvSkipMode { Fill, Skip };
struct DepthPolicy {
  std::shared_ptr<const DepthGates> gates;  // null: no learned gating
  float threshold = -1.0f;                  // overrides the calibrated tau when >= 0
  bool prefill = false;                     // also gate prompt batches (default: full depth)
  KvSkipMode kv = KvSkipMode::Fill;         // KV of skipped blocks: still computed (fill) or not written (skip)
  // Static removal (ShortGPT / He et al. baselines), per block: 1 = always skipped. Unlike the gates these
  // apply to every gated forward, prompts included (the layer is gone from the model), and with
  // free_dropped_kv a layer whose attention is dropped gets no KV cache at all.
  std::vector<uint8_t> drop;       // whole blocks
  std::vector<uint8_t> drop_attn;  // attention sublayers
  std::vector<uint8_t> drop_ffn;   // FFN sublayers
  // Release the KV of statically dropped attention layers. Off for a context that also runs full depth
  // (the exact mode's verifier), which needs every layer's cache.
  bool free_dropped_kv = true;
  // MoE blocks with a shared expert: a token whose gate is below tau but at least this runs the block's
  // attention and shared expert only, skipping the routed experts (< 0: off, two-way decisions)
  float shared_threshold = -1.0f;
  bool has_drops() const { return !drop.empty() || !drop_attn.empty() || !drop_ffn.empty(); }
  bool active() const { return gates != nullptr || has_drops(); }
  // layer il's attention never runs (and its KV is never read) under this policy
  bool attn_dropped(uint32_t il) const {
    return (!drop.empty() && drop[il]) || (!drop_attn.empty() && drop_attn[il]);
  }
  bool ffn_dropped(uint32_t il) const { return (!drop.empty() && drop[il]) || (!drop_ffn.empty() && drop_ffn[il]); }
};

// Gate probability for one token: sigmoid(w · xn + b).
float depth_gate_prob(const DepthGateLayer& g, const float* xn, int64_t n_embd);

// The first and last blocks always run in full: no gate, drop or KV release applies to them.
inline bool depth_edge(uint32_t il, uint32_t n_layer) { return il == 0 || il + 1 == n_layer; }

// A gate's verdict for one token: run, skip, or (MoE blocks with a shared expert, the policy's
// shared_threshold band below tau) run the shared expert only.
enum class GateVerdict { Run, SharedOnly, Skip };
inline GateVerdict gate_verdict(float p, float tau, const DepthPolicy& pol, bool moe_shared) {
  if (p >= tau) return GateVerdict::Run;
  return moe_shared && pol.shared_threshold >= 0 && p >= pol.shared_threshold ? GateVerdict::SharedOnly : GateVerdict::Skip;
}

}  // namespace llama4
