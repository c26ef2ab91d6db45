#include "runtime/kv_cache.h"

#include "runtime/error.h"

namespace llama4 {

KvCache::KvCache(uint32_t n_layer, uint32_t n_ctx, const std::vector<uint32_t>& k_dims,
                 const std::vector<uint32_t>& v_dims, GgmlType type_k, GgmlType type_v)
    : n_ctx_(n_ctx), type_k_(type_k), type_v_(type_v), k_dims_(k_dims), v_dims_(v_dims) {
  for (GgmlType t : {type_k, type_v})
    if (t != GgmlType::F16 && t != GgmlType::F32) LLAMA4_THROW("KV cache type %s is not supported (f16, f32)", type_name(t));
  k_.resize(n_layer);
  v_.resize(n_layer);
  for (uint32_t il = 0; il < n_layer; il++) {
    k_row_bytes_.push_back(row_size(type_k, k_dims[il]));
    v_row_bytes_.push_back(row_size(type_v, v_dims[il]));
    k_[il].resize(k_row_bytes_[il] * n_ctx);
    v_[il].resize(v_row_bytes_[il] * n_ctx);
  }
}

uint64_t KvCache::bytes_needed(uint32_t n_ctx, const std::vector<uint32_t>& k_dims, const std::vector<uint32_t>& v_dims,
                               GgmlType type_k, GgmlType type_v) {
  uint64_t b = 0;
  for (size_t il = 0; il < k_dims.size(); il++)
    b += (uint64_t)n_ctx * (row_size(type_k, k_dims[il]) + row_size(type_v, v_dims[il]));
  return b;
}

uint64_t KvCache::bytes() const {
  uint64_t b = 0;
  for (size_t il = 0; il < k_.size(); il++) b += k_[il].size() + v_[il].size();
  return b;
}

void KvCache::store(uint32_t il, uint32_t pos, const float* k, const float* v) {
  if (pos >= n_ctx_) LLAMA4_THROW("KV cache position %u is past the context size %u", pos, n_ctx_);
  type_traits(type_k_).from_float(k, k_[il].data() + (size_t)pos * k_row_bytes_[il], k_dims_[il]);
  type_traits(type_v_).from_float(v, v_[il].data() + (size_t)pos * v_row_bytes_[il], v_dims_[il]);
}

}  // namespace llama4
