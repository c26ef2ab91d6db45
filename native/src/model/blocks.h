// Shared building blocks of the decoder graphs (llama.cpp's build_norm / build_attn / build_ffn /
// build_moe_ffn). An architecture file composes them per layer; per-layer variation (MoE or dense, RoPE
// or NoPE, chunked or full attention) is decided by small predicates there, never in here.
// All blocks work on the residual stream x[n_tokens][n_embd] of the current batch, in place.
#pragma once
#include <atomic>
#include <cstdint>

#include "model/context.h"

namespace llama4 {

// Walsh-Hadamard group size for a quantized KV cache's K (v = false) or V rows (blocks.cpp); 0 = none.
int64_t kv_rotation(GgmlType t, int64_t head_dim, bool v);

struct AttnOpts {
  bool rope = true;         // rotary embedding on Q and K
  bool qk_norm = false;     // Llama 4: weightless RMS norm of Q and K per head, after RoPE
  bool temperature = false; // Llama 4 NoPE layers: scale Q by the attention temperature for its position
  uint32_t chunk = 0;       // chunked attention: a query sees keys of its own chunk only (0 = full causal)
};

class Blocks {
 public:
  Blocks(Context& ctx, const int32_t* tokens, const int32_t* pos, int64_t n, const std::atomic<bool>* cancel);

  void embed();                                   // x = token_embd rows
  // Decides which tokens run block il and its attention (block and attention gates, static drops;
  // first/last always run) and computes the block's input norm.
  void route(uint32_t il);
  // After the attention: which tokens run the FFN (block decision, FFN gate on the FFN norm's output,
  // static FFN drop; MoE: full / shared expert only / skip). Returns false when none does.
  bool route_ffn(uint32_t il);
  // End of block il: records calibration taps when the context asks for them.
  void end_block(uint32_t il);
  void attention(uint32_t il, const AttnOpts& o); // x += Wo · attn(rope(Wq·n(x)), cache)
  // Last block, after its attention: only the tokens whose logits are wanted go on (llama.cpp's inp_out_ids
  // get_rows), so without all_logits the FFN runs on the last token alone, one token as in llama.cpp (its
  // batch orders differ). Calibration taps keep every token.
  void keep_output_rows(bool all_logits);
  void ffn(uint32_t il);                          // x += down(silu(gate·n(x)) * up·n(x))
  void moe_softmax(uint32_t il);                  // x += Σ_k w_k expert_k(n(x)), softmax top-k renormalised
  void moe_sigmoid_shared(uint32_t il);           // x += Σ_k expert_k(n(x)·σ(l_k)) + shared(n(x)) (Llama 4)
  void output(bool all_logits, float* logits);    // logits = Wout · n(x) for the last (or every) token
  void check_cancel() const;
  // Depth routing for this forward pass: one policy for every token, or one per token (null entries run
  // full depth); learned: apply the gates (static drops apply regardless). Unset: full depth.
  void set_depth(const DepthPolicy* all, const DepthPolicy* const* per_token, bool learned) {
    depth_ = all;
    pols_ = per_token;
    learned_ = learned;
  }
  // Sum a batch's attention and F32 / F16 / BF16 matmuls in the single-token order, so a batch equals its
  // tokens run one by one (llama.cpp uses other orders for batches; parity keeps them unless asked).
  void set_sequential(bool on) { sequential_ = on; }
  // Several sequences in one pass: token t's K/V go to and are read from seqs[t]'s cache, its depth
  // statistics to seqs[t] (null: the context's).
  void set_seqs(Context* const* seqs) { seqs_ = seqs; }

 private:
  // Converted activations for weights of type wt reading rows of src (cached per source and type).
  const ConvertedActs& acts(GgmlType wt, const float* src, int64_t stride, int64_t n_in, int64_t n_rows, int slot);
  // Every weight matmul goes through here (counts the weight bytes it reads in the context's stats).
  // experts: a routed expert's matrix (llama.cpp's mul_mat_id, vec_dot order for every batch).
  void mm(const WeightView& w, const ConvertedActs& a, float* y, int64_t y_stride, bool experts = false);
  // Several matmuls in one pass of the pool (their activations must all stay converted meanwhile).
  void mm_jobs(std::initializer_list<MatmulJob> jobs, bool experts = false);
  BatchOrder batch_order(bool experts) const {
    return experts || sequential_ ? BatchOrder::kVecDot : BatchOrder::kLlamaCpp;
  }
  void swiglu_ffn(const WeightView& gate, const WeightView& up, const WeightView& down, const float* in,
                  int64_t n_rows, float* out, bool experts = false);
  void attend(uint32_t il, const AttnOpts& o);
  KvCache& kv_at(int64_t t) const { return seqs_ ? seqs_[t]->kv_ : c_.kv_; }
  DecodeStats& stats_at(int64_t t) const { return seqs_ ? seqs_[t]->stats_ : c_.stats_; }
  const DepthPolicy* pol(int64_t t) const { return pols_ ? pols_[t] : depth_; }
  bool routed() const { return depth_ || pols_; }
  // policy p's learned gate of kind k at block il and its threshold (null: none, or gates not applied)
  const DepthGateLayer* gate_at(const DepthPolicy* p, Sublayer k, uint32_t il, float* tau) const;
  void sublayer_taps(const float* a, const float* b, std::vector<float>& cos, std::vector<float>& rel, uint32_t il);
  void add_rows(const float* rows);                 // x[running token r] += rows[r]
  void ffn_norm_rows(const std::vector<float>& w);  // xn[r] = norm(x[running token r]) * w

  Context& c_;
  const Model& m_;
  const Hparams& hp_;
  const int32_t* tokens_;
  const int32_t* pos_;
  int64_t n_;
  const std::atomic<bool>* cancel_;
  const DepthPolicy* depth_ = nullptr;
  const DepthPolicy* const* pols_ = nullptr;
  bool learned_ = false;
  bool sequential_ = false;
  Context* const* seqs_ = nullptr;
  std::vector<int32_t> act_;  // tokens running the current sublayer, in batch order
  std::vector<int32_t> kvt_;  // tokens writing K/V in the current block, in batch order
  std::vector<uint8_t> brun_, arun_, bso_;  // per token: runs the block / its attention; block gate's shared-only band
  std::vector<uint8_t> shared_only_;  // per running token: MoE block with the shared expert only (empty: none)
  bool all_ = true;           // act_ is every token
  std::vector<float> h_in_, h_mid_;  // residual stream entering the block / the FFN (taps only)
  struct ActSlot {
    const float* src = nullptr;
    GgmlType type = GgmlType::F32;
    int64_t n_rows = 0;
    ConvertedActs acts{};
  } slots_[2];
};

// One file per architecture, each composing the blocks above.
void forward_llama(Blocks& b, const Hparams& hp, bool all_logits, float* logits);
void forward_llama4(Blocks& b, const Hparams& hp, bool all_logits, float* logits);

}  // namespace llama4
