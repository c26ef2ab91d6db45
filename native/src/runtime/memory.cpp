#include "runtime/memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/error.h"

namespace llama4 {

static uint64_t meminfo(const char* key) {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  uint64_t kb = 0;
  const size_t kl = std::strlen(key);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, kl) == 0 && line[kl] == ':') {
      unsigned long long v = 0;
      if (std::sscanf(line + kl + 1, "%llu", &v) == 1) kb = v;
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

uint64_t mem_total_bytes() { return meminfo("MemTotal"); }
uint64_t mem_available_bytes() { return meminfo("MemAvailable"); }

void FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

WeightBuffer alloc_weight_buffer(size_t bytes, const char* what) {
  constexpr size_t kHuge = 2u << 20;
  const bool huge = bytes >= kHuge;
  if (bytes > SIZE_MAX - kHuge) LLAMA4_THROW("cannot allocate %zu bytes for %s", bytes, what);
  const size_t alloc = huge ? (bytes + kHuge - 1) & ~(kHuge - 1) : (bytes + 63) & ~(size_t)63;
  uint8_t* p = (uint8_t*)std::aligned_alloc(huge ? kHuge : 64, alloc ? alloc : 64);
  if (!p) LLAMA4_THROW("cannot allocate %.1f MiB for %s", (double)bytes / 1048576.0, what);
  if (huge) madvise(p, alloc, MADV_HUGEPAGE);
  return WeightBuffer(p);
}

}  // namespace llama4
