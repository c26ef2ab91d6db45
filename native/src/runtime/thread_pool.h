// One persistent pool of workers for the life of a context: no thread is ever created per token.
// parallel_for() hands out task indices through an atomic counter; the calling thread works too.
// Workers spin briefly between jobs (decode issues hundreds of small jobs per token) and then sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace llama4 {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads includes the caller
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(task, thread) for task in [0, n_tasks); returns when all are done. thread is in [0, size()).
  template <typename F>
  void parallel_for(int64_t n_tasks, F&& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
      for (int64_t i = 0; i < n_tasks; i++) fn(i, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run(n_tasks, [](void* ctx, int64_t task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); }, (void*)&fn);
  }

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);
  void run(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker(int index);
  void work_on_current(int thread);

  int n_threads_;
  std::vector<std::thread> threads_;
  // current job
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> sleepers_{0};
  // one caller at a time: contexts share a pool (shared_thread_pool), and two of them may decode at once
  std::mutex call_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
};

// The process's pool of n_threads threads, shared by every context of that thread count (created on first
// use, released with its last user): several contexts (server slots, a batched step's sequences) then
// use the same threads instead of each keeping its own spinning set.
std::shared_ptr<ThreadPool> shared_thread_pool(int n_threads);

}  // namespace llama4
