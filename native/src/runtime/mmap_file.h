// A read-only memory-mapped file. Weights are used in place from the mapping; nothing is copied at load.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace llama4 {

// Whether `path` names something that exists (a file the caller is about to open, to tell "missing" apart
// from "unreadable").
bool file_exists(const std::string& path);

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the path and the OS reason
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Hint the kernel that [offset, offset+len) will be read soon (best effort).
  void prefetch(uint64_t offset, uint64_t len) const;
  // Drop the whole pages inside [offset, offset+len) from this process (best effort): they are read
  // again from the file if touched later. Used once weights have been copied into a packed layout.
  void release(uint64_t offset, uint64_t len) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace llama4
