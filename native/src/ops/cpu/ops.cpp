#include "ops/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/cpu/avx2/attn_avx2.h"
#include "ops/cpu/kernels.h"
#include "ops/types.h"
#include "runtime/cpu_features.h"

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

// Written as fmaf(x0, c, -(x1*s)) / fmaf(x0, s, x1*c): llama.cpp's rotate_pairs is plain C compiled with
// contraction, which fuses the first product of each expression.
LLAMA4_FMA_CLONES
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, int64_t n_dims, const float* cache) {
  for (int64_t h = 0; h < n_heads; h++) {
    float* v = x + h * head_dim;
    for (int64_t i0 = 0; i0 < n_dims; i0 += 2) {
      const float c = cache[i0], s = cache[i0 + 1];
      const float x0 = v[i0], x1 = v[i0 + 1];
      v[i0] = fmaf(x0, c, -(x1 * s));
      v[i0 + 1] = fmaf(x0, s, x1 * c);
    }
  }
}

namespace {

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// One lane of ggml_v_expf (AVX2): exp(x) = 2^n * (1 + j) with n = round(x / ln2) obtained by adding the
// rounding constant r = 1.5 * 2^23, b = x - n*ln2 in two FMA steps (ln2 split in a high and a low part), j a
// degree-5 polynomial in b, and 2^n built in the exponent bits of z. |n| > 126 takes a two-factor scale to
// reach subnormals / infinity, |n| > 192 saturates to s1*s1 (0 or inf; -inf input gives exactly 0). Each
// operation here is one instruction of the vector version, so every lane is bit-identical.
__attribute__((always_inline)) inline float expf_lane(float x) {
  const float r = 0x1.8p23f;
  const float z = fmaf(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
  const uint32_t e = f32_to_bits(z) << 23;
  const float k = bits_to_f32(e + f32_to_bits(1.0f));
  const float u = b * b;
  const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                       0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return fmaf(j, k, k);
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = bits_to_f32(g + 0x7f000000u);
  const float s2 = bits_to_f32(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return fmaf(s2, j, s2) * s1;
}

// Horizontal sums of 8 lanes, as the two x86 idioms llama.cpp uses. Both add lane pairs (k, k+4) first; then
// hsum_float_8 and tinyBLAS's hsum add (0+2)+(1+3), GGML_F32x8_REDUCE's two hadds (0+1)+(2+3).
__attribute__((always_inline)) inline float hsum8_movehl(const float* a) {
  const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
  return (t0 + t2) + (t1 + t3);
}
__attribute__((always_inline)) inline float hsum8_hadd(const float* a) {
  const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
  return (t0 + t1) + (t2 + t3);
}

// GGML_F32_VEC_REDUCE of four 8-lane accumulators a[8*i + lane]: (0+2) + (1+3), then the hadds. Clobbers a.
__attribute__((always_inline)) inline float reduce4x8(float* a) {
  for (int l = 0; l < 8; l++) {
    a[l] += a[16 + l];
    a[8 + l] += a[24 + l];
    a[l] += a[8 + l];
  }
  return hsum8_hadd(a);
}

template <typename X>
__attribute__((always_inline)) inline float load_elem(const X* x, int64_t i) {
  if constexpr (sizeof(X) == 2)
    return f16_to_f32_fast(x[i]);
  else
    return x[i];
}

// ggml_vec_dot_f16 on AVX2 for an f16 x and an f32 y holding f16 values (GGML_F32_STEP 32 = 4 accumulators of
// 8 lanes): element i of a 32-element step goes to lane i % 32; the tail is added after the reduction in
// double (the accumulator is a ggml_float). The f32 dot is the generic kernels' vec_dot_f32.
__attribute__((always_inline)) inline float dot_ggml(const uint16_t* x, const float* y, int64_t n) {
  float acc[32] = {};
  const int64_t np = n & ~(int64_t)31;
  for (int64_t i = 0; i < np; i += 32)
    for (int l = 0; l < 32; l++) acc[l] = fmaf(load_elem(x, i + l), y[i + l], acc[l]);
  double sum = reduce4x8(acc);
  for (int64_t i = np; i < n; i++) sum += (double)(load_elem(x, i) * y[i]);
  return (float)sum;
}

template <typename X>
__attribute__((always_inline)) inline void weighted_rows_t(const float* p, const uint8_t* rows, size_t stride,
                                                           int64_t first_cell, int64_t n, int64_t dim, int lanes,
                                                           float* acc, float* out) {
  std::fill(acc, acc + lanes * dim, 0.0f);
  for (int64_t j = 0; j < n; j++) {
    const X* r = (const X*)(rows + (size_t)j * stride);
    float* a = acc + ((first_cell + j) % lanes) * dim;
    const float pj = p[j];
    for (int64_t d = 0; d < dim; d++) a[d] = fmaf(load_elem(r, d), pj, a[d]);
  }
  float lane[32];
  for (int64_t d = 0; d < dim; d++) {
    for (int l = 0; l < lanes; l++) lane[l] = acc[l * dim + d];
    out[d] = lanes == 8 ? hsum8_movehl(lane) : reduce4x8(lane);
  }
}

// ---- scalar references (the fallback for LLAMA4_ISA=scalar or a CPU without AVX2/FMA/F16C) ------------

LLAMA4_FMA_CLONES
void swiglu_ref(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t nv = n & ~(int64_t)7;  // the vector part
  for (int64_t i = 0; i < nv; i++) {
    const float g = gate[i];
    out[i] = (g / (1.0f + expf_lane(0.0f - g))) * up[i];
  }
  for (int64_t i = nv; i < n; i++) {
    const float g = gate[i];
    out[i] = (g / (1.0f + expf(-g))) * up[i];
  }
}

void round_to_f16_ref(const float* x, float scale, float* y, int64_t n) {
  const float* t16 = fp16_table();
  for (int64_t i = 0; i < n; i++) y[i] = t16[fp32_to_fp16(x[i] * scale)];
}

LLAMA4_FMA_CLONES
double soft_max_exp_ref(const float* x, float* y, int64_t n, float max) {
  double sum = 0.0;
  int64_t i = 0;
  for (; i + 7 < n; i += 8) {
    for (int l = 0; l < 8; l++) y[i + l] = expf_lane(x[i + l] - max);
    sum += (double)hsum8_movehl(y + i);
  }
  for (; i < n; i++) {
    const float v = expf(x[i] - max);
    sum += (double)v;
    y[i] = v;
  }
  return sum;
}

float dot_f32_ref(const float* x, const float* y, int64_t n) {
  float s;
  cpu_kernels(IsaLevel::Scalar).vec_dot[(int)GgmlType::F32](n, &s, x, y);  // ggml_vec_dot_f32, one implementation
  return s;
}

LLAMA4_FMA_CLONES
float dot_f16_ref(const uint16_t* x, const float* y, int64_t n, bool tinyblas) {
  if (!tinyblas || n % 8 != 0) return dot_ggml(x, y, n);
  float acc[8] = {};
  for (int64_t i = 0; i < n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] = fmaf(f16_to_f32_fast(x[i + l]), y[i + l], acc[l]);
  return hsum8_movehl(acc);
}

void dot_rows_ref(const uint8_t* rows, size_t stride, bool f16, int64_t n_rows, const float* y, int64_t n,
                  bool tinyblas, float* out) {
  for (int64_t i = 0; i < n_rows; i++) {
    const uint8_t* r = rows + (size_t)i * stride;
    out[i] = f16 ? dot_f16_ref((const uint16_t*)r, y, n, tinyblas) : dot_f32_ref((const float*)r, y, n);
  }
}

LLAMA4_FMA_CLONES
void weighted_rows_ref(const float* p, const uint8_t* rows, size_t stride, bool f16, int64_t first_cell, int64_t n,
                       int64_t dim, bool single_token, float* acc, float* out) {
  const int lanes = single_token ? 32 : 8;
  if (f16)
    weighted_rows_t<uint16_t>(p, rows, stride, first_cell, n, dim, lanes, acc, out);
  else
    weighted_rows_t<float>(p, rows, stride, first_cell, n, dim, lanes, acc, out);
}

// The fast decode attention's reference: plain loops in cell order (the AVX2 version sums in other orders
// and uses ggml's vector exp; the tests compare them within a tolerance).
void attn_partial_ref(const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride, bool k16,
                      const uint8_t* v, size_t v_stride, bool v16, int64_t hdv, int64_t n, float scale, float* m,
                      float* l, float* acc, float* scratch) {
  float* s = scratch;  // [g][n]
  for (int64_t c = 0; c < n; c++) {
    const uint8_t* kr = k + (size_t)c * k_stride;
    for (int64_t h = 0; h < g; h++) {
      float d = 0.0f;
      for (int64_t i = 0; i < hd; i++)
        d += (k16 ? f16_to_f32_fast(((const uint16_t*)kr)[i]) : ((const float*)kr)[i]) * q[h * hd + i];
      s[h * n + c] = d * scale;
    }
  }
  for (int64_t h = 0; h < g; h++) {
    float mx = -INFINITY;
    for (int64_t c = 0; c < n; c++) mx = std::max(mx, s[h * n + c]);
    float sum = 0.0f;
    for (int64_t c = 0; c < n; c++) sum += (s[h * n + c] = expf(s[h * n + c] - mx));
    m[h] = mx;
    l[h] = sum;
  }
  std::fill(acc, acc + g * hdv, 0.0f);
  for (int64_t c = 0; c < n; c++) {
    const uint8_t* vr = v + (size_t)c * v_stride;
    for (int64_t h = 0; h < g; h++) {
      const float p = s[h * n + c];
      for (int64_t d = 0; d < hdv; d++)
        acc[h * hdv + d] += p * (v16 ? f16_to_f32_fast(((const uint16_t*)vr)[d]) : ((const float*)vr)[d]);
    }
  }
}

const AttnKernels kScalar{swiglu_ref, round_to_f16_ref, soft_max_exp_ref, dot_f32_ref,
                          dot_f16_ref, dot_rows_ref,     weighted_rows_ref, attn_partial_ref};
// The AVX2 versions (ops/cpu/avx2/attn_avx2.cpp) compute the same lanes in the same order, except
// attn_partial (the fast path, not llama.cpp's order).
const AttnKernels kAvx2{attn_avx2::swiglu,   attn_avx2::round_to_f16, attn_avx2::soft_max_exp,
                        attn_avx2::dot_f32,  attn_avx2::dot_f16,      attn_avx2::dot_rows,
                        attn_avx2::weighted_rows, attn_avx2::attn_partial};

const AttnKernels& active() {
  static const AttnKernels& k = isa_level() >= IsaLevel::Avx2 ? kAvx2 : kScalar;
  return k;
}

}  // namespace

const AttnKernels* attn_kernels(IsaLevel level) {
  if (level == IsaLevel::Scalar) return &kScalar;
  if (level == IsaLevel::Avx2 && cpu_features().has_avx2_set()) return &kAvx2;
  return nullptr;
}

float ggml_expf(float x) { return expf_lane(x); }

void swiglu(const float* gate, const float* up, float* out, int64_t n) { active().swiglu(gate, up, out, n); }
void round_to_f16(const float* x, float scale, float* y, int64_t n) { active().round_to_f16(x, scale, y, n); }
double soft_max_exp(const float* x, float* y, int64_t n, float max) { return active().soft_max_exp(x, y, n, max); }
float dot_f32(const float* x, const float* y, int64_t n) { return active().dot_f32(x, y, n); }
void attn_partial(const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride, bool k16, const uint8_t* v,
                  size_t v_stride, bool v16, int64_t hdv, int64_t n, float scale, float* m, float* l, float* acc,
                  float* scratch) {
  active().attn_partial(q, g, hd, k, k_stride, k16, v, v_stride, v16, hdv, n, scale, m, l, acc, scratch);
}
void fwht_rows(float* x, int64_t total, int64_t n) {
  const float scale = 1.0f / sqrtf((float)n);
  for (int64_t r = 0; r + n <= total; r += n) {
    float* y = x + r;
    for (int64_t j = 0; j < n; j++) y[j] *= scale;
    for (int64_t len = 1; len < n; len <<= 1)
      for (int64_t i = 0; i < n; i += 2 * len)
        for (int64_t j = 0; j < len; j++) {
          const float u = y[i + j], v = y[i + len + j];
          y[i + j] = u + v;
          y[i + len + j] = u - v;
        }
  }
}

void attn_q_scores(const CpuKernels& kt, const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride,
                   GgmlType k_type, int64_t n, float* s) {
  const GgmlType vdt = type_traits(k_type).vec_dot_type;
  const size_t q_bytes = row_size(vdt, hd);
  thread_local std::vector<uint8_t> qq;
  if (qq.size() < (size_t)g * q_bytes) qq.resize((size_t)g * q_bytes);
  // the query heads in the dot kernel's activation type (llama.cpp's q_to_vec_dot)
  FromFloatFn conv = kt.quantize_act[(int)vdt] ? kt.quantize_act[(int)vdt] : type_traits(vdt).from_float;
  for (int64_t h = 0; h < g; h++) conv(q + h * hd, qq.data() + (size_t)h * q_bytes, hd);
  if (MatmulTileFn tile = kt.mm_tile[(int)k_type]) {
    tile(hd, n, g, k, k_stride, qq.data(), q_bytes, s, n);
  } else {
    for (int64_t h = 0; h < g; h++)
      for (int64_t c = 0; c < n; c++) kt.vec_dot[(int)k_type](hd, &s[h * n + c], k + (size_t)c * k_stride, qq.data() + (size_t)h * q_bytes);
  }
}

void attn_partial_q(const CpuKernels& kt, const float* q, int64_t g, int64_t hd, const uint8_t* k, size_t k_stride,
                    GgmlType k_type, const uint8_t* v, size_t v_stride, GgmlType v_type, int64_t hdv, int64_t n,
                    float scale, float* m, float* l, float* acc) {
  // the AVX2 softmax and V for every table above the scalar one (the dot kernels are the table's own)
  if (std::strcmp(kt.isa, "scalar") != 0 && cpu_features().has_avx2_set()) {
    attn_avx2::attn_partial_q(kt, q, g, hd, k, k_stride, k_type, v, v_stride, v_type, hdv, n, scale, m, l, acc);
    return;
  }
  thread_local std::vector<float> s, vrow;
  if ((int64_t)s.size() < g * n) s.resize((size_t)(g * n));
  if ((int64_t)vrow.size() < hdv) vrow.resize((size_t)hdv);
  attn_q_scores(kt, q, g, hd, k, k_stride, k_type, n, s.data());
  for (int64_t h = 0; h < g; h++) {
    float* sh = &s[h * n];
    float mx = -INFINITY;
    for (int64_t c = 0; c < n; c++) mx = std::max(mx, sh[c] *= scale);
    float sum = 0.0f;
    for (int64_t c = 0; c < n; c++) sum += (sh[c] = expf_lane(sh[c] - mx));
    m[h] = mx;
    l[h] = sum;
  }
  std::fill(acc, acc + g * hdv, 0.0f);
  const ToFloatFn to_float = type_traits(v_type).to_float;
  float* vr = vrow.data();
  for (int64_t c = 0; c < n; c++) {
    to_float(v + (size_t)c * v_stride, vr, hdv);
    for (int64_t h = 0; h < g; h++) {
      const float p = s[h * n + c];
      float* a = acc + h * hdv;
      for (int64_t d = 0; d < hdv; d++) a[d] += p * vr[d];
    }
  }
}

float dot_f16(const uint16_t* x, const float* y, int64_t n, bool tinyblas) { return active().dot_f16(x, y, n, tinyblas); }
void dot_rows(const uint8_t* rows, size_t stride, bool f16, int64_t n_rows, const float* y, int64_t n, bool tinyblas,
              float* out) {
  active().dot_rows(rows, stride, f16, n_rows, y, n, tinyblas, out);
}
void weighted_rows(const float* p, const uint8_t* rows, size_t stride, bool f16, int64_t first_cell, int64_t n,
                   int64_t dim, bool single_token, float* acc, float* out) {
  active().weighted_rows(p, rows, stride, f16, first_cell, n, dim, single_token, acc, out);
}

void vec_add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void vec_scale(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] *= s;
}

}  // namespace llama4
