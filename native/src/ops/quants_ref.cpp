// Scalar reference (de)quantizers, exact to ggml's dequantize_row_* / quantize_row_*_ref (spec 2.2-2.6).
// The float expressions keep ggml's evaluation order (e.g. Q2_K computes dl = d*scale first, then
// dl*q - ml), since a different association changes the last bit. ggml's reference functions are
// compiled without FMA, so multiply-add contraction is switched off here even if someone builds this
// file with -march=native / -mfma (GCC contracts a*b+c by default in GNU mode).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "ops/quants_ref.h"

#include <cmath>
#include <cstring>

#include "ops/blocks.h"
#include "ops/types.h"

namespace llama4 {

namespace {

inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
inline uint16_t f2h(float f) { return fp32_to_fp16(f); }

// ggml's nearest_int: round to nearest even via the 1.5*2^23 trick (valid for |f| <= 4194303).
inline int nearest_int(float fval) {
  float val = fval + 12582912.f;
  int32_t i;
  std::memcpy(&i, &val, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// Q4_K / Q5_K 6-bit scale/min unpacking (ggml get_scale_min_k4).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

inline uint32_t load_u32_le(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

inline void store_u32_le(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

}  // namespace

// ---- float formats ------------------------------------------------------------------------------------

void to_float_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, (size_t)n * sizeof(float)); }

void to_float_f16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = (const uint8_t*)src;
  for (int64_t i = 0; i < n; i++) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}

void to_float_bf16(const void* src, float* dst, int64_t n) {
  const uint8_t* p = (const uint8_t*)src;
  for (int64_t i = 0; i < n; i++) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}

void from_float_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, (size_t)n * sizeof(float)); }

void from_float_f16(const float* src, void* dst, int64_t n) {
  uint8_t* p = (uint8_t*)dst;
  for (int64_t i = 0; i < n; i++) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

void from_float_bf16(const float* src, void* dst, int64_t n) {
  uint8_t* p = (uint8_t*)dst;
  for (int64_t i = 0; i < n; i++) {
    const uint16_t h = fp32_to_bf16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

// ---- legacy 32-element blocks -------------------------------------------------------------------------

void dequantize_q4_0(const void* src, float* y, int64_t n) {
  const block_q4_0* x = (const block_q4_0*)src;
  const int64_t nb = n / QK4_0;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const int x0 = (x[i].qs[j] & 0x0F) - 8;
      const int x1 = (x[i].qs[j] >> 4) - 8;
      y[i * QK4_0 + j] = x0 * d;
      y[i * QK4_0 + j + QK4_0 / 2] = x1 * d;
    }
  }
}

void dequantize_q4_1(const void* src, float* y, int64_t n) {
  const block_q4_1* x = (const block_q4_1*)src;
  const int64_t nb = n / QK4_1;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    const float m = h2f(x[i].m);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const int x0 = x[i].qs[j] & 0x0F;
      const int x1 = x[i].qs[j] >> 4;
      y[i * QK4_1 + j] = x0 * d + m;
      y[i * QK4_1 + j + QK4_1 / 2] = x1 * d + m;
    }
  }
}

void dequantize_q5_0(const void* src, float* y, int64_t n) {
  const block_q5_0* x = (const block_q5_0*)src;
  const int64_t nb = n / QK5_0;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    const uint32_t qh = load_u32_le(x[i].qh);
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const uint8_t xh_0 = (uint8_t)(((qh >> (j + 0)) << 4) & 0x10);
      const uint8_t xh_1 = (uint8_t)(((qh >> (j + 12))) & 0x10);
      const int x0 = ((x[i].qs[j] & 0x0F) | xh_0) - 16;
      const int x1 = ((x[i].qs[j] >> 4) | xh_1) - 16;
      y[i * QK5_0 + j] = x0 * d;
      y[i * QK5_0 + j + QK5_0 / 2] = x1 * d;
    }
  }
}

void dequantize_q5_1(const void* src, float* y, int64_t n) {
  const block_q5_1* x = (const block_q5_1*)src;
  const int64_t nb = n / QK5_1;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    const float m = h2f(x[i].m);
    const uint32_t qh = load_u32_le(x[i].qh);
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const uint8_t xh_0 = (uint8_t)(((qh >> (j + 0)) << 4) & 0x10);
      const uint8_t xh_1 = (uint8_t)(((qh >> (j + 12))) & 0x10);
      const int x0 = (x[i].qs[j] & 0x0F) | xh_0;
      const int x1 = (x[i].qs[j] >> 4) | xh_1;
      y[i * QK5_1 + j] = x0 * d + m;
      y[i * QK5_1 + j + QK5_1 / 2] = x1 * d + m;
    }
  }
}

void dequantize_q8_0(const void* src, float* y, int64_t n) {
  const block_q8_0* x = (const block_q8_0*)src;
  const int64_t nb = n / QK8_0;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < QK8_0; ++j) y[i * QK8_0 + j] = x[i].qs[j] * d;
  }
}

void dequantize_q8_1(const void* src, float* y, int64_t n) {
  const block_q8_1* x = (const block_q8_1*)src;
  const int64_t nb = n / QK8_1;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < QK8_1; ++j) y[i * QK8_1 + j] = x[i].qs[j] * d;
  }
}

// ---- K-quants -----------------------------------------------------------------------------------------

void dequantize_q2_k(const void* src, float* y, int64_t n) {
  const block_q2_K* x = (const block_q2_K*)src;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    const float min = h2f(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int n128 = 0; n128 < QK_K; n128 += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        uint8_t sc = x[i].scales[is++];
        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
        sc = x[i].scales[is++];
        dl = d * (sc & 0xF);
        ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
        shift += 2;
      }
      q += 32;
    }
  }
}

void dequantize_q3_k(const void* src, float* y, int64_t n) {
  const block_q3_K* x = (const block_q3_K*)src;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const float d_all = h2f(x[i].d);
    const uint8_t* b = x[i].scales;
    // Sixteen 6-bit scales: low 4 bits from bytes 0..7 (low nibbles for 0..7, high nibbles for 8..15),
    // high 2 bits from bytes 8..11; stored with +32 bias.
    int8_t scales[16];
    for (int s = 0; s < 16; s++) {
      const int low = s < 8 ? (b[s] & 0xF) : (b[s - 8] >> 4);
      const int high = (b[8 + s % 4] >> (2 * (s / 4))) & 3;
      scales[s] = (int8_t)((low | (high << 4)) - 32);
    }
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int n128 = 0; n128 < QK_K; n128 += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        float dl = d_all * scales[is++];
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
        dl = d_all * scales[is++];
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        shift += 2;
        m = (uint8_t)(m << 1);
      }
      q += 32;
    }
  }
}

void dequantize_q4_k(const void* src, float* y, int64_t n) {
  const block_q4_K* x = (const block_q4_K*)src;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t* q = x[i].qs;
    const float d = h2f(x[i].d);
    const float min = h2f(x[i].dmin);
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < QK_K; j += 64) {
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc;
      const float m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc;
      const float m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

void dequantize_q5_k(const void* src, float* y, int64_t n) {
  const block_q5_K* x = (const block_q5_K*)src;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const float d = h2f(x[i].d);
    const float min = h2f(x[i].dmin);
    int is = 0;
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < QK_K; j += 64) {
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc;
      const float m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc;
      const float m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 = (uint8_t)(u1 << 2);
      u2 = (uint8_t)(u2 << 2);
    }
  }
}

void dequantize_q6_k(const void* src, float* y, int64_t n) {
  const block_q6_K* x = (const block_q6_K*)src;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const float d = h2f(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n128 = 0; n128 < QK_K; n128 += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

void dequantize_q8_k(const void* src, float* y, int64_t n) {
  const block_q8_K* x = (const block_q8_K*)src;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    for (int j = 0; j < QK_K; ++j) *y++ = x[i].d * x[i].qs[j];
  }
}

// ---- IQ4 ----------------------------------------------------------------------------------------------

void dequantize_iq4_nl(const void* src, float* y, int64_t n) {
  const block_iq4_nl* x = (const block_iq4_nl*)src;
  const int64_t nb = n / QK4_NL;
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t* qs = x[i].qs;
    const float d = h2f(x[i].d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
      y[j] = d * kvalues_iq4nl[qs[j] & 0xf];
      y[j + QK4_NL / 2] = d * kvalues_iq4nl[qs[j] >> 4];
    }
    y += QK4_NL;
  }
}

void dequantize_iq4_xs(const void* src, float* y, int64_t n) {
  const block_iq4_xs* x = (const block_iq4_xs*)src;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t* qs = x[i].qs;
    const float d = h2f(x[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * (ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j + 0] = dl * kvalues_iq4nl[qs[j] & 0xf];
        y[j + 16] = dl * kvalues_iq4nl[qs[j] >> 4];
      }
      y += 32;
      qs += 16;
    }
  }
}

// ---- reference quantizers (ggml quantize_row_*_ref) ---------------------------------------------------

void quantize_q4_0_ref(const float* x, void* dst, int64_t n) {
  block_q4_0* y = (block_q4_0*)dst;
  const int qk = QK4_0;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; i++) {
    float amax = 0.0f;  // absolute max
    float max = 0.0f;   // the value with that |x|, sign kept
    for (int j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      if (amax < std::fabs(v)) {
        amax = std::fabs(v);
        max = v;
      }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = x[i * qk + 0 + j] * id;
      const float x1 = x[i * qk + qk / 2 + j] * id;
      const int8_t t0 = (int8_t)(x0 + 8.5f), t1 = (int8_t)(x1 + 8.5f);
      const uint8_t xi0 = (uint8_t)(t0 < 15 ? t0 : 15);
      const uint8_t xi1 = (uint8_t)(t1 < 15 ? t1 : 15);
      y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
    }
  }
}

void quantize_q4_1_ref(const float* x, void* dst, int64_t n) {
  block_q4_1* y = (block_q4_1*)dst;
  const int qk = QK4_1;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; i++) {
    float min = 3.402823466e+38F;
    float max = -3.402823466e+38F;
    for (int j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    y[i].m = f2h(min);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = (x[i * qk + 0 + j] - min) * id;
      const float x1 = (x[i * qk + qk / 2 + j] - min) * id;
      const int8_t t0 = (int8_t)(x0 + 0.5f), t1 = (int8_t)(x1 + 0.5f);
      const uint8_t xi0 = (uint8_t)(t0 < 15 ? t0 : 15);
      const uint8_t xi1 = (uint8_t)(t1 < 15 ? t1 : 15);
      y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
    }
  }
}

void quantize_q5_0_ref(const float* x, void* dst, int64_t n) {
  block_q5_0* y = (block_q5_0*)dst;
  const int qk = QK5_0;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; i++) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      if (amax < std::fabs(v)) {
        amax = std::fabs(v);
        max = v;
      }
    }
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    uint32_t qh = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = x[i * qk + 0 + j] * id;
      const float x1 = x[i * qk + qk / 2 + j] * id;
      const int8_t t0 = (int8_t)(x0 + 16.5f), t1 = (int8_t)(x1 + 16.5f);
      const uint8_t xi0 = (uint8_t)(t0 < 31 ? t0 : 31);
      const uint8_t xi1 = (uint8_t)(t1 < 31 ? t1 : 31);
      y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
      qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
    }
    store_u32_le(y[i].qh, qh);
  }
}

void quantize_q5_1_ref(const float* x, void* dst, int64_t n) {
  block_q5_1* y = (block_q5_1*)dst;
  const int qk = QK5_1;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; i++) {
    float min = 3.402823466e+38F;
    float max = -3.402823466e+38F;
    for (int j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    y[i].m = f2h(min);
    uint32_t qh = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = (x[i * qk + 0 + j] - min) * id;
      const float x1 = (x[i * qk + qk / 2 + j] - min) * id;
      const uint8_t xi0 = (uint8_t)(x0 + 0.5f);  // no clamp in ggml (max-min)/31 keeps it <= 31
      const uint8_t xi1 = (uint8_t)(x1 + 0.5f);
      y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
      qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
    }
    store_u32_le(y[i].qh, qh);
  }
}

void quantize_q8_0_ref(const float* x, void* dst, int64_t n) {
  block_q8_0* y = (block_q8_0*)dst;
  const int64_t nb = n / QK8_0;
  for (int64_t i = 0; i < nb; i++) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
      const float v = x[i * QK8_0 + j];
      amax = amax > std::fabs(v) ? amax : std::fabs(v);  // ggml MAX()
    }
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    for (int j = 0; j < QK8_0; ++j) {
      const float x0 = x[i * QK8_0 + j] * id;
      y[i].qs[j] = (int8_t)std::round(x0);
    }
  }
}

void quantize_q8_1_ref(const float* x, void* dst, int64_t n) {
  block_q8_1* y = (block_q8_1*)dst;
  const int64_t nb = n / QK8_1;
  for (int64_t i = 0; i < nb; i++) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_1; j++) {
      const float v = x[i * QK8_1 + j];
      amax = amax > std::fabs(v) ? amax : std::fabs(v);  // ggml MAX()
    }
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    int sum = 0;
    for (int j = 0; j < QK8_1 / 2; ++j) {
      const float v0 = x[i * QK8_1 + j] * id;
      const float v1 = x[i * QK8_1 + QK8_1 / 2 + j] * id;
      y[i].qs[j] = (int8_t)std::round(v0);
      y[i].qs[QK8_1 / 2 + j] = (int8_t)std::round(v1);
      sum += y[i].qs[j];
      sum += y[i].qs[QK8_1 / 2 + j];
    }
    y[i].s = f2h(sum * d);
  }
}

void quantize_q8_k_ref(const float* x, void* dst, int64_t n) {
  block_q8_K* y = (block_q8_K*)dst;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      // ggml leaves bsums untouched here; zero them so the block is fully defined (and consistent).
      std::memset(&y[i], 0, sizeof(block_q8_K));
      x += QK_K;
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = (int16_t)sum;
    }
    y[i].d = 1 / iscale;
    x += QK_K;
  }
}

// ---- activation quantizers (llama.cpp x86 AVX path) ---------------------------------------------------

namespace {

// One 32-value block as the AVX code does it: d = amax/127, id = 127/amax, RNE rounding of x*id.
// Returns the integer sum of the quants; *d_f32 gets the unrounded d.
inline int quantize_block_q8_act(const float* x, uint16_t* d_out, int8_t* qs, float* d_f32) {
  float amax = 0.0f;
  for (int j = 0; j < 32; j++) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax / 127.f;
  *d_out = f2h(d);
  *d_f32 = d;
  const float id = (amax != 0.0f) ? 127.f / amax : 0.0f;
  int sum = 0;
  for (int j = 0; j < 32; j++) {
    const float v = x[j] * id;
    // default rounding mode: nearest, ties to even; |v| <= 127 unless an activation is not finite or amax
    // is so small that 127 / amax overflows: v is then NaN or infinite, which the SIMD paths turn into
    // -128 (cvtps2dq's INT_MIN, saturated by the packs); the same here, as defined behaviour
    const int q = (v >= -128.0f && v <= 128.0f) ? (int)std::nearbyint(v) : -128;
    qs[j] = (int8_t)q;
    sum += q;
  }
  return sum;
}

}  // namespace

void quantize_q8_0_act(const float* x, void* dst, int64_t n) {
  block_q8_0* y = (block_q8_0*)dst;
  const int64_t nb = n / QK8_0;
  float d;
  for (int64_t i = 0; i < nb; i++) quantize_block_q8_act(x + i * QK8_0, &y[i].d, y[i].qs, &d);
}

void quantize_q8_1_act(const float* x, void* dst, int64_t n) {
  block_q8_1* y = (block_q8_1*)dst;
  const int64_t nb = n / QK8_1;
  for (int64_t i = 0; i < nb; i++) {
    float d;
    const int sum = quantize_block_q8_act(x + i * QK8_1, &y[i].d, y[i].qs, &d);
    y[i].s = f2h(d * (float)sum);
  }
}

}  // namespace llama4
