// A stand-in for the native part of @jazzer.js/fuzzer 4.0.0 (the `prebuilds/fuzzer-*.node` it loads),
// linked against the stock libFuzzer of the system's clang (libclang_rt.fuzzer_no_main) instead of the
// fork the prebuilds carry. Needed where those prebuilds do not load: they want glibc >= 2.38 and
// libstdc++ >= GLIBCXX_3.4.32, and Debian 12 has 2.36 / 3.4.30. scripts/fuzz-js.sh builds it only then
// and test/fuzz/jazzer/use-addon.cjs makes @jazzer.js/fuzzer load it.
//
// It exports what @jazzer.js/fuzzer's dist/*.js call: startFuzzing (sync targets), startFuzzingAsync
// (promise-returning targets: libFuzzer runs in its own thread and calls into JS through a thread-safe
// function), printAndDumpCrashingInput, printReturnInfo, and the coverage / compare-tracing callbacks.
//
// Where stock libFuzzer differs from the fork:
//  - the fork lets a target return -2 to stop the loop and return from FuzzerDriver; stock libFuzzer has
//    no such value, so a finding ends the process here: Jazzer.js's JS side has already printed it and
//    dumped the input (crash-<sha1> under -artifact_prefix), then the process exits with 77;
//  - stock FuzzerDriver ends with exit(0) (from the fuzzing thread in async mode, while the JS thread
//    runs): an on_exit handler flushes stdio and _Exit()s with that status, skipping the destructors;
//  - the fork's *_with_pc compare hooks do not exist: integer compares go to the PC-less
//    __sanitizer_cov_trace_const_cmp8 (the table of recent compares works; only -use_value_profile=1
//    loses the per-site distinction), string compares keep their site id (strcmp / strstr hooks);
//  - in async mode the SIGALRM that drives -timeout mostly lands on the JS thread, where libFuzzer
//    ignores it; the fuzzing thread re-raises it on itself every second while it waits for JS, so a
//    hang still ends as timeout-<sha1> with libFuzzer's exit code (70).
#include <napi.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace fuzzer {
using UserCallback = int (*)(const uint8_t *Data, size_t Size);
int FuzzerDriver(int *argc, char ***argv, UserCallback Callback);
}  // namespace fuzzer

extern "C" {
void __sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *end);
void __sanitizer_cov_pcs_init(const uintptr_t *pcs_beg, const uintptr_t *pcs_end);
void __sanitizer_cov_trace_const_cmp8(uint64_t arg1, uint64_t arg2);
void __sanitizer_cov_trace_pc_indir(uintptr_t callee);
void __sanitizer_weak_hook_strcmp(void *caller_pc, const char *s1, const char *s2, int result);
void __sanitizer_weak_hook_strstr(void *caller_pc, const char *s1, const char *s2, char *result);
}

namespace {

constexpr int kFindingExitCode = 77;  // libFuzzer's -error_exitcode default, Jazzer.js's "Finding"

// libFuzzer hands its death callback (dump the current input as crash-<sha1>, print the final stats) to
// the sanitizer runtime through __sanitizer_set_death_callback, defined below since there is none.
void (*gDeathCallback)() = nullptr;
bool gInputDumped = false;

void DumpCurrentInput() {
  if (gDeathCallback && !gInputDumped) gDeathCallback();
  gInputDumped = true;
}

[[noreturn]] void ExitWithFinding() {
  fflush(nullptr);
  _Exit(kFindingExitCode);
}

// An exception reached the addon: Jazzer.js's wrapper has printed it and dumped the input already
// (printAndDumpCrashingInput); if something else threw, say what and dump it here.
[[noreturn]] void Finding(Napi::Env env, const Napi::Value &error) {
  if (!gInputDumped) {
    Napi::Value stack = error.IsObject() ? error.As<Napi::Object>().Get("stack") : env.Undefined();
    std::string text = stack.IsString() ? stack.As<Napi::String>().Utf8Value() : error.ToString().Utf8Value();
    std::cerr << "==" << getpid() << "== Uncaught Exception: Jazzer.js: " << text << std::endl;
    DumpCurrentInput();
  }
  ExitWithFinding();
}

void FlushAndKeepStatus(int status, void *) {
  fflush(nullptr);
  _Exit(status);
}

std::vector<std::string> Args(Napi::Env env, Napi::Array js) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < js.Length(); i++) {
    Napi::Value v = js.Get(i);
    if (!v.IsString()) {
      Napi::Error::New(env, "libfuzzer arguments have to be strings").ThrowAsJavaScriptException();
      return {};
    }
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

void RunDriver(std::vector<std::string> args, fuzzer::UserCallback cb) {
  std::vector<char *> argv;
  for (auto &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  char **argvp = argv.data();
  on_exit(FlushAndKeepStatus, nullptr);  // registered last, so it runs first
  int status = fuzzer::FuzzerDriver(&argc, &argvp, cb);  // returns only on bad arguments, else exit()s
  fflush(nullptr);
  _Exit(status);
}

// ---- coverage ---------------------------------------------------------------------------------------

uint8_t *gCoverageMap = nullptr;
uintptr_t gNextPc = 1;

void RegisterRange(uint8_t *start, uint8_t *end) {
  if (start >= end) return;
  size_t n = static_cast<size_t>(end - start);
  // libFuzzer wants a PC table beside the counters: {pc, flags} per counter. The counters are synthetic,
  // so are the PCs: unique numbers, never freed (libFuzzer keeps the pointer).
  auto *table = new uintptr_t[2 * n];
  for (size_t i = 0; i < n; i++) {
    table[2 * i] = gNextPc++;
    table[2 * i + 1] = 0;
  }
  __sanitizer_cov_8bit_counters_init(start, end);
  __sanitizer_cov_pcs_init(table, table + 2 * n);
}

void RegisterCoverageMap(const Napi::CallbackInfo &info) {
  if (info.Length() != 1 || !info[0].IsBuffer()) {
    Napi::Error::New(info.Env(), "Expected a Buffer").ThrowAsJavaScriptException();
    return;
  }
  gCoverageMap = info[0].As<Napi::Buffer<uint8_t>>().Data();
}

void RegisterNewCounters(const Napi::CallbackInfo &info) {
  int64_t from = info[0].As<Napi::Number>().Int64Value();
  int64_t to = info[1].As<Napi::Number>().Int64Value();
  if (!gCoverageMap || to < from) {
    Napi::Error::New(info.Env(), "registerNewCounters: no coverage map, or fewer counters").ThrowAsJavaScriptException();
    return;
  }
  RegisterRange(gCoverageMap + from, gCoverageMap + to);
}

void RegisterModuleCounters(const Napi::CallbackInfo &info) {
  if (info.Length() != 1 || !info[0].IsBuffer()) {
    Napi::Error::New(info.Env(), "Expected a Buffer of 8-bit counters").ThrowAsJavaScriptException();
    return;
  }
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  RegisterRange(buf.Data(), buf.Data() + buf.Length());
}

// ---- compare tracing ----------------------------------------------------------------------------------

void TraceUnequalStrings(const Napi::CallbackInfo &info) {
  auto id = static_cast<uintptr_t>(info[0].As<Napi::Number>().Int64Value());
  std::string a = info[1].As<Napi::String>().Utf8Value(), b = info[2].As<Napi::String>().Utf8Value();
  __sanitizer_weak_hook_strcmp(reinterpret_cast<void *>(id), a.c_str(), b.c_str(), 1);
}

void TraceStringContainment(const Napi::CallbackInfo &info) {
  auto id = static_cast<uintptr_t>(info[0].As<Napi::Number>().Int64Value());
  std::string needle = info[1].As<Napi::String>().Utf8Value(), hay = info[2].As<Napi::String>().Utf8Value();
  __sanitizer_weak_hook_strstr(reinterpret_cast<void *>(id), needle.c_str(), hay.c_str(), nullptr);
}

void TraceIntegerCompare(const Napi::CallbackInfo &info) {
  auto a = info[1].As<Napi::Number>().Int64Value(), b = info[2].As<Napi::Number>().Int64Value();
  __sanitizer_cov_trace_const_cmp8(static_cast<uint64_t>(a), static_cast<uint64_t>(b));
}

void TracePcIndir(const Napi::CallbackInfo &info) {
  __sanitizer_cov_trace_pc_indir(static_cast<uintptr_t>(info[1].As<Napi::Number>().Int64Value()));
}

// ---- sync fuzzing: libFuzzer and the target on the JS thread --------------------------------------

napi_env gEnv = nullptr;
Napi::FunctionReference gTarget;

int SyncCallback(const uint8_t *data, size_t size) {
  Napi::Env env(gEnv);
  Napi::HandleScope scope(env);
  gTarget.Call({Napi::Buffer<uint8_t>::Copy(env, data, size)});
  if (env.IsExceptionPending()) Finding(env, env.GetAndClearPendingException().Value());
  return 0;
}

// The arguments of startFuzzing / startFuzzingAsync: (target, libFuzzerArgs, ...). False, with a JS
// exception pending, when they are not usable.
bool StartArgs(const Napi::CallbackInfo &info, const char *usage, std::vector<std::string> &args) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsArray()) {
    Napi::Error::New(env, usage).ThrowAsJavaScriptException();
    return false;
  }
  if (info[0].As<Napi::Object>().Get("length").As<Napi::Number>().Int32Value() > 1) {
    Napi::Error::New(env, "done-callback fuzz targets are not supported by this addon").ThrowAsJavaScriptException();
    return false;
  }
  args = Args(env, info[1].As<Napi::Array>());
  return !env.IsExceptionPending();
}

Napi::Value StartFuzzing(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<std::string> args;
  if (!StartArgs(info, "startFuzzing(target, libFuzzerArgs, stopCallback)", args)) return env.Undefined();
  gEnv = env;
  gTarget = Napi::Persistent(info[0].As<Napi::Function>());
  RunDriver(std::move(args), SyncCallback);
  return env.Undefined();  // not reached
}

// ---- async fuzzing: libFuzzer in its own thread, the target on the JS thread -------------------------

struct Call {
  const uint8_t *data;
  size_t size;
  std::promise<void> done;
};

Napi::ThreadSafeFunction gTsfn;

void CallTarget(Napi::Env env, Napi::Function target, Call *call) {
  if (!env) return;  // shutting down
  Napi::Value result = target.Call({Napi::Buffer<uint8_t>::Copy(env, call->data, call->size)});
  if (env.IsExceptionPending()) Finding(env, env.GetAndClearPendingException().Value());
  if (result.IsPromise()) {
    auto promise = result.As<Napi::Object>();
    auto onFulfilled = Napi::Function::New(env, [call](const Napi::CallbackInfo &) { call->done.set_value(); });
    auto onRejected = Napi::Function::New(env, [](const Napi::CallbackInfo &i) { Finding(i.Env(), i[0]); });
    promise.Get("then").As<Napi::Function>().Call(promise, {onFulfilled, onRejected});
    if (env.IsExceptionPending()) Finding(env, env.GetAndClearPendingException().Value());
  } else {
    call->done.set_value();
  }
}

bool AlarmHandled() {
  struct sigaction sa {};
  if (sigaction(SIGALRM, nullptr, &sa) != 0) return false;
  return (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != nullptr
                                    : sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

int AsyncCallback(const uint8_t *data, size_t size) {
  Call call{data, size, {}};
  auto done = call.done.get_future();
  if (gTsfn.BlockingCall(&call, CallTarget) != napi_ok) {
    std::cerr << "Jazzer.js: the JS thread is gone" << std::endl;
    _Exit(1);
  }
  // libFuzzer's -timeout alarm only acts in the fuzzing thread: deliver it here while JS runs.
  bool alarm = AlarmHandled();
  while (done.wait_for(std::chrono::seconds(1)) == std::future_status::timeout)
    if (alarm) pthread_kill(pthread_self(), SIGALRM);
  return 0;
}

Napi::Value StartFuzzingAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<std::string> args;
  if (!StartArgs(info, "startFuzzingAsync(target, libFuzzerArgs)", args)) return env.Undefined();
  gTsfn = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "jazzer.js fuzz target", 0, 1);
  std::thread([args = std::move(args)]() mutable { RunDriver(std::move(args), AsyncCallback); }).detach();
  // settles never: the process ends in the fuzzing thread (exit status of the run) or on a finding
  return Napi::Promise::Deferred::New(env).Promise();
}

void PrintAndDumpCrashingInput(const Napi::CallbackInfo &) { DumpCurrentInput(); }
void PrintReturnInfo(const Napi::CallbackInfo &) {}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports["startFuzzing"] = Napi::Function::New(env, StartFuzzing);
  exports["startFuzzingAsync"] = Napi::Function::New(env, StartFuzzingAsync);
  exports["printAndDumpCrashingInput"] = Napi::Function::New(env, PrintAndDumpCrashingInput);
  exports["printReturnInfo"] = Napi::Function::New(env, PrintReturnInfo);
  exports["printVersion"] = Napi::Function::New(env, [](const Napi::CallbackInfo &) {});
  exports["registerCoverageMap"] = Napi::Function::New(env, RegisterCoverageMap);
  exports["registerNewCounters"] = Napi::Function::New(env, RegisterNewCounters);
  exports["registerModuleCounters"] = Napi::Function::New(env, RegisterModuleCounters);
  exports["traceUnequalStrings"] = Napi::Function::New(env, TraceUnequalStrings);
  exports["traceStringContainment"] = Napi::Function::New(env, TraceStringContainment);
  exports["traceIntegerCompare"] = Napi::Function::New(env, TraceIntegerCompare);
  exports["tracePcIndir"] = Napi::Function::New(env, TracePcIndir);
  return exports;
}

}  // namespace

// The sanitizer-runtime hooks libFuzzer looks up (weak references in FuzzerExtFunctionsWeak.cpp).
extern "C" __attribute__((visibility("default"))) void __sanitizer_set_death_callback(void (*cb)()) {
  gDeathCallback = cb;
}
extern "C" __attribute__((visibility("default"))) int __sanitizer_acquire_crash_state() { return 1; }
extern "C" __attribute__((visibility("default"))) void __sanitizer_print_stack_trace() {}

NODE_API_MODULE(jazzerjs_fuzzer, Init)
