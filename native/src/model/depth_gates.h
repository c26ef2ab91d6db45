// Depth gates: the second sparsity. A gate per block l scores the block's own normed input,
// s = w_l · n_l(h) + b_l, and the token runs the block when sigmoid(s) >= tau; otherwise h passes
// through unchanged. Gates come from an adapter GGUF beside the model (blk.N.depth_gate.{weight,bias},
// metadata depth_gate.*) or from the same tensors inside the model. The first and last blocks always run.
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

struct DepthGates {
  std::vector<DepthGateLayer> layers;  // [n_layer]
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
  std::vector<uint8_t> drop;                // static removal: 1 = block always skipped (ShortGPT baseline)
  // MoE blocks with a shared expert: a token whose gate is below tau but at least this runs the block's
  // attention and shared expert only, skipping the routed experts (< 0: off, two-way decisions)
  float shared_threshold = -1.0f;
  bool active() const { return gates != nullptr || !drop.empty(); }
};

// Gate probability for one token: sigmoid(w · xn + b).
float depth_gate_prob(const DepthGateLayer& g, const float* xn, int64_t n_embd);

}  // namespace llama4
