#include "runtime/cpu_features.h"

#include <cpuid.h>
#include <cstdlib>
#include <cstring>

namespace llama4 {

namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (!osxsave || !avx) return CpuFeatures{};
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = (xcr0 & 0xE6) == 0xE6;
  const bool os_amx = (xcr0 & (3ull << 17)) == (3ull << 17);
  if (!os_avx) return CpuFeatures{};
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = b & (1u << 5);
  if (os_avx512) {
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
  }
  if (os_amx) {
    f.amx_bf16 = d & (1u << 22);
    f.amx_int8 = d & (1u << 25);
  }
  __cpuid_count(7, 1, a, b, c, d);
  f.avxvnni = a & (1u << 4);
  if (os_avx512) f.avx512bf16 = a & (1u << 5);
  return f;
}

}  // namespace

std::string CpuFeatures::describe() const {
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += n;
  };
  add(avx2, "AVX2");
  add(fma, "FMA");
  add(f16c, "F16C");
  add(avx512f, "AVX512F");
  add(avx512bw, "AVX512BW");
  add(avx512vl, "AVX512VL");
  add(avx512dq, "AVX512DQ");
  add(avx512vnni, "AVX512_VNNI");
  add(avx512bf16, "AVX512_BF16");
  add(avxvnni, "AVX_VNNI");
  add(amx_int8, "AMX_INT8");
  add(amx_bf16, "AMX_BF16");
  return s.empty() ? "none" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

IsaLevel isa_level() {
  static const IsaLevel level = [] {
    const CpuFeatures& f = cpu_features();
    IsaLevel l = f.has_avx512_set() ? IsaLevel::Avx512 : f.has_avx2_set() ? IsaLevel::Avx2 : IsaLevel::Scalar;
    if (const char* env = std::getenv("LLAMA4_ISA")) {
      IsaLevel want = l;
      if (!std::strcmp(env, "scalar")) want = IsaLevel::Scalar;
      else if (!std::strcmp(env, "avx2")) want = IsaLevel::Avx2;
      if ((int)want < (int)l) l = want;
    }
    return l;
  }();
  return level;
}

const char* isa_name(IsaLevel l) {
  switch (l) {
    case IsaLevel::Avx512: return "avx512";
    case IsaLevel::Avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace llama4
