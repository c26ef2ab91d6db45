// Generic (scalar) dot products for every weight type: both operands are dequantized block by block with
// the reference dequantizers and multiplied in f32. For quantized types this equals llama.cpp's integer
// dot products up to float summation order (Q4_1 / Q5_1 use the activation's f16 sum term as llama.cpp
// does, see vec_dot_q8_1_pair), which makes it the reference the SIMD kernels are tested on.
#include <cstring>

#include "ops/blocks.h"
#include "ops/cpu/kernels.h"
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
// activation block's f16 sum term sy. Dequantizing x fully (q*dx + mx) would give mx*dy*sum(qy) instead,
// which differs from llama.cpp by the f16 rounding of sy (~1e-4 relative). The integer quants q are
// obtained from the reference dequantizer on a copy of the block with d = 1 and m = 0 (exact).
template <uint32_t TX>
void vec_dot_q8_1_pair(int64_t n, float* s, const void* x, const void* y) {
  const TypeTraits& tx = type_traits((GgmlType)TX);
  const size_t xs = tx.type_size;
  const int64_t nb = n / tx.blck_size;  // 32, like Q8_1
  const uint8_t* px = (const uint8_t*)x;
  const block_q8_1* py = (const block_q8_1*)y;
  double sum = 0.0;
  for (int64_t i = 0; i < nb; i++) {
    uint8_t blk[32];
    std::memcpy(blk, px + (size_t)i * xs, xs);
    uint16_t dx, mx;
    std::memcpy(&dx, blk, 2);
    std::memcpy(&mx, blk + 2, 2);
    const uint16_t one = 0x3C00, zero = 0;
    std::memcpy(blk, &one, 2);
    std::memcpy(blk + 2, &zero, 2);
    float q[QK8_1];
    tx.to_float(blk, q, QK8_1);
    int sumi = 0;
    for (int j = 0; j < QK8_1; j++) sumi += (int)q[j] * py[i].qs[j];
    const float dxy = fp16_to_fp32(dx) * fp16_to_fp32(py[i].d);
    sum += (double)(dxy * (float)sumi) + (double)(fp16_to_fp32(mx) * fp16_to_fp32(py[i].s));
  }
  *s = (float)sum;
}

template <uint32_t... Ids>
void fill(CpuKernels& k) {
  ((k.vec_dot[Ids] = type_traits((GgmlType)Ids).to_float ? &vec_dot_dequant<Ids> : nullptr), ...);
  k.vec_dot[(int)GgmlType::Q4_1] = &vec_dot_q8_1_pair<(uint32_t)GgmlType::Q4_1>;
  k.vec_dot[(int)GgmlType::Q5_1] = &vec_dot_q8_1_pair<(uint32_t)GgmlType::Q5_1>;
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
