#include "addon/async.h"
#include "addon/bindings.h"
#include "ops/backend.h"
#include "runtime/cpu_features.h"

namespace llama4 {

static Napi::Value system_info(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("cpuFeatures", cpu_features().describe());
    o.Set("isa", isa_name(isa_level()));
    Napi::Array arr = Napi::Array::New(env);
    uint32_t i = 0;
    for (const BackendInfo& b : list_backends()) {
      Napi::Object bo = Napi::Object::New(env);
      bo.Set("name", b.name);
      bo.Set("compiled", b.compiled);
      bo.Set("available", b.available);
      bo.Set("devices", b.devices);
      bo.Set("detail", b.detail);
      if (!b.archs.empty()) bo.Set("archs", b.archs);
      if (b.total_bytes > 0) {
        bo.Set("freeBytes", b.free_bytes);
        bo.Set("totalBytes", b.total_bytes);
      }
      arr.Set(i++, bo);
    }
    o.Set("backends", arr);
    return o;
  });
}

void init_system_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("systemInfo", Napi::Function::New(env, system_info, "systemInfo"));
}

}  // namespace llama4
