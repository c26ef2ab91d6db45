// Each binding file registers its functions on the module exports. N-API glue only: no model logic.
#pragma once
#include <napi.h>

namespace llama4 {
void init_gguf_bindings(Napi::Env env, Napi::Object exports);
void init_ops_bindings(Napi::Env env, Napi::Object exports);
void init_kernel_bindings(Napi::Env env, Napi::Object exports);
void init_system_bindings(Napi::Env env, Napi::Object exports);
void init_model_bindings(Napi::Env env, Napi::Object exports);
void init_quantize_bindings(Napi::Env, Napi::Object);
void init_cuda_bindings(Napi::Env env, Napi::Object exports);  // cudaTwin: CUDA kernels next to their CPU twins
}  // namespace llama4
