#include "model/blocks.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "ops/cpu/kernels.h"
#include "ops/cpu/ops.h"
#include "runtime/error.h"

namespace llama4 {

Blocks::Blocks(Context& ctx, const int32_t* tokens, const int32_t* pos, int64_t n, const std::atomic<bool>* cancel)
    : c_(ctx), m_(ctx.model()), hp_(ctx.model().hp), tokens_(tokens), pos_(pos), n_(n), cancel_(cancel) {}

void Blocks::check_cancel() const {
  if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Error("cancelled");
}

const ConvertedActs& Blocks::acts(GgmlType wt, const float* src, int64_t stride, int64_t n_in, int64_t n_rows, int slot) {
  const GgmlType at = type_traits(wt).vec_dot_type;
  ActSlot& s = slots_[slot];
  if (s.src == src && s.type == at && s.n_rows == n_rows && s.acts.n_in == n_in) return s.acts;
  std::vector<uint8_t>& buf = slot == 0 ? c_.s_.act_a : c_.s_.act_b;
  s.acts = convert_activations(wt, src, stride, n_in, n_rows, c_.pool_, buf);
  s.src = src;
  s.type = at;
  s.n_rows = n_rows;
  return s.acts;
}

void Blocks::mm(const WeightView& w, const ConvertedActs& a, float* y, int64_t y_stride, bool experts) {
  c_.stats_.weight_bytes += weight_read_bytes(w);
  matmul_converted(w, a, y, y_stride, c_.pool_, batch_order(experts));
}

void Blocks::mm_jobs(std::initializer_list<MatmulJob> jobs, bool experts) {
  MatmulJob js[8];
  int n = 0;
  for (const MatmulJob& j : jobs) {
    if (n == 8) LLAMA4_THROW("mm_jobs: more than 8 matrices in one pass");
    c_.stats_.weight_bytes += weight_read_bytes(j.w);
    js[n] = j;
    js[n++].order = batch_order(experts);
  }
  matmul_jobs(js, n, c_.pool_);
}

void Blocks::embed() {
  const int64_t E = hp_.n_embd;
  const Weight& w = m_.tok_embd;
  const ToFloatFn to_float = type_traits(w.type).to_float;
  for (int64_t t = 0; t < n_; t++) {
    const int32_t id = tokens_[t];
    if (id < 0 || (uint32_t)id >= hp_.n_vocab) LLAMA4_THROW("token id %d is out of range (vocabulary %u)", id, hp_.n_vocab);
    to_float(w.data + (size_t)id * w.row_bytes, c_.s_.x.data() + t * E, E);
  }
}

const DepthGateLayer* Blocks::gate_at(const DepthPolicy* p, Sublayer k, uint32_t il, float* tau) const {
  if (!p || !learned_ || !p->gates) return nullptr;
  const DepthGates& G = *p->gates;
  const DepthGateLayer& g = (k == Sublayer::Block ? G.layers : k == Sublayer::Attn ? G.attn : G.ffn)[il];
  if (!g.present) return nullptr;
  *tau = p->threshold >= 0 ? p->threshold : g.threshold >= 0 ? g.threshold : G.threshold;
  return &g;
}

void Blocks::route(uint32_t il) {
  const int64_t E = hp_.n_embd;
  auto& s = c_.s_;
  const LayerWeights& L = m_.layers[il];
  // the block's own input norm: the gates' features, and the attention input
  for (int64_t t = 0; t < n_; t++) rms_norm(&s.x[t * E], &s.xn[t * E], E, hp_.rms_eps, L.attn_norm.data());
  act_.clear();
  kvt_.clear();
  brun_.assign((size_t)n_, 1);
  arun_.assign((size_t)n_, 1);
  bso_.assign((size_t)n_, 0);
  const bool edge = depth_edge(il, hp_.n_layer);
  // three-way decisions on MoE blocks with a shared expert: full / shared expert only / skip
  const bool moe_shared = hp_.arch == Arch::Llama4 && hp_.layer_is_moe(il);
  for (int64_t t = 0; t < n_; t++) {
    const DepthPolicy* p = edge ? nullptr : pol(t);
    bool run = true, attn = true, kv = true;
    if (p) {
      float tau = 0.5f;
      if (p->drop.size() && p->drop[il]) run = false;
      else if (const DepthGateLayer* g = gate_at(p, Sublayer::Block, il, &tau)) {
        const GateVerdict v = gate_verdict(depth_gate_prob(*g, &s.xn[t * E], E), tau, *p, moe_shared);
        run = v != GateVerdict::Skip;
        bso_[(size_t)t] = v == GateVerdict::SharedOnly;
      }
      attn = run;
      if (attn && p->drop_attn.size() && p->drop_attn[il]) attn = false;
      else if (const DepthGateLayer* g = attn ? gate_at(p, Sublayer::Attn, il, &tau) : nullptr)
        attn = depth_gate_prob(*g, &s.xn[t * E], E) >= tau;
      // K/V of a token that skips the attention: written from the un-updated stream with KV-fill, unless
      // the layer's attention is statically gone (nothing reads it); not written with KV-skip
      kv = attn || (p->kv == KvSkipMode::Fill && !p->attn_dropped(il));
      DecodeStats& st = stats_at(t);
      st.attn_runs[il] += attn;
      st.attn_skips[il] += !attn;
    } else if (routed() && pol(t)) {
      stats_at(t).attn_runs[il]++;  // an edge block of a routed token
    }
    brun_[(size_t)t] = run;
    arun_[(size_t)t] = attn;
    if (attn) act_.push_back((int32_t)t);
    if (kv) kvt_.push_back((int32_t)t);
  }
  shared_only_.clear();
  all_ = (int64_t)act_.size() == n_;
  if (BlockTaps* tp = c_.taps_) {
    h_in_.assign(s.x.begin(), s.x.begin() + n_ * E);
    if (tp->features) std::memcpy(&tp->feat[(size_t)il * n_ * E], s.xn.data(), sizeof(float) * n_ * E);
  }
}

void Blocks::sublayer_taps(const float* a0, const float* b0, std::vector<float>& cos, std::vector<float>& rel, uint32_t il) {
  const int64_t E = hp_.n_embd;
  for (int64_t t = 0; t < n_; t++) {
    const float* a = a0 + t * E;
    const float* b = b0 + t * E;
    double ab = 0, aa = 0, bb = 0, dd = 0;
    for (int64_t i = 0; i < E; i++) {
      ab += (double)a[i] * b[i];
      aa += (double)a[i] * a[i];
      bb += (double)b[i] * b[i];
      dd += ((double)b[i] - a[i]) * ((double)b[i] - a[i]);
    }
    cos[(size_t)il * n_ + t] = (float)(ab / std::sqrt(std::max(aa * bb, 1e-300)));
    rel[(size_t)il * n_ + t] = (float)std::sqrt(dd / std::max(aa, 1e-300));
  }
}

bool Blocks::route_ffn(uint32_t il) {
  const int64_t E = hp_.n_embd;
  auto& s = c_.s_;
  const LayerWeights& L = m_.layers[il];
  BlockTaps* tp = c_.taps_;
  if (tp) {
    sublayer_taps(h_in_.data(), s.x.data(), tp->cos_attn, tp->rel_attn, il);
    h_mid_.assign(s.x.begin(), s.x.begin() + n_ * E);
    if (tp->ffn_features)
      for (int64_t t = 0; t < n_; t++)
        rms_norm(&s.x[t * E], &tp->feat_ffn[((size_t)il * n_ + t) * E], E, hp_.rms_eps, L.ffn_norm.data());
  }
  const bool edge = depth_edge(il, hp_.n_layer);
  if (!routed() || edge) {
    // every token runs it (the last block: the rows keep_output_rows left); routed tokens count runs
    if (routed())
      for (int64_t t = 0; t < n_; t++)
        if (pol(t)) {
          DecodeStats& st = stats_at(t);
          st.ffn_runs[il]++;
          st.block_runs[il]++;
        }
    shared_only_.clear();
    return !act_.empty();
  }
  act_.clear();
  shared_only_.clear();
  const bool moe_shared = hp_.arch == Arch::Llama4 && hp_.layer_is_moe(il);
  std::vector<uint8_t> so;
  bool any_so = false;
  float* fx = s.xa.data();  // the FFN norm's output of a token with an FFN gate (the attention is done)
  for (int64_t t = 0; t < n_; t++) {
    const DepthPolicy* p = pol(t);
    bool run = brun_[(size_t)t] != 0, shared = bso_[(size_t)t] != 0;
    if (p && run) {
      float tau = 0.5f;
      if (p->drop_ffn.size() && p->drop_ffn[il]) run = false;
      else if (const DepthGateLayer* g = gate_at(p, Sublayer::Ffn, il, &tau)) {
        rms_norm(&s.x[t * E], fx, E, hp_.rms_eps, L.ffn_norm.data());
        const GateVerdict v = gate_verdict(depth_gate_prob(*g, fx, E), tau, *p, moe_shared);
        run = v != GateVerdict::Skip;
        shared = shared || v == GateVerdict::SharedOnly;
      }
    }
    if (p) {
      DecodeStats& st = stats_at(t);
      st.ffn_runs[il] += run;
      st.ffn_skips[il] += !run;
      const bool any = run || arun_[(size_t)t];
      st.block_runs[il] += any;
      st.block_skips[il] += !any;
      st.block_shared_only[il] += run && shared;
    }
    if (!run) continue;
    act_.push_back((int32_t)t);
    so.push_back(shared);
    any_so = any_so || shared;
  }
  if (any_so) shared_only_ = std::move(so);
  all_ = (int64_t)act_.size() == n_;
  return !act_.empty();
}

void Blocks::end_block(uint32_t il) {
  BlockTaps* tp = c_.taps_;
  if (!tp) return;
  sublayer_taps(h_mid_.data(), c_.s_.x.data(), tp->cos_ffn, tp->rel_ffn, il);
  sublayer_taps(h_in_.data(), c_.s_.x.data(), tp->cos, tp->rel, il);
}

void Blocks::keep_output_rows(bool all_logits) {
  if (all_logits || c_.taps_ || n_ < 2 || act_.empty() || act_.back() != n_ - 1) return;
  act_.assign(1, (int32_t)(n_ - 1));
  all_ = false;
  if (!shared_only_.empty()) shared_only_.assign(1, shared_only_.back());
}

// llama.cpp's rotation of a quantized cache (llama-kv-cache.cpp attn_rot_k / attn_rot_v): K (and Q) in
// Walsh-Hadamard groups of the largest power of two >= 64 dividing the head size, V (and the attention output)
// in groups of 64; only for quantized cache types and head sizes that are multiples of 64. 0 = no rotation.
// LLAMA4_ATTN_ROT_DISABLE=1 turns it off, as LLAMA_ATTN_ROT_DISABLE does llama.cpp's.
int64_t kv_rotation(GgmlType t, int64_t head_dim, bool v) {
  static const bool disabled = [] {
    const char* e = std::getenv("LLAMA4_ATTN_ROT_DISABLE");
    return e && std::atoi(e) != 0;
  }();
  if (disabled || !type_traits(t).is_quantized || head_dim % 64) return 0;
  if (v) return 64;
  int64_t n = 64;
  while (head_dim % (n * 2) == 0) n *= 2;
  return n;
}

void Blocks::attention(uint32_t il, const AttnOpts& o) {
  const LayerWeights& L = m_.layers[il];
  const int64_t E = hp_.n_embd, hd = hp_.n_embd_head_k, hdv = hp_.n_embd_head_v;
  const int64_t nh = hp_.n_head[il], nkv = hp_.n_head_kv[il];
  auto& s = c_.s_;
  const int64_t na = (int64_t)act_.size();
  // KV rows (route): the running tokens, and with KV-fill the skipping ones too (from the un-updated
  // stream), except where the layer's attention is statically dropped; the running tokens are a subset.
  const float* xa = s.xn.data();  // normed input of the running tokens, compacted when some skip
  if (!all_) {
    for (int64_t r = 0; r < na; r++) std::memcpy(&s.xa[r * E], &s.xn[act_[r] * E], sizeof(float) * E);
    xa = s.xa.data();
  }
  const int64_t nkvr = (int64_t)kvt_.size();
  const bool kv_all = nkvr == n_;
  const float* xkv = kv_all ? s.xn.data() : nkvr == na ? xa : s.xk.data();
  if (!kv_all && nkvr != na)
    for (int64_t r = 0; r < nkvr; r++) std::memcpy(&s.xk[r * E], &s.xn[kvt_[r] * E], sizeof(float) * E);
  if (nkvr == 0) return;  // KV-skip and no token runs this block: nothing to write or compute
  slots_[0].src = slots_[1].src = nullptr;
  if (na > 0 && xa == xkv) {
    // every token runs the block: Q, K and V read the same input, in one pass of the pool
    const int sv = L.wv.type == L.wq.type ? 0 : 1;
    const int sk = L.wk.type == L.wq.type ? 0 : L.wk.type == L.wv.type ? sv : -1;
    const ConvertedActs& aq = acts(L.wq.type, xa, E, E, na, 0);
    const ConvertedActs& av = acts(L.wv.type, xkv, E, E, nkvr, sv);
    if (sk >= 0) {
      const ConvertedActs& ak = acts(L.wk.type, xkv, E, E, nkvr, sk);  // already converted in slot sk
      mm_jobs({{L.wq.view(), &aq, s.q.data(), nh * hd}, {L.wk.view(), &ak, s.k.data(), nkv * hd},
               {L.wv.view(), &av, s.v.data(), nkv * hdv}});
    } else {  // three weight types: convert for K after Q/V are done
      mm_jobs({{L.wq.view(), &aq, s.q.data(), nh * hd}, {L.wv.view(), &av, s.v.data(), nkv * hdv}});
      mm(L.wk.view(), acts(L.wk.type, xkv, E, E, nkvr, 0), s.k.data(), nkv * hd);
    }
  } else {
    if (na > 0) mm(L.wq.view(), acts(L.wq.type, xa, E, E, na, 0), s.q.data(), nh * hd);
    slots_[0].src = slots_[1].src = nullptr;
    mm(L.wk.view(), acts(L.wk.type, xkv, E, E, nkvr, 0), s.k.data(), nkv * hd);
    mm(L.wv.view(), acts(L.wv.type, xkv, E, E, nkvr, L.wv.type == L.wk.type ? 0 : 1), s.v.data(), nkv * hdv);
  }

  const float* ff = m_.rope_freqs.empty() ? nullptr : m_.rope_freqs.data();
  // K (and V) rows r belong to token kv_all ? r : act_[r]; Q rows r to token act_[r]
  int64_t qr = 0;
  for (int64_t r = 0; r < nkvr; r++) {
    const int64_t t = kvt_[r];
    const bool has_q = qr < na && act_[qr] == t;
    float* q = has_q ? &s.q[qr * nh * hd] : nullptr;
    float* k = &s.k[r * nkv * hd];
    if (o.rope) {
      rope_cache((float)pos_[t], hp_.n_rot, hp_.rope_freq_base, hp_.rope_freq_scale, ff, s.rope.data());
      if (q) rope_apply(q, nh, hd, hp_.n_rot, s.rope.data());
      rope_apply(k, nkv, hd, hp_.n_rot, s.rope.data());
    } else if (o.temperature && q) {
      // llm_graph_input_attn_temp: computed in double, stored as f32
      const double scale =
          std::log(std::floor(((double)pos_[t] + 1.0) / (double)hp_.attn_temp_floor_scale) + 1.0) * hp_.attn_temp_scale +
          hp_.attn_temp_offset;
      vec_scale(q, (float)scale, nh * hd);
    }
    if (o.qk_norm) {
      if (q)
        for (int64_t h = 0; h < nh; h++) rms_norm(q + h * hd, q + h * hd, hd, hp_.rms_eps, nullptr);
      for (int64_t h = 0; h < nkv; h++) rms_norm(k + h * hd, k + h * hd, hd, hp_.rms_eps, nullptr);
    }
    // a quantized cache holds K and V rotated by a Walsh-Hadamard transform (llama.cpp's attn_rot_k/_v):
    // the rotation spreads outliers over the block, and Q·K is unchanged when Q is rotated alike
    KvCache& cache = kv_at(t);
    if (const int64_t nr = kv_rotation(cache.type_k(), hd, false)) {
      if (q) fwht_rows(q, nh * hd, nr);
      fwht_rows(k, nkv * hd, nr);
    }
    if (const int64_t nr = kv_rotation(cache.type_v(), hdv, true)) fwht_rows(&s.v[r * nkv * hdv], nkv * hdv, nr);
    cache.store(il, (uint32_t)pos_[t], k, &s.v[r * nkv * hdv]);
    if (has_q) qr++;
  }
  if (na == 0) return;
  attend(il, o);
  // V was rotated into the cache: rotate the attention output back (the transform is its own inverse)
  if (const int64_t nr = kv_rotation(kv_at(act_[0]).type_v(), hdv, true)) fwht_rows(s.attn.data(), na * nh * hdv, nr);
  const ConvertedActs& a = acts(L.wo.type, s.attn.data(), nh * hdv, nh * hdv, na, 0);
  mm(L.wo.view(), a, s.proj.data(), E);
  add_rows(s.proj.data());
}

void Blocks::add_rows(const float* rows) {
  const int64_t E = hp_.n_embd;
  if (all_) {
    vec_add(c_.s_.x.data(), rows, n_ * E);
    return;
  }
  for (size_t r = 0; r < act_.size(); r++) vec_add(&c_.s_.x[act_[r] * E], rows + r * E, E);
}

void Blocks::ffn_norm_rows(const std::vector<float>& w) {
  const int64_t E = hp_.n_embd;
  auto& s = c_.s_;
  for (size_t r = 0; r < act_.size(); r++) rms_norm(&s.x[act_[r] * E], &s.xn[r * E], E, hp_.rms_eps, w.data());
}

// Scaled dot-product attention over the cache, as llama.cpp computes it without flash attention (K and V
// in the cache type, Q and p rounded to it), operation for operation so that results are bit-identical:
//   kq = K·Q with ggml_vec_dot_f32 / _f16 (dot_f32 / dot_f16; an f16 cache with >= 2 tokens: tinyBLAS);
//   softmax(kq * 1/sqrt(hd) + mask) with ggml_vec_soft_max_f32 over the cache row (soft_max_exp): its 8-wide
//     groups start at cell 0 and masked cells give exact zeros, so the row is padded to whole groups with -inf;
//   out = V·p in the kqv matmul's order (weighted_rows), which depends on whether the batch has one token.
void Blocks::attend(uint32_t il, const AttnOpts& o) {
  const int64_t hd = hp_.n_embd_head_k, hdv = hp_.n_embd_head_v;
  const int64_t nh = hp_.n_head[il], nkv = hp_.n_head_kv[il], gqa = nh / nkv;
  const float kq_scale = 1.0f / sqrtf((float)hd);
  const int64_t na = (int64_t)act_.size();
  // llama.cpp sums a batch's attention in another order than a single token's; gated passes (and
  // callers that ask for it) use the single-token order so a batch equals its tokens run one by one
  const bool batched = n_ > 1 && !sequential_;
  auto& s = c_.s_;
  auto body = [&](int64_t task, int thread) {
    const int64_t r = task / nh, h = task % nh, kvh = h / gqa;
    const int64_t p = pos_[act_[r]];
    // the query's own sequence's cache (one cache unless several sequences share the pass)
    const KvCache& kv = kv_at(act_[r]);
    const bool k16 = kv.type_k() == GgmlType::F16, v16 = kv.type_v() == GgmlType::F16;
    const size_t v_stride = kv.v_row_bytes(il);
    const size_t k_stride = kv.k_row_bytes(il);
    // visible cells [lo, hi): positions in the query's chunk up to itself (dense layout: cell = position)
    uint32_t c_lo, c_hi;
    kv.cell_range(il, o.chunk ? (p / o.chunk) * o.chunk : 0, p, &c_lo, &c_hi);
    const int64_t lo = c_lo, hi = c_hi;
    const int64_t n_keys = hi - lo;
    // scores for cells [g0, g1): whole groups of 8 around the visible cells
    const int64_t g0 = lo & ~(int64_t)7, g1 = (hi + 7) & ~(int64_t)7;
    thread_local std::vector<float> row, acc;
    if ((int64_t)row.size() < g1 - g0) row.resize((size_t)(g1 - g0));
    if ((int64_t)acc.size() < 32 * hdv) acc.resize((size_t)(32 * hdv));
    float* scores = row.data();
    std::vector<float>& buf = s.per_thread[thread];
    float* qv = buf.data();  // [hd] query in the cache's precision
    const float* q = &s.q[(r * nh + h) * hd];
    if (k16)
      round_to_f16(q, 1.0f, qv, hd);
    else
      std::memcpy(qv, q, sizeof(float) * hd);
    float mx = -INFINITY;
    for (int64_t c = g0; c < lo; c++) scores[c - g0] = -INFINITY;
    for (int64_t c = hi; c < g1; c++) scores[c - g0] = -INFINITY;
    // kq for the visible cells (dot_f32 / dot_f16 per cell; consecutive cells are k_stride bytes apart)
    dot_rows(kv.k_row(il, (uint32_t)lo) + (size_t)kvh * hd * (k16 ? 2 : 4), k_stride, k16, n_keys, qv, hd, batched,
             scores + (lo - g0));
    for (int64_t c = lo; c < hi; c++) {
      const float sc = scores[c - g0] * kq_scale;
      scores[c - g0] = sc;
      mx = std::max(mx, sc);
    }
    const double sum = soft_max_exp(scores, scores, g1 - g0, mx);
    const float inv = (float)(1.0 / sum);
    float* pv = scores + (lo - g0);  // p for the visible cells
    if (v16)
      round_to_f16(pv, inv, pv, n_keys);
    else
      vec_scale(pv, inv, n_keys);
    float* out = &s.attn[(r * nh + h) * hdv];
    const uint8_t* v0 = kv.v_row(il, (uint32_t)lo) + (size_t)kvh * hdv * (v16 ? 2 : 4);
    weighted_rows(pv, v0, v_stride, v16, lo, n_keys, hdv, !batched, acc.data(), out);
  };
  // The fast path (flash-decoding) for tokens in the single-token order that see at least kFastMinKeys
  // cells, unless the context keeps llama.cpp's numerics (ContextParams::exact_numerics): per (token, KV
  // head, chunk of kFastChunk cells) one task computes the chunk's softmax state for the GQA group's query
  // heads (each K and V row read and converted once for the group; attn_partial), and the chunks merge
  // below. The chunks are fixed cell ranges, so a token's result does not depend on the thread count or on
  // the other tokens of the pass (a sequential batch still equals its tokens run one by one). Shorter
  // contexts and batched prompts keep llama.cpp's order bit for bit (the goldens).
  // A quantized cache (q8_0, q4_0, ...: llama.cpp allows those with flash attention only) always takes
  // this chunked path, prompts and short contexts included (attn_partial_q: the type's own dot kernels).
  constexpr int64_t kFastChunk = 256;
  const KvCache& kv0 = kv_at(act_[0]);
  const bool quant = type_traits(kv0.type_k()).is_quantized || type_traits(kv0.type_v()).is_quantized;
  const int64_t kFastMinKeys = quant ? 1 : 256;
  const bool fast_ok = quant || (!batched && !c_.params_.exact_numerics && hd <= 256 && hdv <= 256);
  std::vector<int64_t>& exact_tasks = s.attn_exact_tasks;  // r * nh + h
  std::vector<int64_t>& chunks = s.attn_chunks;            // per chunk: token r, first cell, end cell
  exact_tasks.clear();
  chunks.clear();
  for (int64_t r = 0; r < na; r++) {
    const int64_t p = pos_[act_[r]];
    uint32_t c_lo = 0, c_hi = 0;
    if (fast_ok) kv_at(act_[r]).cell_range(il, o.chunk ? (p / o.chunk) * o.chunk : 0, p, &c_lo, &c_hi);
    if (fast_ok && (int64_t)(c_hi - c_lo) >= kFastMinKeys) {
      for (int64_t c0 = c_lo; c0 < (int64_t)c_hi;) {
        const int64_t c1 = std::min<int64_t>(c_hi, (c0 / kFastChunk + 1) * kFastChunk);
        chunks.insert(chunks.end(), {r, c0, c1});
        c0 = c1;
      }
    } else {
      for (int64_t h = 0; h < nh; h++) exact_tasks.push_back(r * nh + h);
    }
  }
  const int64_t n_exact = (int64_t)exact_tasks.size(), n_chunks = (int64_t)chunks.size() / 3;
  const int64_t part = gqa * (2 + hdv);  // per (chunk, KV head): m[gqa], l[gqa], acc[gqa][hdv]
  if ((int64_t)s.attn_part.size() < n_chunks * nkv * part) s.attn_part.resize((size_t)(n_chunks * nkv * part));
  auto fast = [&](int64_t task) {
    const int64_t ci = task / nkv, kvh = task % nkv;
    const int64_t r = chunks[3 * ci], c0 = chunks[3 * ci + 1], c1 = chunks[3 * ci + 2];
    const KvCache& kv = kv_at(act_[r]);
    float* st = &s.attn_part[(size_t)((ci * nkv + kvh) * part)];
    if (quant) {
      const GgmlType kt = kv.type_k(), vt = kv.type_v();
      attn_partial_q(cpu_kernels(), &s.q[(r * nh + kvh * gqa) * hd], gqa, hd,
                     kv.k_row(il, (uint32_t)c0) + (size_t)kvh * row_size(kt, hd), kv.k_row_bytes(il), kt,
                     kv.v_row(il, (uint32_t)c0) + (size_t)kvh * row_size(vt, hdv), kv.v_row_bytes(il), vt, hdv, c1 - c0,
                     kq_scale, st, st + gqa, st + 2 * gqa);
      return;
    }
    const bool k16 = kv.type_k() == GgmlType::F16, v16 = kv.type_v() == GgmlType::F16;
    thread_local std::vector<float> qv, scratch;
    if ((int64_t)qv.size() < gqa * hd) qv.resize((size_t)(gqa * hd));
    if ((int64_t)scratch.size() < gqa * kFastChunk + 8 * hd) scratch.resize((size_t)(gqa * kFastChunk + 8 * hd));
    const float* q = &s.q[(r * nh + kvh * gqa) * hd];  // the group's query heads are consecutive
    if (k16)
      round_to_f16(q, 1.0f, qv.data(), gqa * hd);  // the query in the cache's precision, as llama.cpp
    else
      std::memcpy(qv.data(), q, sizeof(float) * gqa * hd);
    attn_partial(qv.data(), gqa, hd, kv.k_row(il, (uint32_t)c0) + (size_t)kvh * hd * (k16 ? 2 : 4), kv.k_row_bytes(il),
                 k16, kv.v_row(il, (uint32_t)c0) + (size_t)kvh * hdv * (v16 ? 2 : 4), kv.v_row_bytes(il), v16, hdv,
                 c1 - c0, kq_scale, st, st + gqa, st + 2 * gqa, scratch.data());
  };
  auto task_fn = [&](int64_t task, int thread) {
    if (task < n_exact)
      body(exact_tasks[task], thread);
    else
      fast(task - n_exact);
  };
  const int64_t n_tasks = n_exact + n_chunks * nkv;
  // A short context with few heads is less work than waking the other threads: run it here.
  const int64_t keys = (int64_t)pos_[act_[na - 1]] + 1;
  if (na * nh * keys * (hd + hdv) < (1 << 16)) {
    for (int64_t task = 0; task < n_tasks; task++) task_fn(task, 0);
  } else {
    c_.pool_.parallel_for(n_tasks, task_fn);
  }
  // merge each fast token's chunks: out_h = sum_i e^(m_i - M) acc_i / sum_i e^(m_i - M) l_i, M = max_i m_i
  for (int64_t ci = 0; ci < n_chunks;) {
    const int64_t r = chunks[3 * ci];
    int64_t cj = ci;
    while (cj < n_chunks && chunks[3 * cj] == r) cj++;
    for (int64_t kvh = 0; kvh < nkv; kvh++)
      for (int64_t j = 0; j < gqa; j++) {
        float M = -INFINITY;
        for (int64_t c = ci; c < cj; c++) M = std::max(M, s.attn_part[(size_t)((c * nkv + kvh) * part + j)]);
        float* out = &s.attn[(r * nh + kvh * gqa + j) * hdv];
        std::fill(out, out + hdv, 0.0f);
        float L = 0.0f;
        for (int64_t c = ci; c < cj; c++) {
          const float* st = &s.attn_part[(size_t)((c * nkv + kvh) * part)];
          const float w = expf(st[j] - M);
          L += w * st[gqa + j];
          const float* a = st + 2 * gqa + j * hdv;
          for (int64_t d = 0; d < hdv; d++) out[d] += w * a[d];
        }
        const float inv = 1.0f / L;
        for (int64_t d = 0; d < hdv; d++) out[d] *= inv;
      }
    ci = cj;
  }
}

void Blocks::swiglu_ffn(const WeightView& gate, const WeightView& up, const WeightView& down, const float* in,
                        int64_t n_rows, float* out, bool experts) {
  auto& s = c_.s_;
  const int64_t E = hp_.n_embd, F = gate.n_out;
  slots_[0].src = slots_[1].src = nullptr;
  const ConvertedActs& ag = acts(gate.type, in, E, E, n_rows, 0);
  const ConvertedActs& au = acts(up.type, in, E, E, n_rows, up.type == gate.type ? 0 : 1);
  mm_jobs({{gate, &ag, s.gate.data(), F}, {up, &au, s.up.data(), F}}, experts);
  for (int64_t r = 0; r < n_rows; r++) swiglu(&s.gate[r * F], &s.up[r * F], &s.hidden[r * F], F);  // per row, as ggml
  mm(down, acts(down.type, s.hidden.data(), F, F, n_rows, 1), out, E, experts);
  slots_[0].src = slots_[1].src = nullptr;
}

void Blocks::ffn(uint32_t il) {
  const LayerWeights& L = m_.layers[il];
  auto& s = c_.s_;
  ffn_norm_rows(L.ffn_norm);
  swiglu_ffn(L.ffn_gate.view(), L.ffn_up.view(), L.ffn_down.view(), s.xn.data(), (int64_t)act_.size(), s.proj.data());
  add_rows(s.proj.data());
}

namespace {

// Indices of the k largest values, in descending order (ties: lower index first).
void top_k(const float* v, int64_t n, int64_t k, int32_t* out) {
  std::vector<int32_t> idx((size_t)n);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  });
  std::copy(idx.begin(), idx.begin() + k, out);
}

}  // namespace

// Runs the routed experts for every (token, slot) pair, grouped so each expert's weights are read once
// per batch. Inputs are xn rows scaled by in_scale[t*k+slot] (or unscaled when null); the result for
// (t, slot) lands in moe_out[(t*k + slot) * E].
static void run_experts(Blocks& b, const LayerWeights& L, const int32_t* sel, const float* in_scale,
                        int64_t n, int64_t k, const float* xn, int64_t E, std::vector<float>& moe_in,
                        std::vector<float>& moe_out, const std::function<void(const WeightView&, const WeightView&,
                                                                              const WeightView&, const float*, int64_t, float*)>& ffn) {
  const int64_t n_expert = L.ffn_gate_exps.ne[2];
  std::vector<std::vector<int64_t>> groups((size_t)n_expert);
  for (int64_t i = 0; i < n * k; i++)
    if (sel[i] >= 0) groups[(size_t)sel[i]].push_back(i);  // -1: no routed expert (shared expert only)
  std::vector<float> out_rows;
  for (int64_t e = 0; e < n_expert; e++) {
    const auto& g = groups[(size_t)e];
    if (g.empty()) continue;
    b.check_cancel();
    const int64_t cnt = (int64_t)g.size();
    for (int64_t r = 0; r < cnt; r++) {
      const int64_t i = g[(size_t)r], t = i / k;
      float* dst = &moe_in[r * E];
      const float sc = in_scale ? in_scale[i] : 1.0f;
      for (int64_t d = 0; d < E; d++) dst[d] = xn[t * E + d] * sc;
    }
    out_rows.resize((size_t)(cnt * E));
    ffn(L.ffn_gate_exps.expert(e), L.ffn_up_exps.expert(e), L.ffn_down_exps.expert(e), moe_in.data(), cnt, out_rows.data());
    for (int64_t r = 0; r < cnt; r++) std::memcpy(&moe_out[g[(size_t)r] * E], &out_rows[r * E], sizeof(float) * E);
  }
}

void Blocks::moe_softmax(uint32_t il) {
  const LayerWeights& L = m_.layers[il];
  const int64_t E = hp_.n_embd, X = hp_.n_expert, K = hp_.n_expert_used;
  auto& s = c_.s_;
  const int64_t n = (int64_t)act_.size();  // rows t below are the running tokens, compacted
  ffn_norm_rows(L.ffn_norm);
  slots_[0].src = slots_[1].src = nullptr;
  mm(L.ffn_gate_inp.view(), acts(L.ffn_gate_inp.type, s.xn.data(), E, E, n, 0), s.router.data(), X);
  std::vector<int32_t> sel((size_t)(n * K));
  std::vector<float> w((size_t)(n * K));
  for (int64_t t = 0; t < n; t++) {
    float* lg = &s.router[t * X];
    // softmax over all experts, as ggml_soft_max (soft_max_exp: ggml's exp and summation order)
    const float mx = *std::max_element(lg, lg + X);
    std::vector<float> probs((size_t)X);
    const double sum = soft_max_exp(lg, probs.data(), X, mx);
    const float inv = (float)(1.0 / sum);
    for (auto& p : probs) p *= inv;
    top_k(probs.data(), X, K, &sel[t * K]);
    float wsum = 0.0f;
    for (int64_t j = 0; j < K; j++) wsum += (w[t * K + j] = probs[(size_t)sel[t * K + j]]);
    wsum = std::max(wsum, 6.103515625e-5f);
    for (int64_t j = 0; j < K; j++) w[t * K + j] /= wsum;
  }
  auto ffn_fn = [this](const WeightView& g, const WeightView& u, const WeightView& d, const float* in, int64_t rows, float* out) {
    swiglu_ffn(g, u, d, in, rows, out, /*experts=*/true);
  };
  for (int64_t t = 0; t < n; t++) stats_at(act_[t]).expert_evals += (uint64_t)K;
  run_experts(*this, L, sel.data(), nullptr, n, K, s.xn.data(), E, s.moe_in, s.moe_out, ffn_fn);
  // weights applied to the expert outputs, summed in selection order
  for (int64_t t = 0; t < n; t++) {
    float* acc = &s.proj[t * E];
    for (int64_t j = 0; j < K; j++) {
      const float* o = &s.moe_out[(t * K + j) * E];
      const float wj = w[t * K + j];
      if (j == 0)
        for (int64_t d = 0; d < E; d++) acc[d] = o[d] * wj;
      else
        for (int64_t d = 0; d < E; d++) acc[d] += o[d] * wj;
    }
  }
  add_rows(s.proj.data());
}

void Blocks::moe_sigmoid_shared(uint32_t il) {
  const LayerWeights& L = m_.layers[il];
  const int64_t E = hp_.n_embd, X = hp_.n_expert, K = hp_.n_expert_used;
  auto& s = c_.s_;
  const int64_t n = (int64_t)act_.size();  // rows t below are the running tokens, compacted
  ffn_norm_rows(L.ffn_norm);
  slots_[0].src = slots_[1].src = nullptr;
  mm(L.ffn_gate_inp.view(), acts(L.ffn_gate_inp.type, s.xn.data(), E, E, n, 0), s.router.data(), X);
  std::vector<int32_t> sel((size_t)(n * K));
  std::vector<float> w((size_t)(n * K));
  for (int64_t t = 0; t < n; t++) {
    const float* lg = &s.router[t * X];
    top_k(lg, X, K, &sel[t * K]);  // selection on raw logits
    for (int64_t j = 0; j < K; j++) w[t * K + j] = sigmoidf(lg[sel[t * K + j]]);
    if (!shared_only_.empty() && shared_only_[t])
      for (int64_t j = 0; j < K; j++) sel[t * K + j] = -1;  // depth gate: shared expert only
  }
  auto ffn_fn = [this](const WeightView& g, const WeightView& u, const WeightView& d, const float* in, int64_t rows, float* out) {
    swiglu_ffn(g, u, d, in, rows, out, /*experts=*/true);
  };
  for (int64_t i = 0; i < n * K; i++) stats_at(act_[i / K]).expert_evals += sel[i] >= 0;
  run_experts(*this, L, sel.data(), w.data(), n, K, s.xn.data(), E, s.moe_in, s.moe_out, ffn_fn);
  // shared expert on the unscaled normed input
  swiglu_ffn(L.ffn_gate_shexp.view(), L.ffn_up_shexp.view(), L.ffn_down_shexp.view(), s.xn.data(), n, s.proj.data());
  for (int64_t t = 0; t < n; t++) {
    if (!shared_only_.empty() && shared_only_[t]) continue;  // the shared expert's output alone
    float* acc = &s.moe_out[t * K * E];  // slot 0 accumulates the routed outputs
    for (int64_t j = 1; j < K; j++) vec_add(acc, &s.moe_out[(t * K + j) * E], E);
    float* sh = &s.proj[t * E];
    for (int64_t d = 0; d < E; d++) sh[d] = acc[d] + sh[d];
  }
  add_rows(s.proj.data());
}

void Blocks::output(bool all_logits, float* logits) {
  const int64_t E = hp_.n_embd, V = hp_.n_vocab;
  auto& s = c_.s_;
  const int64_t first = all_logits ? 0 : n_ - 1;
  const int64_t rows = n_ - first;
  for (int64_t r = 0; r < rows; r++) rms_norm(&s.x[(first + r) * E], &s.xn[r * E], E, hp_.rms_eps, m_.output_norm.data());
  slots_[0].src = slots_[1].src = nullptr;
  mm(m_.output.view(), acts(m_.output.type, s.xn.data(), E, E, rows, 0), logits, V);
}

}  // namespace llama4
