// Shared pieces of the fuzz targets: inputs as files the loaders can open by path (a memfd, or files with
// chosen names in a private tmpfs directory for split sets), and the rule every target checks: a hostile
// input may only end in llama4::Error. Anything else (another exception type, a sanitizer report, a leak,
// an allocation past libFuzzer's -malloc_limit_mb, a hang past -timeout) is a finding.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/error.h"

namespace llama4::fuzz {

// An anonymous in-memory file, rewritten for each input and opened through /proc/self/fd/N.
class MemFile {
 public:
  explicit MemFile(const char* name) {
    fd_ = memfd_create(name, MFD_CLOEXEC);
    if (fd_ < 0) std::perror("memfd_create"), std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) std::perror("ftruncate"), std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, data + done, size - done, (off_t)done);
      if (n <= 0) std::perror("pwrite"), std::abort();
      done += (size_t)n;
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A private directory (on /dev/shm when there is one) for inputs that must carry file names.
inline std::string scratch_dir() {
  std::string tmpl = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/llama4-fuzz-XXXXXX");
  if (!mkdtemp(&tmpl[0])) std::perror("mkdtemp"), std::abort();
  return tmpl;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) std::perror(path.c_str()), std::abort();
}

// Runs fn; a llama4::Error is the documented outcome for a bad input and is swallowed (its message must
// still be printable: the bytes are touched so ASan sees a dangling or unterminated message).
template <typename F>
bool expect_only_errors(F&& fn) {
  try {
    fn();
    return true;
  } catch (const Error& e) {
    volatile size_t n = std::string(e.what()).size();
    (void)n;
    return false;
  }
}

}  // namespace llama4::fuzz

// libFuzzer calls this once before the first input (defined here: each target is one source file). The
// decode paths run the scalar kernels, which are built with sanitizers (the SIMD kernel files are not: see
// CMakeLists.txt); a LLAMA4_ISA set by the caller wins.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("LLAMA4_ISA", "scalar", 0);
  return 0;
}
