// Run-time CPU feature detection; kernels are chosen from these flags, never from compile-time macros.
#pragma once
#include <string>

namespace llama4 {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  bool amx_int8 = false, amx_bf16 = false;
  // The AVX-512 kernel set needs all of F/BW/VL/DQ/VNNI.
  bool has_avx512_set() const { return avx512f && avx512bw && avx512vl && avx512dq && avx512vnni; }
  bool has_avx2_set() const { return avx2 && fma && f16c; }
  std::string describe() const;  // e.g. "AVX2 FMA F16C AVX512F ... "
};

const CpuFeatures& cpu_features();

// Kernel level actually in use: "avx512", "avx2" or "scalar". LLAMA4_ISA=scalar|avx2|avx512 in the
// environment lowers it (for testing the fallbacks on a capable host); it never raises it.
enum class IsaLevel { Scalar = 0, Avx2 = 1, Avx512 = 2 };
IsaLevel isa_level();
const char* isa_name(IsaLevel l);

}  // namespace llama4
