// Preloaded by scripts/sanitize.sh after gcc's libasan and libubsan, into every process of the run:
//   LD_PRELOAD="libasan.so libubsan.so preload.so"
//
// 1. LeakSanitizer checks node processes only. The runtime reaches everything the suite starts, through
//    the environment: node (vitest, the CLI, the server: where our addon runs) but also the programs that
//    tests and tools run, such as sort (tinypool counting cores), tr, sh, stty and tmux (the chat's
//    end-to-end test), which are not our code and some of which never free what they allocate before
//    exiting. LeakSanitizer asks __lsan_is_turned_off() before each check: this answers "off" unless the
//    process's executable is SANITIZE_LEAK_EXE (the node that runs the suite).
// 2. UBSan's reports go to files too. gcc's UBSan runtime is a library of its own with its own copy of
//    the report file, and the call its start-up makes to set it from UBSAN_OPTIONS' log_path binds to
//    libasan's copy (loaded first), so its reports would only ever reach stderr, which tests of the CLI
//    capture. This sets libubsan's own report path to SANITIZE_UBSAN_LOG (a PID is appended).
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((visibility("default"))) int __lsan_is_turned_off(void) {
  const char* want = getenv("SANITIZE_LEAK_EXE");
  if (!want || !*want) return 0;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return 0;
  exe[n] = 0;
  return strcmp(exe, want) != 0;
}

__attribute__((constructor)) static void ubsan_report_path(void) {
  const char* path = getenv("SANITIZE_UBSAN_LOG");
  void* ubsan = dlopen("libubsan.so.1", RTLD_NOLOAD | RTLD_NOW);
  if (!path || !*path || !ubsan) return;
  void (*set_path)(const char*) = (void (*)(const char*))dlsym(ubsan, "__sanitizer_set_report_path");
  if (set_path) set_path(path);
}
