// CUDA device memory for the placement planner: what cudaMemGetInfo says is free on a device.
#include <cuda_runtime.h>

#include "ops/backend.h"

namespace llama4 {

bool cuda_device_memory(int dev, size_t* free_bytes, size_t* total_bytes) {
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  bool ok = cudaSetDevice(dev) == cudaSuccess && cudaMemGetInfo(free_bytes, total_bytes) == cudaSuccess;
  if (!ok) cudaGetLastError();  // clear the error state for the next call
  cudaSetDevice(prev);
  return ok;
}

}  // namespace llama4
