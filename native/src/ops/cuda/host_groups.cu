// The device's weight-group decoding (common.cuh: one QuantType row per type) run on the host, so that a
// machine without a GPU still checks it against the CPU reference dequantizers (cudaTwin 'group_values').
#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

namespace {

template <GgmlType T>
void values(const uint8_t* row, int64_t n, float* out) {
  for (int64_t gi = 0; gi < n / 32; gi++) {
    QGroup g;
    load_group<T>(row, (int)gi, g);
    for (int e = 0; e < 32; e++) out[gi * 32 + e] = group_value<T>(g, e);
  }
}

template <GgmlType T>
double dot(const uint8_t* row, const block_q8_1* x, int64_t n) {
  double s = 0.0;
  for (int64_t gi = 0; gi < n / 32; gi++) {
    QGroup g;
    load_group<T>(row, (int)gi, g);
    int q8[8];
    for (int k = 0; k < 8; k++) q8[k] = ld32_b2((const uint8_t*)x[gi].qs + 4 * k);
    s += group_dot_q8_1<T>(g, q8, h2f(x[gi].d));
  }
  return s;
}

}  // namespace

bool host_group_values(GgmlType t, const uint8_t* row, int64_t n, float* out) {
  bool quant = false;
  with_weight_type(t, [&](auto tag) {
    constexpr GgmlType T = decltype(tag)::value;
    if constexpr (!kIsFloat<T>) {
      values<T>(row, n, out);
      quant = true;
    }
  });
  return quant;
}

bool host_group_dot(GgmlType t, const uint8_t* row, const block_q8_1* x, int64_t n, double* out) {
  bool quant = false;
  with_weight_type(t, [&](auto tag) {
    constexpr GgmlType T = decltype(tag)::value;
    if constexpr (!kIsFloat<T>) {
      *out = dot<T>(row, x, n);
      quant = true;
    }
  });
  return quant;
}

}  // namespace cuda
}  // namespace llama4
