// Compute backends. The CPU backend is always built; a CUDA backend is compiled in when the toolkit is
// found (CMake LLAMA4_CUDA) and is usable only when a device is present at run time. Architecture
// files describe the graph; which backend runs an op is decided by a placement plan, not by them.
#pragma once
#include <string>
#include <vector>

namespace llama4 {

struct BackendInfo {
  std::string name;         // "cpu", "cuda"
  bool compiled = false;    // built into this addon
  bool available = false;   // usable now (a device is present)
  int devices = 0;
  std::string detail;       // CPU features or device names, or why it is unavailable
  std::string archs;        // cuda: the architectures compiled for, e.g. "90" or "75,80,86,89,90,100,120"
  double free_bytes = 0, total_bytes = 0;  // cuda: memory of device 0 when available
};

std::vector<BackendInfo> list_backends();

#ifdef LLAMA4_WITH_CUDA
// Implemented in ops/cuda/ (nvcc). Returns the device count, or -1 with `why` set.
int cuda_device_count(std::string* why);
std::string cuda_device_names();
// Free and total memory of device `dev` (cudaMemGetInfo); false when it cannot be read.
bool cuda_device_memory(int dev, size_t* free_bytes, size_t* total_bytes);
#endif

}  // namespace llama4
