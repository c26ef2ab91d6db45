// The device queries of ops/backend.h for the emulated addon: one device.
#include <cstddef>
#include <string>

namespace llama4 {
int cuda_device_count(std::string*) { return 1; }
std::string cuda_device_names() { return "SIMT emulator (test/cuda/emu)"; }
bool cuda_device_memory(int, size_t*, size_t*) { return false; }
}  // namespace llama4
