// Generic (scalar) dot products for every weight type: both operands are dequantized block by block with
// the reference dequantizers and multiplied in f32. For quantized types this equals llama.cpp's integer
// dot products up to float summation order (Q4_1 / Q5_1 use the activation's f16 sum term as llama.cpp
// does, and its AVX2 kernel's exact float order, see vec_dot_x_1_q8_1), which makes it the reference the SIMD
// kernels are tested on.
#include <cmath>
#include <cstring>

#include "ops/blocks.h"
#include "ops/cpu/kernels.h"
#include "ops/cpu/ops.h"
#include "ops/quants_ref.h"

namespace llama4 {

namespace {

template <uint32_t TX>
void vec_dot_dequant(int64_t n, float* s, const void* x, const void* y) {
  const TypeTraits& tx = type_traits((GgmlType)TX);
  const TypeTraits& ty = type_traits(tx.vec_dot_type);
  // Chunks of 256 elements: a multiple of every block size used here.
  constexpr int64_t kChunk = 256;
  float bx[kChunk], by[kChunk];
  const uint8_t* px = (const uint8_t*)x;
  const uint8_t* py = (const uint8_t*)y;
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t m = n - i < kChunk ? n - i : kChunk;
    tx.to_float(px, bx, m);
    ty.to_float(py, by, m);
    px += (m / tx.blck_size) * tx.type_size;
    py += (m / ty.blck_size) * ty.type_size;
    float acc = 0.0f;
    for (int64_t j = 0; j < m; j++) acc += bx[j] * by[j];
    sum += acc;
  }
  *s = (float)sum;
}

// Q4_1 / Q5_1 against Q8_1: llama.cpp's algebra dx*dy*sum(q*qy) + mx*sy (spec 2.6), which uses the
// activation block's f16 sum term sy, evaluated in the float order of llama.cpp's AVX2 kernel so that the
// result is bit-identical to it: one 8-lane accumulator where lane m gets, block after block,
// fmaf(dx*dy, sum of q*qy over elements 4m..4m+3, lane m) (exact integer sums: maddubs + madd), reduced as
// hsum_float_8; the mx*sy terms go to a separate float with fmaf (its C code contracted); the result is the
// lane sum plus that. Bit-exactness matters here: this model family re-quantizes every activation, and
// summation-order differences of one ulp grow through rounding flips (see ops/cpu/ops.h).
// q_of(block, e) returns the unsigned quant of element e.
template <typename B, typename Q>
inline float vec_dot_x_1_q8_1(int64_t n, const void* x, const void* y, Q q_of) {
  const B* bx = (const B*)x;
  const block_q8_1* by = (const block_q8_1*)y;
  float lane[8] = {};
  float summs = 0.0f;
  for (int64_t i = 0; i < n / QK8_1; i++) {
    const float d = fp16_to_fp32(bx[i].d) * fp16_to_fp32(by[i].d);
    summs = fmaf(fp16_to_fp32(bx[i].m), fp16_to_fp32(by[i].s), summs);
    for (int m = 0; m < 8; m++) {
      int32_t sumi = 0;
      for (int e = 4 * m; e < 4 * m + 4; e++) sumi += q_of(bx[i], e) * by[i].qs[e];
      lane[m] = fmaf(d, (float)sumi, lane[m]);
    }
  }
  const float t0 = lane[0] + lane[4], t1 = lane[1] + lane[5], t2 = lane[2] + lane[6], t3 = lane[3] + lane[7];
  return ((t0 + t2) + (t1 + t3)) + summs;
}

LLAMA4_FMA_CLONES
void vec_dot_q4_1_q8_1(int64_t n, float* s, const void* x, const void* y) {
  *s = vec_dot_x_1_q8_1<block_q4_1>(n, x, y, [](const block_q4_1& b, int e) {
    return e < 16 ? b.qs[e] & 0x0F : b.qs[e - 16] >> 4;
  });
}

LLAMA4_FMA_CLONES
void vec_dot_q5_1_q8_1(int64_t n, float* s, const void* x, const void* y) {
  *s = vec_dot_x_1_q8_1<block_q5_1>(n, x, y, [](const block_q5_1& b, int e) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    const int lo = e < 16 ? b.qs[e] & 0x0F : b.qs[e - 16] >> 4;
    return lo | (int)(((qh >> e) & 1) << 4);
  });
}

template <uint32_t... Ids>
void fill(CpuKernels& k) {
  ((k.vec_dot[Ids] = type_traits((GgmlType)Ids).to_float ? &vec_dot_dequant<Ids> : nullptr), ...);
  k.vec_dot[(int)GgmlType::Q4_1] = &vec_dot_q4_1_q8_1;
  k.vec_dot[(int)GgmlType::Q5_1] = &vec_dot_q5_1_q8_1;
}

}  // namespace

void init_generic_kernels(CpuKernels& k) {
  fill<0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 30>(k);
  for (uint32_t i = 0; i < kGgmlTypeCount; i++) k.quantize_act[i] = nullptr;
  k.quantize_act[(int)GgmlType::F32] = from_float_f32;
  k.quantize_act[(int)GgmlType::F16] = from_float_f16;
  k.quantize_act[(int)GgmlType::BF16] = from_float_bf16;
  k.quantize_act[(int)GgmlType::Q8_0] = quantize_q8_0_act;
  k.quantize_act[(int)GgmlType::Q8_1] = quantize_q8_1_act;
  k.quantize_act[(int)GgmlType::Q8_K] = quantize_q8_k_ref;
}

}  // namespace llama4
