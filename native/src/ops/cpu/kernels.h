// CPU kernel tables, one per ISA level. The generic (scalar) table is the reference and is complete for
// every type the type-traits table can dequantize; the AVX2 / AVX-512 tables start as copies of it and
// override what they accelerate. Every override is tested against the generic kernel on odd sizes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/packed.h"
#include "ops/types.h"
#include "runtime/cpu_features.h"

namespace llama4 {

// s = dot(x, y) over n elements: x packed in a weight type, y packed in that type's vec_dot_type.
using VecDotFn = void (*)(int64_t n, float* s, const void* x, const void* y);

// Tiled matmul: s[t * ss + r] = dot(row r of x, row t of y) for r < nr (x rows bx bytes apart), t < nt (y rows,
// already converted to the vec_dot_type, by bytes apart). Every output must be BIT-IDENTICAL to vec_dot of
// the same table (tested on odd shapes); nullptr = no tiled kernel (matmul calls vec_dot per output).
using MatmulTileFn = void (*)(int64_t n, int64_t nr, int64_t nt, const void* x, size_t bx, const void* y, size_t by,
                              float* s, int64_t ss);

struct CpuKernels {
  const char* isa;
  VecDotFn vec_dot[kGgmlTypeCount];       // indexed by weight type
  MatmulTileFn mm_tile[kGgmlTypeCount];   // indexed by weight type; must match vec_dot exactly
  // F32 / F16 / BF16 weights only: llamafile's tinyBLAS order (ONE 8-lane FMA chain per output over 8-element
  // steps, then its hsum), which llama.cpp's mul_mat takes for >= 2 tokens when n % 8 == 0 and the matrix has
  // a multiple of 4 rows (matmul.h, BatchOrder). Same signature as mm_tile; n % 8 == 0 always; every ISA's
  // kernel equals the generic one bit for bit.
  MatmulTileFn mm_tinyblas[kGgmlTypeCount];
  FromFloatFn quantize_act[kGgmlTypeCount];  // indexed by activation (vec_dot) type: llama.cpp's x86 rounding
  // Kernels over packed weight groups (ops/packed.h), indexed by weight type; the generic table holds the
  // scalar reference, which every ISA's kernel must equal bit for bit. nullptr = this type is not packed.
  PackedMatmulFn mm_packed[kGgmlTypeCount];
};

const CpuKernels& cpu_kernels(IsaLevel level);
inline const CpuKernels& cpu_kernels() { return cpu_kernels(isa_level()); }

// Fill-ins, defined per ISA directory.
void init_generic_kernels(CpuKernels& k);
void init_avx2_kernels(CpuKernels& k);    // ops/cpu/avx2
void init_avx512_kernels(CpuKernels& k);  // ops/cpu/avx512

}  // namespace llama4
