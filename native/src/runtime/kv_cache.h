// Key/value cache: per layer, one row of n_head_kv * head_dim values per position, stored in F16
// (llama.cpp's default) or F32. K is stored after RoPE (and Llama-4 QK-norm); values are rounded to the
// cache type on the way in, so the current token reads back what later tokens will see.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/types.h"

namespace llama4 {

class KvCache {
 public:
  KvCache(uint32_t n_layer, uint32_t n_ctx, const std::vector<uint32_t>& k_dims, const std::vector<uint32_t>& v_dims,
          GgmlType type_k, GgmlType type_v);

  static uint64_t bytes_needed(uint32_t n_ctx, const std::vector<uint32_t>& k_dims, const std::vector<uint32_t>& v_dims,
                               GgmlType type_k, GgmlType type_v);

  uint32_t n_ctx() const { return n_ctx_; }
  GgmlType type_k() const { return type_k_; }
  GgmlType type_v() const { return type_v_; }
  uint64_t bytes() const;

  void store(uint32_t il, uint32_t pos, const float* k, const float* v);
  const uint8_t* k_row(uint32_t il, uint32_t pos) const { return k_[il].data() + (size_t)pos * k_row_bytes_[il]; }
  const uint8_t* v_row(uint32_t il, uint32_t pos) const { return v_[il].data() + (size_t)pos * v_row_bytes_[il]; }

 private:
  uint32_t n_ctx_;
  GgmlType type_k_, type_v_;
  std::vector<size_t> k_row_bytes_, v_row_bytes_;
  std::vector<uint32_t> k_dims_, v_dims_;
  std::vector<std::vector<uint8_t>> k_, v_;
};

}  // namespace llama4
