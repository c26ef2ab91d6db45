// Device-side building blocks shared by the CUDA kernels: error checks, warp reductions, and the weight
// types as seen by the device, one row (one QuantType<T> specialisation) per type of the traits table.
//
// Every quantized type is read in groups of 32 consecutive elements of a row (one Q8_1 activation block
// each, as llama.cpp's CUDA path pairs them): load_group() returns the group's 32 quants as 8 ints of 4
// packed int8 (element order), two scales d[h] and two offsets m[h] (h = elements 0..15 / 16..31) with
//     w_i = d[h] * q_i + m[h]          (m = 0 where the type has no min: has_min = false)
// so that a dot product with a Q8_1 block is d8 * sum_h (d[h] * dp4a(q, q8) + m[h] * sum(q8)), and
// dequantizing with round-to-nearest products (__fmul_rn / __fadd_rn) gives the CPU reference
// dequantizer's bits (ops/quants_ref.cpp computes the same single products and sums).
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "ops/blocks.h"
#include "ops/cuda/kernels.h"
#include "ops/types.h"
#include "runtime/error.h"

namespace llama4 {
namespace cuda {

// A failed launch or call becomes an Error naming the operation and CUDA's message (never an abort).
#define LLAMA4_CUDA_CHECK(call, what)                                                          \
  do {                                                                                        \
    cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) LLAMA4_THROW("CUDA error in %s: %s", what, cudaGetErrorString(e_)); \
  } while (0)
// After a kernel launch: launch-configuration errors (the kernel itself reports at the next sync).
#define LLAMA4_CUDA_LAUNCHED(what) LLAMA4_CUDA_CHECK(cudaGetLastError(), what)

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ int warp_sum_int(int v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide exclusive prefix of a 0/1 flag (blockDim a multiple of 32, at most 1024); *total = the sum.
__device__ __forceinline__ int block_exclusive_scan(bool flag, int* s_warp, int* total) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, n_warps = blockDim.x / kWarp;
  const uint32_t mask = __ballot_sync(0xffffffffu, flag);
  const int in_warp = __popc(mask & ((1u << lane) - 1u));
  if (lane == 0) s_warp[warp] = __popc(mask);
  __syncthreads();
  int before = 0, all = 0;
  for (int w = 0; w < n_warps; w++) {
    if (w < warp) before += s_warp[w];
    all += s_warp[w];
  }
  __syncthreads();  // s_warp may be reused by the next call
  *total = all;
  return before + in_warp;
}

// The weight-group code below is __host__ __device__ so that a host program can check it against the CPU
// reference dequantizers without a GPU; these wrappers are the intrinsics on the device and their
// definitions on the host.
#define LLAMA4_HD __host__ __device__ __forceinline__
#ifdef __CUDA_ARCH__
#define LLAMA4_UNROLL _Pragma("unroll")
#else
#define LLAMA4_UNROLL  // (the host compiler would warn about the pragma)
#endif
LLAMA4_HD int vsub4(int a, int b) {  // per-byte a - b, modulo 256 (__vsub4)
#ifdef __CUDA_ARCH__
  return (int)__vsub4((unsigned)a, (unsigned)b);
#else
  uint32_t r = 0;
  for (int i = 0; i < 4; i++) r |= (uint32_t)(uint8_t)(((uint32_t)a >> (8 * i)) - ((uint32_t)b >> (8 * i))) << (8 * i);
  return (int)r;
#endif
}
LLAMA4_HD int dp4a(int a, int b, int c) {  // c + sum of the 4 signed byte products (__dp4a)
#ifdef __CUDA_ARCH__
  return __dp4a(a, b, c);
#else
  for (int i = 0; i < 4; i++) c += (int)(int8_t)((uint32_t)a >> (8 * i)) * (int)(int8_t)((uint32_t)b >> (8 * i));
  return c;
#endif
}
LLAMA4_HD float fmul_rn(float a, float b) {  // a * b, never fused into an fma
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  volatile float r = a * b;
  return r;
#endif
}
LLAMA4_HD float fadd_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  volatile float r = a + b;
  return r;
#endif
}

LLAMA4_HD float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
LLAMA4_HD uint16_t f2h(float f) { return __half_as_ushort(__float2half_rn(f)); }
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

// 4 bytes at any alignment (block fields are only 2-byte aligned in most types), little-endian.
LLAMA4_HD int ld32(const uint8_t* p) {
  return (int)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}
// 4 bytes at a 2-byte aligned address (llama.cpp's get_int_b2).
LLAMA4_HD int ld32_b2(const uint8_t* p) {
  const uint16_t* q = (const uint16_t*)p;
  return (int)((uint32_t)q[0] | ((uint32_t)q[1] << 16));
}

// The IQ4_NL / IQ4_XS codebook (blocks.h kvalues_iq4nl), in constant memory (a host copy for host checks).
__constant__ static int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static const int8_t kIq4nlHost[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// 4 nibbles (low nibbles of the 4 bytes of v when shift = 0, high when 4) through the IQ4 codebook.
LLAMA4_HD int iq4_lookup4(int v, int shift) {
#ifdef __CUDA_ARCH__
  const int8_t* kIq4 = kIq4nl;
#else
  const int8_t* kIq4 = kIq4nlHost;
#endif
  const uint32_t u = (uint32_t)v >> shift;
  return (int)((uint32_t)(uint8_t)kIq4[u & 0xF] | ((uint32_t)(uint8_t)kIq4[(u >> 8) & 0xF] << 8) |
               ((uint32_t)(uint8_t)kIq4[(u >> 16) & 0xF] << 16) | ((uint32_t)(uint8_t)kIq4[(u >> 24) & 0xF] << 24));
}

// 4 bits of h (bit k -> byte k) placed at bit position `bit` of each byte.
LLAMA4_HD int spread4(uint32_t h, int bit) {
  return (int)(((h & 1u) << bit) | ((h & 2u) << (7 + bit)) | ((h & 4u) << (14 + bit)) | ((h & 8u) << (21 + bit)));
}

struct QGroup {
  int q[8];    // 32 int8 quants, 4 per int, element order
  float d[2];  // scale of elements 0..15 / 16..31
  float m[2];  // offset of elements 0..15 / 16..31 (0 without a min)
};

// Q4_K / Q5_K 6-bit scale/min unpacking (ggml get_scale_min_k4).
LLAMA4_HD void scale_min_k4(int j, const uint8_t* q, int* d, int* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

template <GgmlType T> struct QuantType;

// ---- one row per type: block size, bytes, whether w = d*q + m has an m, and the group loader -------------
template <> struct QuantType<GgmlType::Q4_0> {
  static constexpr int kBlock = QK4_0, kBytes = sizeof(block_q4_0);
  static constexpr bool kHasMin = false;
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q4_0* b = (const block_q4_0*)blk;
LLAMA4_UNROLL
    for (int k = 0; k < 4; k++) {
      const int v = ld32_b2(b->qs + 4 * k);
      g.q[k] = vsub4(v & 0x0F0F0F0F, 0x08080808);
      g.q[k + 4] = vsub4((v >> 4) & 0x0F0F0F0F, 0x08080808);
    }
    g.d[0] = g.d[1] = h2f(b->d);
    g.m[0] = g.m[1] = 0.0f;
  }
};

template <> struct QuantType<GgmlType::Q4_1> {
  static constexpr int kBlock = QK4_1, kBytes = sizeof(block_q4_1);
  static constexpr bool kHasMin = true;
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q4_1* b = (const block_q4_1*)blk;
LLAMA4_UNROLL
    for (int k = 0; k < 4; k++) {
      const int v = ld32_b2(b->qs + 4 * k);
      g.q[k] = v & 0x0F0F0F0F;
      g.q[k + 4] = (v >> 4) & 0x0F0F0F0F;
    }
    g.d[0] = g.d[1] = h2f(b->d);
    g.m[0] = g.m[1] = h2f(b->m);
  }
};

template <> struct QuantType<GgmlType::Q5_0> {
  static constexpr int kBlock = QK5_0, kBytes = sizeof(block_q5_0);
  static constexpr bool kHasMin = false;
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q5_0* b = (const block_q5_0*)blk;
    const uint32_t qh = (uint32_t)ld32_b2(b->qh);
LLAMA4_UNROLL
    for (int k = 0; k < 4; k++) {
      const int v = ld32_b2(b->qs + 4 * k);
      g.q[k] = vsub4((v & 0x0F0F0F0F) | spread4(qh >> (4 * k), 4), 0x10101010);
      g.q[k + 4] = vsub4(((v >> 4) & 0x0F0F0F0F) | spread4(qh >> (16 + 4 * k), 4), 0x10101010);
    }
    g.d[0] = g.d[1] = h2f(b->d);
    g.m[0] = g.m[1] = 0.0f;
  }
};

template <> struct QuantType<GgmlType::Q5_1> {
  static constexpr int kBlock = QK5_1, kBytes = sizeof(block_q5_1);
  static constexpr bool kHasMin = true;
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q5_1* b = (const block_q5_1*)blk;
    const uint32_t qh = (uint32_t)ld32_b2(b->qh);
LLAMA4_UNROLL
    for (int k = 0; k < 4; k++) {
      const int v = ld32_b2(b->qs + 4 * k);
      g.q[k] = (v & 0x0F0F0F0F) | spread4(qh >> (4 * k), 4);
      g.q[k + 4] = ((v >> 4) & 0x0F0F0F0F) | spread4(qh >> (16 + 4 * k), 4);
    }
    g.d[0] = g.d[1] = h2f(b->d);
    g.m[0] = g.m[1] = h2f(b->m);
  }
};

template <> struct QuantType<GgmlType::Q8_0> {
  static constexpr int kBlock = QK8_0, kBytes = sizeof(block_q8_0);
  static constexpr bool kHasMin = false;
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q8_0* b = (const block_q8_0*)blk;
LLAMA4_UNROLL
    for (int k = 0; k < 8; k++) g.q[k] = ld32_b2((const uint8_t*)b->qs + 4 * k);
    g.d[0] = g.d[1] = h2f(b->d);
    g.m[0] = g.m[1] = 0.0f;
  }
};

template <> struct QuantType<GgmlType::Q2_K> {
  static constexpr int kBlock = QK_K, kBytes = sizeof(block_q2_K);
  static constexpr bool kHasMin = true;
  // group sub (0..7): 2-bit field `shift` = 2*(sub%4) of bytes qs[32*(sub/4) ..+32]; scales[2*sub + h]
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q2_K* b = (const block_q2_K*)blk;
    const uint8_t* q = b->qs + 32 * (sub / 4);
    const int shift = 2 * (sub % 4);
LLAMA4_UNROLL
    for (int k = 0; k < 8; k++) g.q[k] = (ld32(q + 4 * k) >> shift) & 0x03030303;
    const float d = h2f(b->d), dmin = h2f(b->dmin);
LLAMA4_UNROLL
    for (int h = 0; h < 2; h++) {
      const int sc = b->scales[2 * sub + h];
      g.d[h] = fmul_rn(d, (float)(sc & 0xF));
      g.m[h] = -fmul_rn(dmin, (float)(sc >> 4));
    }
  }
};

template <> struct QuantType<GgmlType::Q3_K> {
  static constexpr int kBlock = QK_K, kBytes = sizeof(block_q3_K);
  static constexpr bool kHasMin = false;
  // group sub: low 2 bits at shift 2*(sub%4) of qs[32*(sub/4) ..+32], high bit = hmask bit sub (clear: -4)
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q3_K* b = (const block_q3_K*)blk;
    const uint8_t* q = b->qs + 32 * (sub / 4);
    const int shift = 2 * (sub % 4);
LLAMA4_UNROLL
    for (int k = 0; k < 8; k++) {
      const int lo = (ld32(q + 4 * k) >> shift) & 0x03030303;
      const int hi = ((ld32(b->hmask + 4 * k) >> sub) & 0x01010101) << 2;
      g.q[k] = vsub4(lo | hi, 0x04040404);
    }
    const float d = h2f(b->d);
LLAMA4_UNROLL
    for (int h = 0; h < 2; h++) {
      const int s = 2 * sub + h;
      const int low = s < 8 ? (b->scales[s] & 0xF) : (b->scales[s - 8] >> 4);
      const int high = (b->scales[8 + s % 4] >> (2 * (s / 4))) & 3;
      g.d[h] = fmul_rn(d, (float)((low | (high << 4)) - 32));
      g.m[h] = 0.0f;
    }
  }
};

template <> struct QuantType<GgmlType::Q4_K> {
  static constexpr int kBlock = QK_K, kBytes = sizeof(block_q4_K);
  static constexpr bool kHasMin = true;
  // group sub: nibble (sub%2) of qs[32*(sub/2) ..+32]; one scale and min per group
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q4_K* b = (const block_q4_K*)blk;
    const uint8_t* q = b->qs + 32 * (sub / 2);
    const int shift = 4 * (sub % 2);
LLAMA4_UNROLL
    for (int k = 0; k < 8; k++) g.q[k] = (ld32_b2(q + 4 * k) >> shift) & 0x0F0F0F0F;
    int sc, m;
    scale_min_k4(sub, b->scales, &sc, &m);
    g.d[0] = g.d[1] = fmul_rn(h2f(b->d), (float)sc);
    g.m[0] = g.m[1] = -fmul_rn(h2f(b->dmin), (float)m);
  }
};

template <> struct QuantType<GgmlType::Q5_K> {
  static constexpr int kBlock = QK_K, kBytes = sizeof(block_q5_K);
  static constexpr bool kHasMin = true;
  // group sub: nibble (sub%2) of qs[32*(sub/2) ..+32] plus bit sub of qh[0..32] as the 5th bit
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q5_K* b = (const block_q5_K*)blk;
    const uint8_t* q = b->qs + 32 * (sub / 2);
    const int shift = 4 * (sub % 2);
LLAMA4_UNROLL
    for (int k = 0; k < 8; k++) {
      const int hi = ((ld32_b2(b->qh + 4 * k) >> sub) & 0x01010101) << 4;
      g.q[k] = ((ld32_b2(q + 4 * k) >> shift) & 0x0F0F0F0F) | hi;
    }
    int sc, m;
    scale_min_k4(sub, b->scales, &sc, &m);
    g.d[0] = g.d[1] = fmul_rn(h2f(b->d), (float)sc);
    g.m[0] = g.m[1] = -fmul_rn(h2f(b->dmin), (float)m);
  }
};

template <> struct QuantType<GgmlType::Q6_K> {
  static constexpr int kBlock = QK_K, kBytes = sizeof(block_q6_K);
  static constexpr bool kHasMin = false;
  // group sub = 4n + r: low nibble (r/2) of ql[64n + 32*(r%2) ..+32], 2 high bits at 2r of qh[32n ..+32],
  // minus 32; scales[8n + 2r + h]
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_q6_K* b = (const block_q6_K*)blk;
    const int n = sub / 4, r = sub % 4;
    const uint8_t* ql = b->ql + 64 * n + 32 * (r % 2);
    const uint8_t* qh = b->qh + 32 * n;
    const int lshift = 4 * (r / 2), hshift = 2 * r;
LLAMA4_UNROLL
    for (int k = 0; k < 8; k++) {
      const int lo = (ld32_b2(ql + 4 * k) >> lshift) & 0x0F0F0F0F;
      const int hi = ((ld32_b2(qh + 4 * k) >> hshift) & 0x03030303) << 4;
      g.q[k] = vsub4(lo | hi, 0x20202020);
    }
    const float d = h2f(b->d);
LLAMA4_UNROLL
    for (int h = 0; h < 2; h++) {
      g.d[h] = fmul_rn(d, (float)b->scales[8 * n + 2 * r + h]);
      g.m[h] = 0.0f;
    }
  }
};

template <> struct QuantType<GgmlType::IQ4_NL> {
  static constexpr int kBlock = QK4_NL, kBytes = sizeof(block_iq4_nl);
  static constexpr bool kHasMin = false;
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_iq4_nl* b = (const block_iq4_nl*)blk;
LLAMA4_UNROLL
    for (int k = 0; k < 4; k++) {
      const int v = ld32_b2(b->qs + 4 * k);
      g.q[k] = iq4_lookup4(v, 0);
      g.q[k + 4] = iq4_lookup4(v, 4);
    }
    g.d[0] = g.d[1] = h2f(b->d);
    g.m[0] = g.m[1] = 0.0f;
  }
};

template <> struct QuantType<GgmlType::IQ4_XS> {
  static constexpr int kBlock = QK_K, kBytes = sizeof(block_iq4_xs);
  static constexpr bool kHasMin = false;
  // group sub: 16 bytes qs[16*sub ..]; 6-bit scale from scales_l nibble (sub%2) of byte sub/2 and 2 bits of
  // scales_h, minus 32
  LLAMA4_HD static void load(const uint8_t* blk, int sub, QGroup& g) {
    const block_iq4_xs* b = (const block_iq4_xs*)blk;
    const uint8_t* q = b->qs + 16 * sub;
LLAMA4_UNROLL
    for (int k = 0; k < 4; k++) {
      const int v = ld32(q + 4 * k);
      g.q[k] = iq4_lookup4(v, 0);
      g.q[k + 4] = iq4_lookup4(v, 4);
    }
    const int ls = ((b->scales_l[sub / 2] >> (4 * (sub % 2))) & 0xF) | (((b->scales_h >> (2 * sub)) & 3) << 4);
    g.d[0] = g.d[1] = fmul_rn(h2f(b->d), (float)(ls - 32));
    g.m[0] = g.m[1] = 0.0f;
  }
};

// Group gi (32 elements) of a row of type T.
template <GgmlType T>
LLAMA4_HD void load_group(const uint8_t* row, int gi, QGroup& g) {
  using Q = QuantType<T>;
  constexpr int kSub = Q::kBlock / 32;
  QuantType<T>::load(row + (size_t)(gi / kSub) * Q::kBytes, gi % kSub, g);
}

// Element e (0..31) of a loaded group, as the CPU reference dequantizer computes it.
template <GgmlType T>
LLAMA4_HD float group_value(const QGroup& g, int e) {
  const int q = (int)(int8_t)(g.q[e / 4] >> (8 * (e % 4)));
  const float p = fmul_rn(g.d[e / 16], (float)q);
  return QuantType<T>::kHasMin ? fadd_rn(p, g.m[e / 16]) : p;
}

// Q8_1 activation block dot a weight group: d8 * sum_h (d_h * sum q*q8 + m_h * sum q8).
template <GgmlType T>
LLAMA4_HD float group_dot_q8_1(const QGroup& g, const int* q8, float d8) {
  float s = 0.0f;
LLAMA4_UNROLL
  for (int h = 0; h < 2; h++) {
    int si = 0, s8 = 0;
LLAMA4_UNROLL
    for (int k = 4 * h; k < 4 * h + 4; k++) {
      si = dp4a(g.q[k], q8[k], si);
      if (QuantType<T>::kHasMin) s8 = dp4a(0x01010101, q8[k], s8);
    }
    s += g.d[h] * (float)si;
    if (QuantType<T>::kHasMin) s += g.m[h] * (float)s8;
  }
  return d8 * s;
}

// Float weight types read as f32.
template <GgmlType T> __device__ __forceinline__ float float_at(const uint8_t* row, int64_t i);
template <> __device__ __forceinline__ float float_at<GgmlType::F32>(const uint8_t* row, int64_t i) { return ((const float*)row)[i]; }
template <> __device__ __forceinline__ float float_at<GgmlType::F16>(const uint8_t* row, int64_t i) { return h2f(((const uint16_t*)row)[i]); }
template <> __device__ __forceinline__ float float_at<GgmlType::BF16>(const uint8_t* row, int64_t i) { return bf2f(((const uint16_t*)row)[i]); }

// The quantized types with device kernels (X(type)), and the float ones.
#define LLAMA4_CUDA_QUANT_TYPES(X) \
  X(Q4_0) X(Q4_1) X(Q5_0) X(Q5_1) X(Q8_0) X(Q2_K) X(Q3_K) X(Q4_K) X(Q5_K) X(Q6_K) X(IQ4_NL) X(IQ4_XS)
#define LLAMA4_CUDA_FLOAT_TYPES(X) X(F32) X(F16) X(BF16)

template <GgmlType T> constexpr bool kIsFloat = T == GgmlType::F32 || T == GgmlType::F16 || T == GgmlType::BF16;
template <GgmlType T> struct TypeTag {
  static constexpr GgmlType value = T;
};
// Calls f(TypeTag<T>{}) for a weight type T with device kernels (the one switch over types); false for others.
template <class F>
bool with_weight_type(GgmlType t, F&& f) {
  switch (t) {
#define X(T)                   \
  case GgmlType::T:            \
    f(TypeTag<GgmlType::T>{}); \
    return true;
    LLAMA4_CUDA_QUANT_TYPES(X)
    LLAMA4_CUDA_FLOAT_TYPES(X)
#undef X
    default:
      return false;
  }
}

// Blocks of `threads` covering n items.
inline unsigned blocks_for(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

}  // namespace cuda
}  // namespace llama4
