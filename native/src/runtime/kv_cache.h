// Key/value cache: per layer, a list of cells, each one row of n_head_kv * head_dim values for one
// position, stored in F16 (llama.cpp's default), F32, or a quantized type (q8_0, q4_0, ...: blocks of 32
// values within each head, as llama.cpp's -ctk/-ctv). K is stored after RoPE (and Llama-4 QK-norm);
// values are rounded to the cache type on the way in, so the current token reads back what later tokens
// will see.
//
// Dense layout (default): cell c holds position c in every layer, allocated up front for n_ctx cells,
// as llama.cpp lays out one sequence. Sparse layout (depth gating with --depth-kv skip): a layer only
// gets a cell for the positions whose block ran, appended in position order, and its storage grows in
// pages, so skipped blocks really save memory.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/types.h"

namespace llama4 {

class KvCache {
 public:
  KvCache(uint32_t n_layer, uint32_t n_ctx, const std::vector<uint32_t>& k_dims, const std::vector<uint32_t>& v_dims,
          GgmlType type_k, GgmlType type_v);

  // The cache types (llama.cpp's -ctk/-ctv set, less bf16), as type_supported accepts them, for messages.
  static constexpr const char* kSupportedTypes = "f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl";
  static bool type_supported(GgmlType t);
  // Throws unless `t` is a cache type whose blocks fit whole heads of `head_dim` values (`which`: "K" / "V").
  static void check_type(GgmlType t, uint32_t head_dim, const char* which);

  static uint64_t bytes_needed(uint32_t n_ctx, const std::vector<uint32_t>& k_dims, const std::vector<uint32_t>& v_dims,
                               GgmlType type_k, GgmlType type_v);

  uint32_t n_ctx() const { return n_ctx_; }
  GgmlType type_k() const { return type_k_; }
  GgmlType type_v() const { return type_v_; }
  bool sparse() const { return sparse_; }
  // Switch to the sparse layout; only while the cache is empty. Releases the dense allocation.
  void set_sparse(bool on);
  // A released layer holds no storage (a statically dropped attention layer: nothing ever reads it);
  // storing into it throws. Releasing is always allowed (its cells are forgotten); taking a layer back
  // only while the cache is empty, since its earlier positions were never written.
  void set_released(uint32_t il, bool released);
  bool released(uint32_t il) const { return released_[il] != 0; }
  uint64_t bytes() const;       // bytes allocated now
  uint64_t bytes_used() const;  // bytes of cells holding data

  // Writes position `pos` of layer il (dense: cell pos; sparse: appended after the layer's last cell).
  void store(uint32_t il, uint32_t pos, const float* k, const float* v);
  // Forgets every cell whose position is >= pos.
  void truncate(uint32_t pos);
  // Replaces this cache's contents with the cells of `src` whose positions are < pos (llama.cpp's
  // seq_cp of a prefix): same layer shapes, cache types and layout required.
  void copy_prefix(const KvCache& src, uint32_t pos);

  uint32_t n_cells(uint32_t il) const { return n_cells_[il]; }
  int32_t cell_pos(uint32_t il, uint32_t c) const { return sparse_ ? pos_[il][c] : (int32_t)c; }
  // Cells [c0, c1) whose positions lie in [lo, hi].
  void cell_range(uint32_t il, int64_t lo, int64_t hi, uint32_t* c0, uint32_t* c1) const;
  const uint8_t* k_row(uint32_t il, uint32_t c) const { return k_[il].data() + (size_t)c * k_row_bytes_[il]; }
  const uint8_t* v_row(uint32_t il, uint32_t c) const { return v_[il].data() + (size_t)c * v_row_bytes_[il]; }
  size_t k_row_bytes(uint32_t il) const { return k_row_bytes_[il]; }
  size_t v_row_bytes(uint32_t il) const { return v_row_bytes_[il]; }

 private:
  void reserve_cells(uint32_t il, uint32_t cells);

  uint32_t n_ctx_;
  GgmlType type_k_, type_v_;
  bool sparse_ = false;
  std::vector<size_t> k_row_bytes_, v_row_bytes_;
  std::vector<uint32_t> k_dims_, v_dims_;
  std::vector<std::vector<uint8_t>> k_, v_;
  std::vector<uint32_t> n_cells_;
  std::vector<std::vector<int32_t>> pos_;  // sparse: position of each cell
  std::vector<uint8_t> released_;          // per layer: no storage (set_released)
};

}  // namespace llama4
