// Physical memory figures from /proc/meminfo (0 when unknown), for refusing models that cannot fit.
#pragma once
#include <cstdint>

namespace llama4 {
uint64_t mem_total_bytes();
uint64_t mem_available_bytes();
}  // namespace llama4
