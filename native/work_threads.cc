// The work threads of the completion mechanism (completion.h): run host phases (Run, AfterGpu).
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "completion_internal.h"
#include "cuda_internal.h"
#include "errors.h"
#include "per_env.h"

namespace tn::cuda {

// ---------------------------------------------------------------------------------------------------------------
// Work threads: run host phases. A thread is started whenever a job arrives and none is idle (a long build never
// delays an inference), up to MaxThreads(); idle threads beyond kKeep leave after kIdle.
void RunHostPhase(Job* job);

class WorkThreads {
 public:
  static WorkThreads& Get() {
    static WorkThreads* w = new WorkThreads();  // never destroyed
    return *w;
  }

  void Add(Job* j) {
    bool spawn;
    {
      std::lock_guard<std::mutex> lock(m_);
      queue_.push_back(j);
      // bounded (review 2, #13): beyond kMax threads a job waits for one to be free
      spawn = queue_.size() > idle_ && threads_ < MaxThreads();
      if (spawn) ++threads_;
    }
    if (spawn) {
      try {
        std::thread([this] { Loop(); }).detach();
      } catch (...) {
        std::lock_guard<std::mutex> lock(m_);
        --threads_;  // the job waits for a running thread
      }
    } else {
      cv_.notify_one();
    }
  }

 private:
  static constexpr size_t kKeep = 2;
  // At most this many threads: enough that a few long builds or parses never hold back an inference (each waits on
  // TensorRT or the GPU, not on a core), few enough that a burst of queued jobs cannot start thousands of threads.
  static size_t MaxThreads() {
    static const size_t n = std::max<size_t>(8, 2 * std::max(1u, std::thread::hardware_concurrency()));
    return std::min<size_t>(n, 64);
  }
  static constexpr auto kIdle = std::chrono::seconds(30);

  void Loop() {
#ifdef PR_SET_NAME
    prctl(PR_SET_NAME, "tn-work", 0, 0, 0);
#endif
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      if (queue_.empty()) {
        ++idle_;
        bool got = cv_.wait_for(lock, kIdle, [&] { return !queue_.empty(); });
        --idle_;
        if (!got && threads_ > kKeep) {
          --threads_;
          return;
        }
        if (!got) continue;
      }
      Job* j = queue_.front();
      queue_.pop_front();
      lock.unlock();
      RunHostPhase(j);
      lock.lock();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  size_t idle_ = 0, threads_ = 0;
};

void RunOnWorkThread(Job* job) { WorkThreads::Get().Add(job); }

}  // namespace tn::cuda
