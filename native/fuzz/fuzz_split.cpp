// Split models (llama-gguf-split's PREFIX-0000K-of-0000N.gguf): the input is the parts concatenated,
// cut before every "GGUF" magic (at most 8 parts), written as m-0000K-of-0000N.gguf in a private tmpfs
// directory. GgufFile::open_model from the first and from the last part (each finds the others by name,
// checks split.no / split.count / split.tensors.count and merges the tensor lists), then the loader on the
// merged model without repacking.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "model/gguf.h"
#include "model/model.h"

using namespace llama4;

namespace {

constexpr size_t kMaxParts = 8;

std::string part_path(const std::string& dir, size_t k, size_t n) {
  return strfmt("%s/m-%05zu-of-%05zu.gguf", dir.c_str(), k + 1, n);
}

std::string dir;
std::vector<std::string> written;

void remove_written() {
  for (const std::string& p : written) unlink(p.c_str());
  written.clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (dir.empty()) {
    dir = fuzz::scratch_dir();
    std::atexit([] {
      remove_written();
      rmdir(dir.c_str());
    });
  }
  remove_written();

  std::vector<size_t> starts{0};
  for (size_t i = 1; i + 4 <= size && starts.size() < kMaxParts; i++)
    if (std::memcmp(data + i, "GGUF", 4) == 0) starts.push_back(i);
  const size_t n = starts.size();
  for (size_t k = 0; k < n; k++) {
    const size_t end = k + 1 < n ? starts[k + 1] : size;
    written.push_back(part_path(dir, k, n));
    fuzz::write_file(written.back(), data + starts[k], end - starts[k]);
  }

  std::shared_ptr<GgufFile> first, last;
  const bool ok = fuzz::expect_only_errors([&] { first = GgufFile::open_model(written.front()); });
  fuzz::expect_only_errors([&] { last = GgufFile::open_model(written.back()); });
  if (ok) {
    volatile uint64_t sink = 0;
    for (const GgufTensorInfo& t : first->tensors()) {
      if (t.part >= first->n_parts() || first->find_tensor(t.name) != &t) __builtin_trap();
      if (t.nbytes > 0) sink += first->tensor_data(t)[t.nbytes - 1];
    }
    (void)sink;
    LoadOptions opt;
    opt.repack = false;
    fuzz::expect_only_errors([&] { load_model(written.front(), opt); });
  }
  return 0;
}
