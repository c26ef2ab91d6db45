// The model loader on one file: GgufFile::open_model (mapped from a memfd), load_hparams, every tensor
// looked up by name with its expected shape and type, repacking into the kernels' layouts, the in-model
// depth gates (load_depth_gates with no adapter); and for a model that loads, one token through a small
// context, since a loader that accepts a model promises the engine can run it.
#include <cstdint>

#include "fuzz_util.h"
#include "model/context.h"
#include "model/depth_gates.h"
#include "model/model.h"

using namespace llama4;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz-model");
  const std::string& path = file.write(data, size);
  std::shared_ptr<Model> m;
  LoadOptions opt;
  opt.repack = size % 2 == 0;  // both the packed copies and the plain mapping
  opt.n_threads = 1;
  if (!fuzz::expect_only_errors([&] { m = load_model(path, opt); })) return 0;
  volatile uint64_t sink = m->bytes_per_token() + m->describe().size();
  (void)sink;
  std::shared_ptr<DepthGates> gates;
  fuzz::expect_only_errors([&] { gates = load_depth_gates(*m, ""); });
  fuzz::expect_only_errors([&] {
    ContextParams cp;
    cp.n_ctx = 4;
    cp.n_batch = 2;
    cp.n_threads = 1;
    Context ctx(m, cp);
    const int32_t tokens[2] = {1, (int32_t)(m->hp.n_vocab - 1)};
    ctx.decode(tokens, 2, false);
    if (gates) {
      DepthPolicy p;
      p.gates = gates;
      ctx.set_depth_policy(p);
      ctx.decode(tokens, 1, false);
    }
  });
  return 0;
}
