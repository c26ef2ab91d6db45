#include "runtime/mmap_file.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/error.h"

namespace llama4 {

namespace {

// ---- SIGBUS: a mapped file truncated while in use ------------------------------------------------------
//
// Reading a page of a MAP_SHARED mapping that lies past the file's (new) end raises SIGBUS. Its default
// action ends the process with only "Bus error", which tells a user nothing: check_unchanged() catches a
// truncation before each forward pass, but not one that lands during a pass, or during a load, or while
// a tool reads metadata.
//
// So the first mapping installs a SIGBUS handler (sigaction, SA_SIGINFO). It looks the faulting address
// (si_addr) up in g_slots, a fixed table of the live mappings' address ranges and paths, without locks or
// allocation: each slot is published with a release store of its state after its fields are written and
// read with acquire loads, and everything the handler calls (write(2), sigaction, raise) is
// async-signal-safe. When the address is inside one of our mappings it writes
//   llama4: the model file 'X' was truncated while in use (bus error reading its mapped weights)
// to stderr. Then, in every case, the signal takes the course it would have taken without us: the
// previous disposition is put back and the handler returns, so the faulting access runs again and meets it
// (an earlier handler: that handler; none: the default action, which ends the process with SIGBUS). A
// SIGBUS that is not ours and an earlier handler that is a function: that handler is called directly and
// we stay installed. A SIGBUS sent by kill() (no faulting access to repeat) is raised again after the
// previous disposition is restored. The handler never calls exit() or abort(): ending the process, if
// anything does, is the signal's default action, as before.
//
// Mappings beyond the table's kSlots are simply not registered (no message for them, nothing else
// changes); paths are cut to kPathMax - 1 bytes.
constexpr int kSlots = 256;
constexpr size_t kPathMax = 512;

struct Slot {
  std::atomic<int> state;  // kFree, kBusy (being filled or cleared), kLive
  std::atomic<uintptr_t> begin, end;
  char path[kPathMax];
};
constexpr int kFree = 0, kBusy = 1, kLive = 2;
Slot g_slots[kSlots];  // static storage: zero (kFree) before any code runs
struct sigaction g_prev_bus;
std::once_flag g_install_once;

void put_stderr(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  while (n > 0) {
    const ssize_t w = ::write(2, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

bool prev_is_function() {
  if (g_prev_bus.sa_flags & SA_SIGINFO) return g_prev_bus.sa_sigaction != nullptr;
  return g_prev_bus.sa_handler != SIG_DFL && g_prev_bus.sa_handler != SIG_IGN;
}

void on_sigbus(int sig, siginfo_t* si, void* uc) {
  const int saved_errno = errno;
  const uintptr_t a = (uintptr_t)si->si_addr;
  int hit = -1;
  for (int i = 0; i < kSlots && hit < 0; i++) {
    if (g_slots[i].state.load(std::memory_order_acquire) != kLive) continue;
    if (a >= g_slots[i].begin.load(std::memory_order_relaxed) && a < g_slots[i].end.load(std::memory_order_relaxed)) hit = i;
  }
  if (hit >= 0) {
    put_stderr("llama4: the model file '");
    put_stderr(g_slots[hit].path);
    put_stderr("' was truncated while in use (bus error reading its mapped weights)\n");
  }
  if (hit < 0 && prev_is_function()) {  // not ours: the earlier handler decides
    if (g_prev_bus.sa_flags & SA_SIGINFO) g_prev_bus.sa_sigaction(sig, si, uc);
    else g_prev_bus.sa_handler(sig);
  } else {
    sigaction(SIGBUS, &g_prev_bus, nullptr);
    if (si->si_code <= 0) raise(SIGBUS);  // sent, not a fault: nothing would repeat it
  }
  errno = saved_errno;
}

void install_sigbus_handler() {
  std::call_once(g_install_once, [] {
    if (sigaction(SIGBUS, nullptr, &g_prev_bus) != 0) return;  // read first: the handler may run at once
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGBUS, &sa, nullptr);
  });
}

int register_range(const void* begin, size_t len, const std::string& path) {
  for (int i = 0; i < kSlots; i++) {
    int expect = kFree;
    if (!g_slots[i].state.compare_exchange_strong(expect, kBusy, std::memory_order_acq_rel)) continue;
    Slot& s = g_slots[i];
    const size_t n = std::min(path.size(), kPathMax - 1);
    std::memcpy(s.path, path.data(), n);
    s.path[n] = '\0';
    s.begin.store((uintptr_t)begin, std::memory_order_relaxed);
    s.end.store((uintptr_t)begin + len, std::memory_order_relaxed);
    s.state.store(kLive, std::memory_order_release);
    return i;
  }
  return -1;  // table full: this mapping goes without the message
}

void unregister_range(int i) {
  if (i < 0) return;
  g_slots[i].state.store(kBusy, std::memory_order_release);
  g_slots[i].begin.store(0, std::memory_order_relaxed);
  g_slots[i].end.store(0, std::memory_order_relaxed);
  g_slots[i].state.store(kFree, std::memory_order_release);
}

const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a plain file";
}

[[noreturn]] void throw_open_error(const std::string& path, int e) {
  if (e == ENOENT) {  // a dangling symbolic link reads as "no such file" too: say which it is
    struct stat lst;
    if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      char target[1024];
      const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
      target[n > 0 ? n : 0] = '\0';
      LLAMA4_THROW("cannot open '%s': No such file or directory (it is a symbolic link to '%s', which does not exist)",
                   path.c_str(), target);
    }
  }
  LLAMA4_THROW("cannot open '%s': %s", path.c_str(), strerror(e));
}

std::string utc_time(int64_t sec, int64_t nsec) {
  int64_t ms = (nsec + 500000) / 1000000;  // to the nearest millisecond (utimes() from a JS Date lands a hair below)
  if (ms >= 1000) sec++, ms -= 1000;
  const time_t t = (time_t)sec;
  struct tm tm;
  char buf[64];
  if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0) return strfmt("%lld s", (long long)sec);
  return strfmt("%s.%03lld UTC", buf, (long long)ms);
}

}  // namespace

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 || errno != ENOENT;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  // Refuse what is not a regular file before opening it: opening a FIFO for reading blocks until a writer
  // appears, and opening a device can have effects of its own. O_NONBLOCK covers the path being swapped
  // for one between this stat and the open (it changes nothing for a regular file).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw_open_error(path, errno);
  if (!S_ISREG(st.st_mode)) LLAMA4_THROW("'%s' is not a regular file (it is %s)", path.c_str(), file_kind(st.st_mode));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) throw_open_error(path, errno);
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    LLAMA4_THROW("cannot stat '%s': %s", path.c_str(), strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    LLAMA4_THROW("'%s' is not a regular file (it is %s)", path.c_str(), file_kind(st.st_mode));
  }
  size_ = (uint64_t)st.st_size;
  mtime_sec_ = (int64_t)st.st_mtim.tv_sec;
  mtime_nsec_ = (int64_t)st.st_mtim.tv_nsec;
  if (size_ > 0) {
    void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      LLAMA4_THROW("cannot memory-map '%s': %s", path.c_str(), strerror(e));
    }
    data_ = (const uint8_t*)p;
    install_sigbus_handler();
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    slot_ = register_range(data_, (size_t)((size_ + page - 1) & ~(page - 1)), path_);
  }
  fd_ = fd;
}

MappedFile::~MappedFile() {
  unregister_range(slot_);
  if (data_) munmap((void*)data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::check_unchanged() const {
  if (fd_ < 0) return;
  struct stat st;
  if (fstat(fd_, &st) != 0) LLAMA4_THROW("model file '%s' cannot be checked while in use: %s", path_.c_str(), strerror(errno));
  if ((uint64_t)st.st_size != size_)
    LLAMA4_THROW("model file '%s' changed on disk while in use (size %llu -> %llu bytes): reload it", path_.c_str(),
                 (unsigned long long)size_, (unsigned long long)st.st_size);
  if ((int64_t)st.st_mtim.tv_sec != mtime_sec_ || (int64_t)st.st_mtim.tv_nsec != mtime_nsec_)
    LLAMA4_THROW("model file '%s' changed on disk while in use (same size, modified at %s): reload it", path_.c_str(),
                 utc_time((int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec).c_str());
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
