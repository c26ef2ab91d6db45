#include "ops/cpu/ops.h"

#include <cmath>
#include <vector>

#include "ops/types.h"

namespace llama4 {

const float* fp16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; i++) t[i] = fp16_to_fp32((uint16_t)i);
    return t;
  }();
  return table.data();
}

void rms_norm(const float* x, float* y, int64_t n, float eps, const float* w) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
  const float mean = (float)(sum / (double)n);
  const float scale = 1.0f / sqrtf(mean + eps);
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;
  if (w)
    for (int64_t i = 0; i < n; i++) y[i] *= w[i];
}

void rope_cache(float pos, int64_t n_dims, float freq_base, float freq_scale, const float* freq_factors, float* cache) {
  const float theta_scale = powf(freq_base, -2.0f / (float)n_dims);
  float theta = pos;
  for (int64_t i0 = 0; i0 < n_dims; i0 += 2) {
    const float ff = freq_factors ? freq_factors[i0 / 2] : 1.0f;
    const float t = freq_scale * (theta / ff);
    cache[i0 + 0] = cosf(t);
    cache[i0 + 1] = sinf(t);
    theta *= theta_scale;
  }
}

void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int64_t n_dims, const float* cache) {
  for (int64_t h = 0; h < n_heads; h++) {
    float* v = x + h * head_dim;
    for (int64_t i0 = 0; i0 < n_dims; i0 += 2) {
      const float c = cache[i0], s = cache[i0 + 1];
      const float x0 = v[i0], x1 = v[i0 + 1];
      v[i0] = x0 * c - x1 * s;
      v[i0 + 1] = x0 * s + x1 * c;
    }
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i];
    out[i] = (g / (1.0f + expf(-g))) * up[i];
  }
}

void vec_add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void vec_scale(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] *= s;
}

}  // namespace llama4
