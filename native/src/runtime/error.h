// One exception type for everything the engine reports to the user. The addon layer turns it into a
// JS Error (rejected promise); nothing in native/ ever calls exit() or abort().
#pragma once
#include <cstdarg>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace llama4 {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// printf-style message builder for errors.
inline std::string strfmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline std::string strfmt(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return "(format error)";
  if ((size_t)n < sizeof buf) return std::string(buf, (size_t)n);
  std::string s((size_t)n + 1, '\0');
  va_start(ap, fmt);
  vsnprintf(&s[0], s.size(), fmt, ap);
  va_end(ap);
  s.resize((size_t)n);
  return s;
}

#define LLAMA4_THROW(...) throw ::llama4::Error(::llama4::strfmt(__VA_ARGS__))

// Overflow-checked size arithmetic for values that come from files.
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

}  // namespace llama4
