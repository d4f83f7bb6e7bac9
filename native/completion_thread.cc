// The completion thread of the completion mechanism (completion.h): watches the CUDA events of GPU phases.
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
// The completion thread: watches the GPU phase's events. One process-wide thread; jobs of one stream complete in
// their order (only the head of each stream's FIFO is queried). Busy for 200 us after activity, then yielding for
// up to 10 ms (one large copy), then looking every 50 us, asleep once nothing is in flight.
class Poller {
 public:
  static Poller& Get() {
    static Poller* p = new Poller();  // never destroyed: the thread lives as long as the process
    return *p;
  }

  void Add(Job* c) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(m_);
      incoming_.push_back(c);
      wake = sleeping_;
    }
    incomingCount_.fetch_add(1, std::memory_order_release);
    if (wake) cv_.notify_one();
  }

 private:
  Poller() { std::thread([this] { Loop(); }).detach(); }

  bool Take(bool block, std::chrono::microseconds wait) {
    std::vector<Job*> got;
    {
      std::unique_lock<std::mutex> lock(m_);
      if (incoming_.empty() && (block || wait.count() > 0)) {
        sleeping_ = true;
        if (block) {
          cv_.wait(lock, [&] { return !incoming_.empty(); });
        } else {
          cv_.wait_for(lock, wait, [&] { return !incoming_.empty(); });
        }
        sleeping_ = false;
      }
      got.swap(incoming_);
      incomingCount_.store(0, std::memory_order_relaxed);
    }
    for (Job* c : got) {
      if (c->streamOrdered_) {
        fifo_[KeyOf(c->device, c->waitStream_)].push_back(c);
      } else {
        loose_.push_back(c);
      }
      ++active_;
    }
    return !got.empty();
  }

  void Done(Job* c, cudaError_t e) {
    --active_;
    c->gpuStatus_ = e;
    try {
      c->GpuDone();
    } catch (...) {
    }
    c->phase_ = Job::Phase::kAfterGpu;
    Dispatch(c);
  }

  cudaError_t Query(Job* c) {
    // cudaEventQuery works whatever device is current; selecting the event's device keeps the per-thread
    // state right for the hooks (GpuDone) and costs nothing when it already is.
    SelectDevice(c->device);
    return cudaEventQuery(c->waitEvent_);
  }

  bool Sweep() {
    bool progress = false;
    for (auto it = fifo_.begin(); it != fifo_.end();) {
      auto& q = it->second;
      while (!q.empty()) {
        cudaError_t e = Query(q.front());
        if (e == cudaErrorNotReady) break;
        Job* c = q.front();
        q.pop_front();
        Done(c, e);
        progress = true;
      }
      it = q.empty() ? fifo_.erase(it) : std::next(it);
    }
    for (size_t i = 0; i < loose_.size();) {
      cudaError_t e = Query(loose_[i]);
      if (e == cudaErrorNotReady) {
        ++i;
        continue;
      }
      Job* c = loose_[i];
      loose_.erase(loose_.begin() + static_cast<std::ptrdiff_t>(i));
      Done(c, e);
      progress = true;
    }
    return progress;
  }

  void Loop() {
#ifdef PR_SET_NAME
    prctl(PR_SET_NAME, "tn-completion", 0, 0, 0);
#endif
#ifdef PR_SET_TIMERSLACK
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // precise 50 us naps
#endif
    using Clock = std::chrono::steady_clock;
    constexpr auto kSpin = std::chrono::microseconds(200);  // nothing in flight: keep watching this long
    // work in flight: poll (yielding the core to any other runnable thread) this long after the last completion,
    // then nap. 10 ms covers a single copy of ~512 MiB, whose completion a 50 us nap would see ~100 us late.
    constexpr auto kYield = std::chrono::microseconds(10000);
    constexpr auto kNap = std::chrono::microseconds(50);
    auto lastActivity = Clock::now();
    for (;;) {
      bool idle = active_ == 0;
      bool fresh = false;
      auto quiet = Clock::now() - lastActivity;
      if (idle && quiet > kSpin) {
        fresh = Take(true, {});
      } else if (incomingCount_.load(std::memory_order_acquire) > 0) {
        fresh = Take(false, {});
      } else if (!idle && quiet > kYield) {
        fresh = Take(false, kNap);
      } else if (!idle && quiet > kSpin) {
        std::this_thread::yield();
      }
      if (fresh) lastActivity = Clock::now();
      if (active_ > 0 && Sweep()) {
        lastActivity = Clock::now();
        continue;
      }
      // ~1 us between sweeps: the threads submitting work share CUDA's locks with cudaEventQuery
      auto until = Clock::now() + std::chrono::nanoseconds(1000);
      while (Clock::now() < until && incomingCount_.load(std::memory_order_relaxed) == 0) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::vector<Job*> incoming_;
  std::atomic<size_t> incomingCount_{0};
  bool sleeping_ = false;
  // completion thread only
  std::map<StreamKey, std::deque<Job*>> fifo_;
  std::vector<Job*> loose_;
  size_t active_ = 0;
};

void WatchGpu(Job* job) { Poller::Get().Add(job); }

}  // namespace tn::cuda
