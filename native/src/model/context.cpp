#include "model/context.h"

#include <algorithm>
#include <chrono>

#include "model/blocks.h"
#include "runtime/error.h"

namespace llama4 {

namespace {
std::vector<uint32_t> kv_dims(const Hparams& hp, bool v) {
  std::vector<uint32_t> d(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; il++) d[il] = hp.n_head_kv[il] * (v ? hp.n_embd_head_v : hp.n_embd_head_k);
  return d;
}

uint32_t max_ff(const Hparams& hp) {
  uint32_t f = hp.n_ff_exp;
  for (uint32_t x : hp.n_ff) f = std::max(f, x);
  return f;
}
}  // namespace

// The cache types against the model's head sizes, before anything is sized or allocated.
static const Hparams& check_kv_types(const Hparams& hp, const ContextParams& p) {
  KvCache::check_type(p.type_k, hp.n_embd_head_k, "K");
  KvCache::check_type(p.type_v, hp.n_embd_head_v, "V");
  return hp;
}

uint64_t Context::memory_needed(const Model& m, const ContextParams& p) {
  const Hparams& hp = check_kv_types(m.hp, p);
  uint64_t kv = KvCache::bytes_needed(p.n_ctx, kv_dims(hp, false), kv_dims(hp, true), p.type_k, p.type_v);
  const uint64_t T = p.n_batch;
  const uint64_t qd = (uint64_t)hp.n_head[0] * std::max(hp.n_embd_head_k, hp.n_embd_head_v);
  const uint64_t floats = T * (6ull * hp.n_embd + 3 * qd + 3ull * max_ff(hp) + hp.n_expert) +
                          T * std::max<uint64_t>(hp.n_expert_used, 1) * hp.n_embd * 2 + T * hp.n_vocab +
                          (uint64_t)p.n_threads * (p.n_ctx + 256);
  return kv + floats * 4;
}

uint64_t Context::step_bytes(int64_t n) const {
  const uint64_t tokens = (uint64_t)std::max<int64_t>(n, 0);
  return weight_bytes_per_token_ * tokens + kv_bytes_per_pos_ * (n_past_ + tokens);
}

Context::Context(std::shared_ptr<const Model> model, const ContextParams& params)
    : model_(std::move(model)),
      params_(params),
      pool_ptr_(shared_thread_pool(params.n_threads)),
      pool_(*pool_ptr_),
      kv_(check_kv_types(model_->hp, params).n_layer, params.n_ctx, kv_dims(model_->hp, false), kv_dims(model_->hp, true), params.type_k,
          params.type_v) {
  const Hparams& hp = model_->hp;
  if (params_.n_ctx == 0) LLAMA4_THROW("context size must be > 0");
  if (params_.n_batch == 0) LLAMA4_THROW("batch size must be > 0");
  params_.n_batch = std::min(params_.n_batch, params_.n_ctx);
  weight_bytes_per_token_ = model_->bytes_per_token();
  for (uint32_t il = 0; il < hp.n_layer; il++) kv_bytes_per_pos_ += kv_.k_row_bytes(il) + kv_.v_row_bytes(il);
  const size_t T = params_.n_batch, E = hp.n_embd;
  size_t max_heads = 0, max_kv = 0;
  for (uint32_t il = 0; il < hp.n_layer; il++) {
    max_heads = std::max<size_t>(max_heads, hp.n_head[il]);
    max_kv = std::max<size_t>(max_kv, hp.n_head_kv[il]);
  }
  const size_t q_all = max_heads * std::max(hp.n_embd_head_k, hp.n_embd_head_v);
  const size_t F = max_ff(hp);
  const size_t K = std::max<uint32_t>(hp.n_expert_used, 1);
  s_.x.resize(T * E);
  s_.xn.resize(T * E);
  s_.xa.resize(T * E);
  s_.xk.resize(T * E);
  s_.q.resize(T * q_all);
  s_.k.resize(T * max_kv * hp.n_embd_head_k);
  s_.v.resize(T * max_kv * hp.n_embd_head_v);
  s_.attn.resize(T * q_all);
  s_.proj.resize(T * E);
  s_.gate.resize(T * K * F);
  s_.up.resize(T * K * F);
  s_.hidden.resize(T * K * F);
  s_.router.resize(T * std::max<uint32_t>(hp.n_expert, 1));
  s_.moe_in.resize(T * K * E);
  s_.moe_out.resize(T * K * E);
  s_.rope.resize(hp.n_rot + 2);
  logits_last_.resize(hp.n_vocab);
  reset_stats();
  s_.per_thread.assign((size_t)pool_.size(), std::vector<float>(hp.n_embd_head_k + 16));
}

void Context::truncate(uint32_t n) {
  if (n < n_past_) n_past_ = n;
  kv_.truncate(n_past_);
}

void Context::copy_from(const Context& src, uint32_t n) {
  if (src.model_ != model_) LLAMA4_THROW("copy: the contexts belong to different models");
  if (&src == this) return truncate(n);
  if (n > src.n_past_) LLAMA4_THROW("copy: %u positions asked, the source holds %u", n, src.n_past_);
  if (n > params_.n_ctx) LLAMA4_THROW("copy: %u positions do not fit a context of %u", n, params_.n_ctx);
  kv_.copy_prefix(src.kv_, n);
  n_past_ = n;
}

void Context::set_depth_policy(const DepthPolicy& p) {
  const uint32_t L = model_->hp.n_layer;
  for (const auto* d : {&p.drop, &p.drop_attn, &p.drop_ffn})
    if (!d->empty() && d->size() != L) LLAMA4_THROW("drop list has %zu entries, the model has %u blocks", d->size(), L);
  if (p.gates && (p.gates->layers.size() != L || p.gates->attn.size() != L || p.gates->ffn.size() != L))
    LLAMA4_THROW("depth gates are for %zu blocks, the model has %u", p.gates->layers.size(), L);
  if (p.threshold > 1.0f) LLAMA4_THROW("depth threshold %g is not a probability in [0, 1]", p.threshold);
  if (p.shared_threshold > 1.0f) LLAMA4_THROW("shared-expert threshold %g is not a probability in [0, 1]", p.shared_threshold);
  // statically dropped attention layers: no KV at all (the first and last blocks always run). Checked
  // before anything changes: a layer released earlier cannot come back while positions are cached.
  std::vector<uint8_t> release(L, 0);
  for (uint32_t il = 0; il < L; il++) {
    release[il] = p.free_dropped_kv && !depth_edge(il, L) && p.attn_dropped(il);
    if (!release[il] && kv_.released(il) && n_past_ > 0)
      LLAMA4_THROW("the attention of block %u was dropped and its KV released: clear the context (truncate to 0) before running it again", il);
  }
  const bool sparse = p.kv == KvSkipMode::Skip && p.active();
  if (sparse != kv_.sparse()) {
    if (n_past_ > 0) LLAMA4_THROW("the KV mode of depth gating (--depth-kv) can only change while the context is empty");
    kv_.set_sparse(sparse);
  }
  for (uint32_t il = 0; il < L; il++) kv_.set_released(il, release[il]);
  depth_ = p;
}

void Context::decode_taps(const int32_t* tokens, int64_t n, BlockTaps& taps, const std::atomic<bool>* cancel) {
  if (n > params_.n_batch) LLAMA4_THROW("decode_taps: %lld tokens exceed the batch size %u", (long long)n, params_.n_batch);
  const Hparams& hp = model_->hp;
  taps.feat.assign(taps.features ? (size_t)hp.n_layer * n * hp.n_embd : 0, 0.0f);
  taps.cos.assign((size_t)hp.n_layer * n, 0.0f);
  taps.rel.assign((size_t)hp.n_layer * n, 0.0f);
  taps.feat_ffn.assign(taps.ffn_features ? (size_t)hp.n_layer * n * hp.n_embd : 0, 0.0f);
  for (auto* v : {&taps.cos_attn, &taps.rel_attn, &taps.cos_ffn, &taps.rel_ffn}) v->assign((size_t)hp.n_layer * n, 0.0f);
  taps_ = &taps;
  struct Reset {
    BlockTaps*& t;
    ~Reset() { t = nullptr; }
  } reset{taps_};
  decode(tokens, n, false, cancel, /*gated=*/false);
}

void Context::reset_stats() {
  stats_ = DecodeStats{};
  for (auto* v : {&stats_.block_runs, &stats_.block_skips, &stats_.block_shared_only, &stats_.attn_runs, &stats_.attn_skips,
                  &stats_.ffn_runs, &stats_.ffn_skips})
    v->assign(model_->hp.n_layer, 0);
}

void Context::forward(const int32_t* tokens, const int32_t* pos, int64_t n, bool all_logits, float* logits_out,
                      const std::atomic<bool>* cancel, bool gated, bool sequential, Context* const* seqs) {
  // Every pass (decode, decode_taps, decode_step) starts here: a model file truncated or overwritten in
  // place since it was loaded would give output computed from other bytes (or SIGBUS), so it is an Error
  // before anything is read. One fstat per file part; a file replaced by rename is not a change.
  model_->file->check_unchanged();
  Blocks b(*this, tokens, pos, n, cancel);
  // learned gates route decode tokens (a decode step of several sequences is n decode tokens), prompt
  // batches only with prefill; static drops apply to every gated pass
  const bool learn = gated && (n == 1 || seqs != nullptr || depth_.prefill);
  std::vector<const DepthPolicy*> pols;
  bool any = false;
  if (seqs) {
    pols.resize((size_t)n);
    for (int64_t t = 0; t < n; t++) {
      Context& c = *seqs[t];
      const bool routed = gated && c.depth_.active();
      pols[(size_t)t] = routed ? &c.depth_ : nullptr;
      if (routed) c.stats_.routed_tokens++;
      any = any || routed;
    }
    b.set_seqs(seqs);
    if (any) b.set_depth(nullptr, pols.data(), learn);
  } else {
    const bool routed = gated && ((learn && depth_.gates) || depth_.has_drops());
    if (routed) {
      b.set_depth(&depth_, nullptr, learn);
      stats_.routed_tokens += (uint64_t)n;
      any = true;
    }
  }
  b.set_sequential(any || sequential);
  switch (model_->hp.arch) {
    case Arch::Llama: forward_llama(b, model_->hp, all_logits, logits_out); break;
    case Arch::Llama4: forward_llama4(b, model_->hp, all_logits, logits_out); break;
    default: LLAMA4_THROW("unsupported architecture");
  }
}

void Context::decode(const int32_t* tokens, int64_t n, bool all_logits, const std::atomic<bool>* cancel, bool gated,
                     bool sequential) {
  if (n <= 0) LLAMA4_THROW("decode: no tokens");
  if ((uint64_t)n_past_ + (uint64_t)n > params_.n_ctx)
    LLAMA4_THROW("context is full: %u tokens cached + %lld new > context size %u (raise -c)", n_past_, (long long)n,
                 params_.n_ctx);
  const uint32_t V = model_->hp.n_vocab;
  for (int64_t i = 0; i < n; i++)
    if (tokens[i] < 0 || (uint32_t)tokens[i] >= V) LLAMA4_THROW("token id %d at index %lld is out of range (vocabulary %u)", tokens[i], (long long)i, V);
  const auto t0 = std::chrono::steady_clock::now();
  if (all_logits) logits_all_.resize((size_t)n * V);
  std::vector<int32_t> pos;
  const uint32_t start = n_past_;
  for (int64_t off = 0; off < n; off += params_.n_batch) {
    const int64_t m = std::min<int64_t>(params_.n_batch, n - off);
    pos.resize((size_t)m);
    for (int64_t i = 0; i < m; i++) pos[(size_t)i] = (int32_t)(start + off + i);
    try {
      forward(tokens + off, pos.data(), m, all_logits, all_logits ? logits_all_.data() + (size_t)off * V : logits_last_.data(), cancel, gated, sequential);
    } catch (...) {
      kv_.truncate(start);  // a failed or cancelled pass leaves no cells behind (the sparse cache appends)
      throw;
    }
    stats_.forward_calls++;
  }
  if (all_logits) std::copy(logits_all_.end() - V, logits_all_.end(), logits_last_.begin());
  const int64_t rows = all_logits ? n : 1;
  n_past_ = start + (uint32_t)n;
  n_logit_rows_ = rows;
  stats_.tokens += (uint64_t)n;
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Context::decode_step(const std::vector<Context*>& cs, const int32_t* tokens, bool gated) {
  if (cs.empty()) LLAMA4_THROW("decode step: no sequences");
  Context& lead = *cs[0];
  const int64_t n = (int64_t)cs.size();
  if (n > (int64_t)lead.params_.n_batch)
    LLAMA4_THROW("decode step: %lld sequences exceed the batch size %u", (long long)n, lead.params_.n_batch);
  const uint32_t V = lead.model_->hp.n_vocab;
  std::vector<int32_t> pos((size_t)n);

  for (int64_t i = 0; i < n; i++) {
    Context& c = *cs[(size_t)i];
    if (c.model_ != lead.model_) LLAMA4_THROW("decode step: sequence %lld belongs to another model", (long long)i);
    for (int64_t j = 0; j < i; j++)
      if (cs[(size_t)j] == &c) LLAMA4_THROW("decode step: sequence %lld appears twice", (long long)i);
    if (c.n_past_ + 1 > c.params_.n_ctx)
      LLAMA4_THROW("context is full: sequence %lld holds %u tokens of %u (raise -c)", (long long)i, c.n_past_, c.params_.n_ctx);
    if (tokens[i] < 0 || (uint32_t)tokens[i] >= V) LLAMA4_THROW("token id %d of sequence %lld is out of range (vocabulary %u)", tokens[i], (long long)i, V);
    pos[(size_t)i] = (int32_t)c.n_past_;
  }
  const auto t0 = std::chrono::steady_clock::now();
  lead.logits_all_.resize((size_t)n * V);
  try {
    lead.forward(tokens, pos.data(), n, /*all_logits=*/true, lead.logits_all_.data(), nullptr, gated, /*sequential=*/true, cs.data());
  } catch (...) {
    for (Context* c : cs) c->kv_.truncate(c->n_past_);
    throw;
  }
  for (int64_t i = 0; i < n; i++) {
    Context& c = *cs[(size_t)i];
    std::copy(lead.logits_all_.begin() + (size_t)i * V, lead.logits_all_.begin() + (size_t)(i + 1) * V, c.logits_last_.begin());
    c.n_past_++;
    c.n_logit_rows_ = 1;
  }
  lead.n_logit_rows_ = 1;  // its all_logits buffer now holds the step's rows, not a decode(all_logits) result
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Context* c : cs) {  // each sequence's own counts; the shared pass's time and calls to each too
    c->stats_.forward_calls++;
    c->stats_.tokens++;
    c->stats_.seconds += sec;
  }
}

}  // namespace llama4
