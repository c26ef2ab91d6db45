// CUDA backend seam: device discovery. Kernels (the same block structs as the CPU, each with a CPU twin
// and a comparison test) come with the CUDA backend issue.
#include <cuda_runtime.h>

#include <string>

#include "ops/backend.h"

namespace llama4 {

int cuda_device_count(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error
    return e == cudaErrorNoDevice ? 0 : -1;
  }
  return n;
}

std::string cuda_device_names() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return "";
  std::string s;
  for (int i = 0; i < n; i++) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    if (!s.empty()) s += ", ";
    s += p.name;
    s += " (" + std::to_string(p.totalGlobalMem >> 20) + " MiB)";
  }
  return s;
}

}  // namespace llama4
