// A tiny N-API module for scripts/sanitize.sh: runs LeakSanitizer inside a live vitest worker.
//
// vitest ends its forked workers with SIGTERM, so LeakSanitizer's usual check at exit never runs in the
// processes that load the addon. scripts/sanitize/setup.ts calls leakCheck() after each test file's own
// hooks instead: __lsan_do_recoverable_leak_check() scans the heap now, prints any unsuppressed leak (to
// ASAN_OPTIONS log_path, where sanitize.sh collects it) and returns 1 when there was one.
// Built by sanitize.sh with the system C compiler; the ASan runtime comes from LD_PRELOAD, so the weak
// reference below is null (and leakCheck() throws) when the process runs without it.
#include <node_api.h>

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static napi_value leak_check(napi_env env, napi_callback_info info) {
  (void)info;
  if (!__lsan_do_recoverable_leak_check) {
    napi_throw_error(env, NULL, "leakCheck: the ASan/LSan runtime is not loaded (LD_PRELOAD)");
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, __lsan_do_recoverable_leak_check() != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "leakCheck", NAPI_AUTO_LENGTH, leak_check, NULL, &fn);
  napi_set_named_property(env, exports, "leakCheck", fn);
  return exports;
}
