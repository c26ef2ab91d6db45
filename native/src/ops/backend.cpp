#include "ops/backend.h"

#include "runtime/cpu_features.h"

namespace llama4 {

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> out;
  BackendInfo cpu;
  cpu.name = "cpu";
  cpu.compiled = cpu.available = true;
  cpu.devices = 1;
  cpu.detail = std::string("kernels ") + isa_name(isa_level()) + "; features " + cpu_features().describe();
  out.push_back(cpu);

  BackendInfo cuda;
  cuda.name = "cuda";
#ifdef LLAMA4_WITH_CUDA
  cuda.compiled = true;
  std::string why;
  int n = cuda_device_count(&why);
  cuda.available = n > 0;
  cuda.devices = n > 0 ? n : 0;
  // cudart says "driver version is insufficient" where no NVIDIA driver is installed at all
  if (n < 0 && why.find("driver version is insufficient") != std::string::npos) why = "no NVIDIA driver or GPU (cudart: " + why + ")";
  cuda.detail = n > 0 ? cuda_device_names() : (n == 0 ? "no CUDA device" : why);
  cuda.archs = LLAMA4_CUDA_ARCHS_TEXT;
  if (n > 0) {
    size_t free_b = 0, total_b = 0;
    if (cuda_device_memory(0, &free_b, &total_b)) {
      cuda.free_bytes = (double)free_b;
      cuda.total_bytes = (double)total_b;
    }
  }
#else
  cuda.detail = "not compiled (LLAMA4_CUDA=OFF or no CUDA toolkit at build time)";
#endif
  out.push_back(cuda);
  return out;
}

}  // namespace llama4
