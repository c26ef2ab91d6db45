#include "runtime/memory.h"

#include <cstdio>
#include <cstring>

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

}  // namespace llama4
