#include "runtime/thread_pool.h"

#include <chrono>
#include <map>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace llama4 {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}
// How long an idle worker spins before sleeping on the condition variable.
constexpr auto kSpin = std::chrono::microseconds(2000);
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; i++) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::work_on_current(int thread) {
  for (;;) {
    const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_tasks_) break;
    fn_(ctx_, i, thread);
  }
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
  std::lock_guard<std::mutex> call(call_mu_);
  fn_ = fn;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  next_.store(0, std::memory_order_relaxed);
  active_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    // Publishing under the mutex makes the wake-up race-free for sleeping workers.
    std::lock_guard<std::mutex> lk(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) cv_.notify_all();
  work_on_current(0);
  // Wait for the workers. Yield now and then: on an oversubscribed machine the worker we wait for may
  // be descheduled, and burning our time slice only delays it.
  for (int spins = 0; active_.load(std::memory_order_acquire) > 0; spins++) {
    if (spins < 256)
      cpu_relax();
    else
      std::this_thread::yield();
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a while waiting for the next job, then sleep.
    auto start = std::chrono::steady_clock::now();
    uint64_t g;
    int spins = 0;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < 256)
        cpu_relax();
      else
        std::this_thread::yield();
      if (spins % 64 == 0 && std::chrono::steady_clock::now() - start > kSpin) {
        std::unique_lock<std::mutex> lk(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        sleepers_.fetch_sub(1);
      }
    }
    seen = g;
    if (stop_.load()) return;
    work_on_current(index);
    active_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

std::shared_ptr<ThreadPool> shared_thread_pool(int n_threads) {
  static std::mutex mu;
  static std::map<int, std::weak_ptr<ThreadPool>> pools;
  std::lock_guard<std::mutex> lk(mu);
  std::weak_ptr<ThreadPool>& w = pools[n_threads];
  std::shared_ptr<ThreadPool> p = w.lock();
  if (!p) {
    p = std::make_shared<ThreadPool>(n_threads);
    w = p;
  }
  return p;
}

}  // namespace llama4
