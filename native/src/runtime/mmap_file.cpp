#include "runtime/mmap_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/error.h"

namespace llama4 {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 || errno != ENOENT;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) LLAMA4_THROW("cannot open '%s': %s", path.c_str(), strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    LLAMA4_THROW("cannot stat '%s': %s", path.c_str(), strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    LLAMA4_THROW("'%s' is not a regular file", path.c_str());
  }
  size_ = (uint64_t)st.st_size;
  if (size_ > 0) {
    void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      LLAMA4_THROW("cannot memory-map '%s': %s", path.c_str(), strerror(e));
    }
    data_ = (const uint8_t*)p;
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) munmap((void*)data_, size_);
}

void MappedFile::prefetch(uint64_t offset, uint64_t len) const {
  if (!data_ || offset >= size_) return;
  if (len > size_ - offset) len = size_ - offset;
  long page = sysconf(_SC_PAGESIZE);
  uint64_t start = offset & ~(uint64_t)(page - 1);
  madvise((void*)(data_ + start), len + (offset - start), MADV_WILLNEED);
}

void MappedFile::release(uint64_t offset, uint64_t len) const {
  if (!data_ || offset >= size_) return;
  if (len > size_ - offset) len = size_ - offset;
  const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  const uint64_t start = (offset + page - 1) & ~(page - 1);
  const uint64_t end = (offset + len) & ~(page - 1);
  if (end > start) madvise((void*)(data_ + start), end - start, MADV_DONTNEED);
}

}  // namespace llama4
