// Depth-gate adapters (load_depth_gates with an adapter path) against a fixed tiny model built at start-up
// (n_embd 8, 4 blocks): metadata (version, thresholds, per-kind threshold arrays, architecture), gate
// tensors of each granularity, their shapes and types; then one gated decode with the adapter's policy.
#include <cstdint>

#include "fuzz_util.h"
#include "gguf_builder.h"
#include "model/context.h"
#include "model/depth_gates.h"
#include "model/model.h"

using namespace llama4;

namespace {

struct Fixture {
  fuzz::MemFile model_file{"fuzz-gates-model"};
  fuzz::MemFile adapter_file{"fuzz-gates-adapter"};
  std::shared_ptr<Model> model;
  std::unique_ptr<Context> ctx;
  Fixture() {
    fuzz::TinyModel tm;
    tm.n_layer = 4;
    const std::vector<uint8_t> bytes = tm.file();
    LoadOptions opt;
    opt.repack = false;
    model = load_model(model_file.write(bytes.data(), bytes.size()), opt);
    ContextParams cp;
    cp.n_ctx = 4;
    cp.n_batch = 1;
    cp.n_threads = 1;
    ctx = std::make_unique<Context>(model, cp);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  std::shared_ptr<DepthGates> g;
  if (!fuzz::expect_only_errors([&] { g = load_depth_gates(*fx.model, fx.adapter_file.write(data, size)); })) return 0;
  for (const auto* kind : {&g->layers, &g->attn, &g->ffn}) {
    if (kind->size() != fx.model->hp.n_layer) __builtin_trap();
    for (const DepthGateLayer& l : *kind)
      if (l.present && l.w.size() != fx.model->hp.n_embd) __builtin_trap();
  }
  fuzz::expect_only_errors([&] {
    DepthPolicy p;
    p.gates = g;
    fx.ctx->truncate(0);
    fx.ctx->set_depth_policy(p);
    const int32_t tokens[2] = {1, 3};
    fx.ctx->decode(tokens, 1, false);
    fx.ctx->decode(tokens + 1, 1, false);
  });
  return 0;
}
