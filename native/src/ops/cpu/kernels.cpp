#include "ops/cpu/kernels.h"

#include <array>

namespace llama4 {

namespace {
std::array<CpuKernels, 3> build_tables() {
  std::array<CpuKernels, 3> t{};
  init_generic_kernels(t[0]);
  t[0].isa = "scalar";
  t[1] = t[0];
  t[1].isa = "avx2";
  t[2] = t[0];
  t[2].isa = "avx512";
  const CpuFeatures& f = cpu_features();
  if (f.has_avx2_set()) {
    init_avx2_kernels(t[1]);
    init_avx2_kernels(t[2]);
  }
  if (f.has_avx512_set()) init_avx512_kernels(t[2]);
  return t;
}
}  // namespace

const CpuKernels& cpu_kernels(IsaLevel level) {
  static const std::array<CpuKernels, 3> tables = build_tables();
  return tables[(int)level];
}

}  // namespace llama4
