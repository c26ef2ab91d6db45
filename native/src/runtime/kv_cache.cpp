#include "runtime/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "ops/cpu/kernels.h"
#include "runtime/error.h"

namespace llama4 {

namespace {
constexpr uint32_t kPage = 32;  // sparse layout grows by at least this many cells (and by a quarter)
}

KvCache::KvCache(uint32_t n_layer, uint32_t n_ctx, const std::vector<uint32_t>& k_dims,
                 const std::vector<uint32_t>& v_dims, GgmlType type_k, GgmlType type_v)
    : n_ctx_(n_ctx), type_k_(type_k), type_v_(type_v), k_dims_(k_dims), v_dims_(v_dims) {
  for (GgmlType t : {type_k, type_v})
    if (!type_supported(t)) LLAMA4_THROW("KV cache type %s is not supported (%s)", type_name(t), kSupportedTypes);
  for (uint32_t il = 0; il < n_layer; il++)
    if (k_dims[il] % type_traits(type_k).blck_size || v_dims[il] % type_traits(type_v).blck_size)
      LLAMA4_THROW("KV cache rows of layer %u (%u / %u values) are not whole %s / %s blocks", il, k_dims[il], v_dims[il],
                   type_name(type_k), type_name(type_v));
  k_.resize(n_layer);
  v_.resize(n_layer);
  n_cells_.assign(n_layer, 0);
  pos_.resize(n_layer);
  released_.assign(n_layer, 0);
  for (uint32_t il = 0; il < n_layer; il++) {
    k_row_bytes_.push_back(row_size(type_k, k_dims[il]));
    v_row_bytes_.push_back(row_size(type_v, v_dims[il]));
    reserve_cells(il, n_ctx);
  }
}

bool KvCache::type_supported(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1:
    case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::IQ4_NL:
      return true;
    default:
      return false;
  }
}

void KvCache::check_type(GgmlType t, uint32_t head_dim, const char* which) {
  if (!type_supported(t)) LLAMA4_THROW("KV cache type %s is not supported (%s)", type_name(t), kSupportedTypes);
  const int64_t b = type_traits(t).blck_size;
  if (head_dim % b)
    LLAMA4_THROW("a %s cache of type %s needs a head size that is a multiple of %lld; this model's is %u (use f16)", which,
                 type_name(t), (long long)b, head_dim);
}

uint64_t KvCache::bytes_needed(uint32_t n_ctx, const std::vector<uint32_t>& k_dims, const std::vector<uint32_t>& v_dims,
                               GgmlType type_k, GgmlType type_v) {
  uint64_t b = 0;
  for (size_t il = 0; il < k_dims.size(); il++)
    b += (uint64_t)n_ctx * (row_size(type_k, k_dims[il]) + row_size(type_v, v_dims[il]));
  return b;
}

void KvCache::reserve_cells(uint32_t il, uint32_t cells) {
  k_[il].resize(k_row_bytes_[il] * cells);
  v_[il].resize(v_row_bytes_[il] * cells);
}

void KvCache::set_sparse(bool on) {
  if (on == sparse_) return;
  for (uint32_t n : n_cells_)
    if (n) LLAMA4_THROW("the KV cache layout can only change while it is empty");
  sparse_ = on;
  for (uint32_t il = 0; il < k_.size(); il++) {
    k_[il] = std::vector<uint8_t>();
    v_[il] = std::vector<uint8_t>();
    pos_[il].clear();
    reserve_cells(il, on || released_[il] ? 0 : n_ctx_);
  }
}

void KvCache::set_released(uint32_t il, bool released) {
  if (il >= released_.size()) LLAMA4_THROW("KV cache: layer %u does not exist", il);
  if (released == (released_[il] != 0)) return;
  if (!released)
    for (uint32_t n : n_cells_)
      if (n) LLAMA4_THROW("KV cache: layer %u was released while positions were cached; clear the cache (truncate to 0) before running it again", il);
  released_[il] = released;
  k_[il] = std::vector<uint8_t>();
  v_[il] = std::vector<uint8_t>();
  pos_[il].clear();
  n_cells_[il] = 0;
  if (!released) reserve_cells(il, sparse_ ? 0 : n_ctx_);
}

uint64_t KvCache::bytes() const {
  uint64_t b = 0;
  for (size_t il = 0; il < k_.size(); il++) b += k_[il].size() + v_[il].size();
  return b;
}

uint64_t KvCache::bytes_used() const {
  uint64_t b = 0;
  for (size_t il = 0; il < k_.size(); il++) b += (uint64_t)n_cells_[il] * (k_row_bytes_[il] + v_row_bytes_[il]);
  return b;
}

void KvCache::store(uint32_t il, uint32_t pos, const float* k, const float* v) {
  if (pos >= n_ctx_) LLAMA4_THROW("KV cache position %u is past the context size %u", pos, n_ctx_);
  if (released_[il])
    LLAMA4_THROW("KV cache: layer %u has no storage (its attention is dropped by the depth policy); a full-depth pass needs a context without --drop-attn / --drop-layers KV release", il);
  uint32_t c;
  if (!sparse_) {
    c = pos;
    n_cells_[il] = std::max(n_cells_[il], pos + 1);
  } else {
    std::vector<int32_t>& ps = pos_[il];
    // positions arrive in order; a re-evaluated position (after truncate) replaces the tail
    while (!ps.empty() && ps.back() >= (int32_t)pos) ps.pop_back();
    c = (uint32_t)ps.size();
    ps.push_back((int32_t)pos);
    n_cells_[il] = c + 1;
    const uint32_t cap = (uint32_t)(k_[il].size() / k_row_bytes_[il]);
    if (c >= cap) reserve_cells(il, std::min(n_ctx_, cap + std::max(kPage, cap / 4)));
  }
  // llama.cpp's copy into the cache rounds as its CPU from_float does: Q8_0 with its x86 rounding (the
  // activation quantizer), the other types with the reference quantizers
  auto put = [](GgmlType t, const float* x, uint8_t* dst, int64_t n) {
    FromFloatFn f = t == GgmlType::Q8_0 ? cpu_kernels().quantize_act[(int)t] : nullptr;
    (f ? f : type_traits(t).from_float)(x, dst, n);
  };
  put(type_k_, k, k_[il].data() + (size_t)c * k_row_bytes_[il], k_dims_[il]);
  put(type_v_, v, v_[il].data() + (size_t)c * v_row_bytes_[il], v_dims_[il]);
}

void KvCache::truncate(uint32_t pos) {
  for (uint32_t il = 0; il < n_cells_.size(); il++) {
    if (!sparse_) {
      n_cells_[il] = std::min(n_cells_[il], pos);
    } else {
      std::vector<int32_t>& ps = pos_[il];
      while (!ps.empty() && ps.back() >= (int32_t)pos) ps.pop_back();
      n_cells_[il] = (uint32_t)ps.size();
    }
  }
}

void KvCache::cell_range(uint32_t il, int64_t lo, int64_t hi, uint32_t* c0, uint32_t* c1) const {
  if (!sparse_) {
    *c0 = (uint32_t)std::max<int64_t>(lo, 0);
    *c1 = (uint32_t)std::min<int64_t>(hi + 1, n_cells_[il]);
    if (*c1 < *c0) *c1 = *c0;
    return;
  }
  const std::vector<int32_t>& ps = pos_[il];
  *c0 = (uint32_t)(std::lower_bound(ps.begin(), ps.end(), (int32_t)lo) - ps.begin());
  *c1 = (uint32_t)(std::upper_bound(ps.begin(), ps.end(), (int32_t)hi) - ps.begin());
}

void KvCache::copy_prefix(const KvCache& src, uint32_t pos) {
  if (src.k_dims_ != k_dims_ || src.v_dims_ != v_dims_ || src.type_k_ != type_k_ || src.type_v_ != type_v_)
    LLAMA4_THROW("KV copy: the caches differ in shape or type");
  if (src.sparse_ != sparse_) LLAMA4_THROW("KV copy: the caches differ in layout (--depth-kv)");
  if (src.released_ != released_) LLAMA4_THROW("KV copy: the caches differ in released (dropped) layers");
  if (pos > n_ctx_) LLAMA4_THROW("KV copy: %u positions do not fit a context of %u", pos, n_ctx_);
  for (uint32_t il = 0; il < n_cells_.size(); il++) {
    if (released_[il]) continue;
    uint32_t c0, c1;
    src.cell_range(il, 0, (int64_t)pos - 1, &c0, &c1);
    const uint32_t cells = c1 - c0;  // c0 is 0: every position starts at 0
    if (sparse_) {
      pos_[il].assign(src.pos_[il].begin(), src.pos_[il].begin() + cells);
      const uint32_t cap = (uint32_t)(k_[il].size() / k_row_bytes_[il]);
      if (cells > cap) reserve_cells(il, cells);
    }
    std::memcpy(k_[il].data(), src.k_[il].data(), (size_t)cells * k_row_bytes_[il]);
    std::memcpy(v_[il].data(), src.v_[il].data(), (size_t)cells * v_row_bytes_[il]);
    n_cells_[il] = cells;
  }
}

}  // namespace llama4
