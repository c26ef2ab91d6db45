#include "model/names.h"

#include "runtime/error.h"

namespace llama4 {

namespace {
const char* const kKvFormats[] = {
#define X(id, fmt) fmt,
    LLAMA4_KV_LIST(X)
#undef X
};
const char* const kTensorFormats[] = {
#define X(id, fmt) fmt,
    LLAMA4_TENSOR_LIST(X)
#undef X
};
}  // namespace

Arch arch_from_name(const std::string& name) {
  if (name == "llama") return Arch::Llama;
  if (name == "llama4") return Arch::Llama4;
  return Arch::Unknown;
}

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama: return "llama";
    case Arch::Llama4: return "llama4";
    default: return "unknown";
  }
}

const char* kv_format(Kv k) { return kKvFormats[(int)k]; }

std::string kv_name(Kv k, const std::string& arch) {
  std::string f = kv_format(k);
  size_t p = f.find("%s");
  if (p != std::string::npos) f.replace(p, 2, arch);
  return f;
}

const char* tensor_format(Tn t) { return kTensorFormats[(int)t]; }

std::string tensor_name(Tn t, int layer, const char* suffix) {
  std::string f = tensor_format(t);
  size_t p = f.find("%d");
  if (p != std::string::npos) f.replace(p, 2, std::to_string(layer));
  if (suffix && *suffix) {
    f += '.';
    f += suffix;
  }
  return f;
}

}  // namespace llama4
