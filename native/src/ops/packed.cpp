#include "ops/packed.h"

#include <array>
#include <cstring>
#include <string>

#include "runtime/error.h"

namespace llama4 {

namespace {
std::array<PackedFormat, kGgmlTypeCount> build() {
  std::array<PackedFormat, kGgmlTypeCount> t{};
  // One row per packed type:
  t[(int)GgmlType::Q4_0] = {packed_group_bytes_q4_0, pack_group_q4_0};
  t[(int)GgmlType::Q4_1] = {packed_group_bytes_q4_1, pack_group_q4_1};
  t[(int)GgmlType::Q8_0] = {packed_group_bytes_q8_0, pack_group_q8_0};
  t[(int)GgmlType::Q4_K] = {packed_group_bytes_q4_k, pack_group_q4_k};
  t[(int)GgmlType::Q6_K] = {packed_group_bytes_q6_k, pack_group_q6_k};
  return t;
}
}  // namespace

const PackedFormat* packed_format(GgmlType t) {
  static const std::array<PackedFormat, kGgmlTypeCount> table = build();
  if ((uint32_t)t >= kGgmlTypeCount) return nullptr;
  const PackedFormat& f = table[(size_t)t];
  return f.group_bytes ? &f : nullptr;
}

void pack_group_interleaved(const InterleavedLayout& l, int64_t nb, const uint8_t* src, size_t row_bytes,
                            uint8_t* dst) {
  for (int64_t b = 0; b < nb; b++) {
    uint8_t* o = dst + (size_t)b * l.dst_block;
    for (int r = 0; r < kPackRows; r++) {
      const uint8_t* blk = src + (size_t)r * row_bytes + (size_t)b * l.src_block;
      for (int f = 0; f < l.n_f16; f++) std::memcpy(o + l.f16_dst[f] + 2 * r, blk + l.f16_src[f], 2);
      for (int c = 0; c < l.qs_chunks; c++) std::memcpy(o + l.qs_dst + 32 * c + 4 * r, blk + l.qs_src + 4 * c, 4);
    }
  }
}

PackedWeights pack_weights(GgmlType t, int64_t n_in, int64_t n_out, int64_t n_slab, const uint8_t* data,
                           size_t row_bytes) {
  PackedWeights out;
  const PackedFormat* f = packed_format(t);
  if (!f || n_out < kPackRows || n_slab <= 0 || n_in <= 0) return out;
  const int64_t ng = n_out / kPackRows;
  out.group_bytes = f->group_bytes(n_in);
  unsigned __int128 total = (unsigned __int128)out.group_bytes * (unsigned __int128)ng * (unsigned __int128)n_slab;
  if (total > (unsigned __int128)(SIZE_MAX / 2)) LLAMA4_THROW("packed weights of %s too large", type_name(t));
  out.bytes = (size_t)total;
  // on huge pages: decode streams it every token
  out.mem = alloc_weight_buffer(out.bytes, (std::string("packed ") + type_name(t) + " weights").c_str());
  uint8_t* p = out.mem.get();
  for (int64_t e = 0; e < n_slab; e++) {
    const uint8_t* slab = data + (size_t)e * (size_t)n_out * row_bytes;
    uint8_t* dst = p + (size_t)e * (size_t)ng * out.group_bytes;
    for (int64_t g = 0; g < ng; g++)
      f->pack_group(n_in, slab + (size_t)g * kPackRows * row_bytes, row_bytes, dst + (size_t)g * out.group_bytes);
  }
  return out;
}

}  // namespace llama4
