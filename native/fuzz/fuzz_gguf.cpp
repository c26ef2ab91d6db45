// GGUF header parsing from memory (GgufFile::parse, the path readGguf takes for a Uint8Array): magic,
// version, counts, every KV record and array, tensor infos, alignment, the data section's bounds; then
// what callers do with a parsed file: typed getters on every key, every tensor's first and last data
// byte (libFuzzer hands us an exactly-sized heap copy, so ASan sees any read past the end), and the
// hyper-parameters (load_hparams).
#include <cstdint>

#include "fuzz_util.h"
#include "model/gguf.h"
#include "model/hparams.h"

using namespace llama4;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<GgufFile> f;
  if (!fuzz::expect_only_errors([&] { f = GgufFile::parse(data, size, "<fuzz>"); })) return 0;
  volatile uint64_t sink = 0;
  for (const GgufKV& kv : f->kvs()) {
    if (f->find(kv.key) != &kv) __builtin_trap();  // the index must point at the record itself
    fuzz::expect_only_errors([&] { sink += (uint64_t)kv.as_int(); });
    fuzz::expect_only_errors([&] { sink += kv.as_float() > 0; });
    fuzz::expect_only_errors([&] { sink += f->get_str(kv.key).size(); });
    fuzz::expect_only_errors([&] { sink += f->get_bool(kv.key, false); });
    if (kv.type == GgufType::STRING && !kv.str.empty()) sink += (uint8_t)kv.str.back();
    if (kv.type == GgufType::ARRAY) {
      if (kv.arr_type == GgufType::STRING) {
        if (kv.arr_str.size() != kv.arr_count) __builtin_trap();
        for (std::string_view s : kv.arr_str)
          if (!s.empty()) sink += (uint8_t)s.front() + (uint8_t)s.back();
      } else if (kv.arr_count > 0) {
        sink += kv.arr_data[0] + kv.arr_data[kv.arr_count * gguf_type_size(kv.arr_type) - 1];
      }
    }
  }
  for (const GgufTensorInfo& t : f->tensors()) {
    if (f->find_tensor(t.name) != &t) __builtin_trap();
    if (t.nbytes > 0) {
      const uint8_t* p = f->tensor_data(t);
      sink += p[0] + p[t.nbytes - 1];
    }
  }
  fuzz::expect_only_errors([&] { sink += load_hparams(*f).n_layer; });
  (void)sink;
  return 0;
}
