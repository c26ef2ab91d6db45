#include "addon/bindings.h"

static Napi::Object InitLlama4(Napi::Env env, Napi::Object exports) {
  llama4::init_system_bindings(env, exports);
  llama4::init_gguf_bindings(env, exports);
  llama4::init_ops_bindings(env, exports);
  llama4::init_kernel_bindings(env, exports);
  llama4::init_model_bindings(env, exports);
  llama4::init_quantize_bindings(env, exports);
  llama4::init_cuda_bindings(env, exports);
  return exports;
}

NODE_API_MODULE(llama4, InitLlama4)
