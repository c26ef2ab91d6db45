// A read-only memory-mapped file. Weights are used in place from the mapping; nothing is copied at load.
//
// A mapping shares the file's pages, so the file changing on disk while it is mapped changes what the
// engine reads:
//  - overwritten in place (`cp new.gguf model.gguf` keeps the inode): the weights silently become other
//    bytes. check_unchanged() (one fstat of the descriptor kept open, called before every forward pass)
//    sees the new size or modification time and throws a clear Error instead.
//  - truncated: reading a mapped page past the new end of file raises SIGBUS, which would kill the
//    process with no explanation. Every mapping is registered in a small fixed table that a SIGBUS handler
//    (installed with the first mapping) consults: a fault inside one of our mappings first prints which
//    file was truncated, then the signal takes its previous course (see mmap_file.cpp).
//  - replaced by rename (a new inode at the path): harmless, the mapping keeps the old inode's pages.
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
  // Throws Error naming the path and the OS reason; something that is not a regular file (a directory, a
  // FIFO, a device) is refused without reading from it or blocking on it.
  explicit MappedFile(const std::string& path);
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
  // Throws Error "model file 'X' changed on disk while in use (...): reload it" when the file this maps
  // (the inode opened at load, whatever the path names now) has another size or modification time than
  // it had when mapped. One fstat: about a microsecond.
  void check_unchanged() const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  // The descriptor stays open for check_unchanged: fstat on it sees the mapped inode itself, whatever
  // the path names now (so a file replaced by rename, harmless to the mapping, is not reported).
  int fd_ = -1;
  int64_t mtime_sec_ = 0, mtime_nsec_ = 0;  // st_mtim when mapped
  int slot_ = -1;  // this mapping's entry in the SIGBUS table, or -1
};

}  // namespace llama4
