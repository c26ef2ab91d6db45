// Runs work off the JS thread and settles a Promise: C++ exceptions become rejections (Error objects),
// never process exits. Cancellation: the JS side passes an AbortSignal-driven flag (see cancel.h).
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <string>

namespace llama4 {

// Resolves `d` with value(), or rejects it with the exception value() throws as an Error.
template <typename F>
void settle(Napi::Env env, Napi::Promise::Deferred& d, F&& value) {
  try {
    d.Resolve(value());
  } catch (const Napi::Error& e) {
    d.Reject(e.Value());
  } catch (const std::exception& e) {
    d.Reject(Napi::Error::New(env, e.what()).Value());
  } catch (...) {
    d.Reject(Napi::Error::New(env, "unknown native error").Value());
  }
}

template <typename R>
class FnWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<R()>;
  using Done = std::function<Napi::Value(Napi::Env, R&)>;
  FnWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env, "llama4"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = std::make_unique<R>(work_());
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    settle(env, deferred_, [&] { return done_(env, *result_); });
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::unique_ptr<R> result_;
};

// Queue `work` on the libuv pool and return a Promise for done(result).
template <typename R>
Napi::Promise run_async(Napi::Env env, typename FnWorker<R>::Work work, typename FnWorker<R>::Done done) {
  auto* w = new FnWorker<R>(env, std::move(work), std::move(done));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// Runs `work` on the calling (JS) thread and returns a Promise already settled with done(result), or
// rejected with the error: the same contract as run_async for work too short to send to a worker.
template <typename R>
Napi::Promise run_inline(Napi::Env env, const std::function<R()>& work, const typename FnWorker<R>::Done& done) {
  auto deferred = Napi::Promise::Deferred::New(env);
  settle(env, deferred, [&] {
    R result = work();
    return done(env, result);
  });
  return deferred.Promise();
}

// Wraps a synchronous binding so C++ exceptions become JS exceptions.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

}  // namespace llama4
