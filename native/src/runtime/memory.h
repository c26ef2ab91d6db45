// Physical memory figures from /proc/meminfo (0 when unknown), for refusing models that cannot fit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace llama4 {
uint64_t mem_total_bytes();
uint64_t mem_available_bytes();

// An owned buffer for weights the kernels stream every token: 2 MiB aligned and advised to transparent
// huge pages when it is at least that large (THP "madvise" mode), else 64-byte aligned. Throws on failure.
struct FreeDeleter {
  void operator()(uint8_t* p) const;
};
using WeightBuffer = std::unique_ptr<uint8_t, FreeDeleter>;
WeightBuffer alloc_weight_buffer(size_t bytes, const char* what);
}  // namespace llama4
