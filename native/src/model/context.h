// An inference context: one persistent thread pool, the KV cache and the scratch buffers for evaluating
// batches of tokens on a Model. Holds one sequence whose positions are 0..n_past-1; a chat keeps it and
// evaluates only new tokens; truncate() rewinds it.
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "model/depth_gates.h"
#include "model/model.h"
#include "ops/matmul.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"

namespace llama4 {

// Per-block observations of one evaluated batch, for fitting depth gates (calibration): the gate's
// features (the block's normed input) and how much the block changed each token's residual stream.
// Per sublayer the same: attention (h_in -> h_mid = h_in + attn) and FFN (h_mid -> h_out), with the FFN
// gate's features (the FFN norm's output).
struct BlockTaps {
  bool features = true;         // keep the [n_layer][n][n_embd] gate features (large)
  bool ffn_features = false;    // also the FFN gates' features
  std::vector<float> feat;      // [n_layer][n][n_embd] the attention norm's output
  std::vector<float> feat_ffn;  // [n_layer][n][n_embd] the FFN norm's output
  std::vector<float> cos;       // [n_layer][n] cosine(h_in, h_out)
  std::vector<float> rel;       // [n_layer][n] |h_out - h_in| / |h_in|
  std::vector<float> cos_attn, rel_attn, cos_ffn, rel_ffn;  // [n_layer][n] per sublayer
};

struct ContextParams {
  uint32_t n_ctx = 4096;
  uint32_t n_batch = 512;  // tokens per forward pass during prompt processing
  int n_threads = 1;
  GgmlType type_k = GgmlType::F16;
  GgmlType type_v = GgmlType::F16;
  // Decodes that read at most this many bytes (step_bytes) run on the calling JS thread instead of a
  // worker: a thread hop and back costs 40-70 us on a VM, more than a tiny model's whole token
  // (stories260K: ~80 us). 4 MiB is ~150 us of streaming; 0 = always a worker.
  uint64_t inline_bytes = 4ull << 20;
  // Keep llama.cpp's exact summation order everywhere (bit-identical output): no fast decode attention
  // at long contexts (Blocks::attend).
  bool exact_numerics = false;
};

struct DecodeStats {
  uint64_t tokens = 0;
  uint64_t forward_calls = 0;
  double seconds = 0;
  // depth sparsity: per block, how many token-block evaluations ran / were skipped, and how many tokens
  // went through a depth decision at all (decode tokens, or prompt tokens with --depth-prefill)
  std::vector<uint64_t> block_runs, block_skips;
  std::vector<uint64_t> block_shared_only;  // MoE blocks: runs that skipped the routed experts
  // per sublayer: token evaluations that ran / skipped the block's attention and its FFN (a skipped
  // block counts as a skip of both)
  std::vector<uint64_t> attn_runs, attn_skips, ffn_runs, ffn_skips;
  uint64_t routed_tokens = 0;
  uint64_t expert_evals = 0;  // routed (token, expert) FFN evaluations
  // Weight bytes handed to the matmul kernels (each matrix once per call, packed or plain as read):
  // what decoding streams from memory, to check against Model::bytes_per_token (routed experts only).
  uint64_t weight_bytes = 0;
};

class Context {
 public:
  Context(std::shared_ptr<const Model> model, const ContextParams& params);

  // Evaluate n tokens at positions n_past .. n_past+n-1 (batched by n_batch). Logits are kept for the last
  // token, or for every token when all_logits. `cancel` is polled between layers; a cancelled decode
  // leaves n_past unchanged and throws Error("cancelled").
  // `gated`: apply the depth policy (decode tokens; prompt batches only with policy.prefill).
  // `sequential`: batch numerics equal to evaluating the tokens one by one (speculative verification).
  void decode(const int32_t* tokens, int64_t n, bool all_logits, const std::atomic<bool>* cancel = nullptr,
              bool gated = true, bool sequential = false);
  // One decode step of several sequences, each in its own context: token i is the next token of cs[i]
  // (at its n_past). One forward pass over the weights for all, attention per context over its own KV
  // cache; cs[0] lends its scratch and thread pool. Each token is routed by its own context's depth policy
  // and counted in its statistics (the pass's weight bytes go to cs[0]). Results equal each context
  // decoding its token alone (sequential numerics). Afterwards each context's logits() holds its row and
  // its n_past has advanced by one. The contexts must share the model and be distinct.
  static void decode_step(const std::vector<Context*>& cs, const int32_t* tokens, bool gated = true);
  // Bytes a decode of n more tokens streams: the weights once per token (routed experts only) and the
  // KV cache up to the last new position. Decides where the addon runs the decode (inline_bytes).
  uint64_t step_bytes(int64_t n) const;
  // Forget positions >= n (chat: reuse a common prefix).
  void truncate(uint32_t n);
  // This context's cache becomes positions [0, n) of src's (same model and cache types): a sequence
  // forked from another's prefix without evaluating it again.
  void copy_from(const Context& src, uint32_t n);

  // Depth routing for later decodes (see depth_gates.h). `gated` in decode() turns it on per call, so
  // a speculative verifier can run full depth on the same context.
  void set_depth_policy(const DepthPolicy& p);
  // Evaluates tokens (at most n_batch, one forward pass, full depth) and records per-block taps.
  void decode_taps(const int32_t* tokens, int64_t n, BlockTaps& taps, const std::atomic<bool>* cancel = nullptr);
  const DepthPolicy& depth_policy() const { return depth_; }
  void reset_stats();

  // Logits of the last evaluated token: a fixed buffer of n_vocab floats for the context's lifetime.
  const float* logits() const { return logits_last_.data(); }
  // With all_logits: every evaluated token's logits, [n_logit_rows][n_vocab].
  const float* all_logits() const { return logits_all_.data(); }
  int64_t n_logit_rows() const { return n_logit_rows_; }
  uint32_t n_past() const { return n_past_; }
  uint32_t n_vocab() const { return model_->hp.n_vocab; }
  const Model& model() const { return *model_; }
  const ContextParams& params() const { return params_; }
  const KvCache& kv() const { return kv_; }
  ThreadPool& pool() { return pool_; }  // shared with the other contexts of the same thread count
  const DecodeStats& stats() const { return stats_; }

  // Memory this context allocates beyond the mapped weights (KV cache + scratch), for the pre-check.
  static uint64_t memory_needed(const Model& m, const ContextParams& p);

 private:
  friend class Blocks;
  // seqs: per token, the context (cache, depth policy, statistics) it belongs to (decode_step);
  // null = this context for every token
  void forward(const int32_t* tokens, const int32_t* pos, int64_t n, bool all_logits, float* logits_out,
               const std::atomic<bool>* cancel, bool gated, bool sequential, Context* const* seqs = nullptr);

  std::shared_ptr<const Model> model_;
  ContextParams params_;
  std::shared_ptr<ThreadPool> pool_ptr_;
  ThreadPool& pool_;
  KvCache kv_;
  uint32_t n_past_ = 0;
  uint64_t weight_bytes_per_token_ = 0;  // step_bytes' constants: Model::bytes_per_token,
  uint64_t kv_bytes_per_pos_ = 0;        // and one position's K and V rows over all layers
  std::vector<float> logits_last_;
  std::vector<float> logits_all_;
  int64_t n_logit_rows_ = 0;
  DecodeStats stats_;
  DepthPolicy depth_;
  BlockTaps* taps_ = nullptr;

  // Scratch, sized for n_batch tokens.
  struct Scratch {
    std::vector<float> x, xn, xa, xk, q, k, v, attn, proj, gate, up, hidden, router, moe_in, moe_out, rope;
    std::vector<std::vector<float>> per_thread;  // the query in the KV cache's precision, per thread
    // Blocks::attend's fast path: the tasks kept in llama.cpp's order, the chunks, their softmax states
    std::vector<int64_t> attn_exact_tasks, attn_chunks;
    std::vector<float> attn_part;
    std::vector<uint8_t> act_a, act_b;           // converted activations
    MatmulScratch mm;
  } s_;
};

}  // namespace llama4
