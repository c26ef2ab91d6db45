// Device memory and synchronisation for the kernel library's callers: every CUDA failure becomes a
// llama4::Error carrying CUDA's message (the addon turns it into a JS exception; nothing aborts).
#include "ops/cuda/common.cuh"

namespace llama4 {
namespace cuda {

void* dev_alloc(size_t bytes) {
  void* p = nullptr;
  LLAMA4_CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  return p;
}

void dev_free(void* p) noexcept {
  if (p) cudaFree(p);
}

void to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) LLAMA4_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to device");
}

void to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) LLAMA4_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy to host");
}

void dev_zero(void* p, size_t bytes) {
  if (bytes) LLAMA4_CUDA_CHECK(cudaMemset(p, 0, bytes), "cudaMemset");
}

void sync_check(const char* what) {
  LLAMA4_CUDA_CHECK(cudaGetLastError(), what);
  LLAMA4_CUDA_CHECK(cudaDeviceSynchronize(), what);
}

}  // namespace cuda
}  // namespace llama4
