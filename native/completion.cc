// The completion mechanism (see completion.h): per-env delivery ports, the completion thread watching CUDA events,
// the work threads running host phases, PromiseWorker.
#include "completion.h"

#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <uv.h>

#include "cuda_internal.h"
#include "errors.h"
#include "per_env.h"

namespace tn::cuda {

cudaError_t SelectDevice(int device) {
  int cur = -1;
  cudaError_t e = cudaGetDevice(&cur);
  if (e != cudaSuccess) return e;
  return cur == device ? cudaSuccess : cudaSetDevice(device);
}

DeviceGuard::DeviceGuard(int device) {
  if (device < 0) return;
  int cur = -1;
  if (cudaGetDevice(&cur) != cudaSuccess || cur == device) return;
  if (cudaSetDevice(device) == cudaSuccess) prev_ = cur;
}

DeviceGuard::~DeviceGuard() {
  if (prev_ >= 0) cudaSetDevice(prev_);
}

// Per-env delivery of finished jobs to the JS thread. Finished jobs wait in `ready` until the env's loop runs the
// uv_async callback, which settles them (and runs the JavaScript they resume) for about kDeliveryBudgetNs at a
// time, then yields to timers and I/O and continues on the next loop iteration.
struct Port {
  std::mutex m;
  std::condition_variable hostIdle;  // signalled when hostJobs drops to 0
  bool closed = false;               // env torn down: jobs are abandoned without touching JS
  std::deque<Job*> ready;            // guarded by m
  size_t hostJobs = 0;               // guarded by m: jobs with host phases not yet finished with them
  // guarded by m: cancel flags of long host phases (CancelOnEnvClose), set when the env is torn down
  std::vector<std::weak_ptr<std::atomic<bool>>> cancelOnClose;
  uv_async_t* async = nullptr;       // guarded by m once created (uv_async_send from other threads)
  uv_idle_t* spin = nullptr;         // JS thread only: active while the loop should not block (see OnSpin)
  bool spinning = false;
  uint64_t spinUntil = 0;            // uv_hrtime() after which the loop may block again
  // JS thread only: GPU phases of jobs started on the JS thread, watched by the loop itself while it spins (it is
  // awake anyway); handed to the completion thread when the loop stops spinning.
  std::map<cudaStream_t, std::deque<Job*>> local;
  std::vector<Job*> localLoose;
  size_t localCount = 0;
  // This env's jobs whose GPU phase went to the completion thread, not yet settled. While there are any, new jobs
  // go there too (so that the jobs of one stream complete in call order).
  std::atomic<size_t> viaPoller{0};
  napi_env env = nullptr;
  napi_async_context asyncContext = nullptr;
  napi_ref deliver = nullptr;  // JS function wrapping Deliver (entered through napi_make_callback)
  size_t pending = 0;          // JS thread only: jobs not yet settled (the async handle is ref'd while > 0)
  // JS thread only: how many jobs one Deliver call settles (adapted so that a batch, the promise continuations it
  // triggers included, takes about kBatchTargetUs), and the current call's limit
  double costPerItemUs = 10.0;
  unsigned batchLimit = 8;
};

void Dispatch(Job* job);
void AbandonJob(Job* job);

namespace {

constexpr uint64_t kDeliveryBudgetNs = 500000;  // 0.5 ms per loop iteration
constexpr double kBatchTargetUs = 100.0;
constexpr unsigned kBatchMax = 64;
// After each submission and each settled job, while jobs are pending, the JS thread's loop keeps polling without
// blocking for this long (an active uv_idle handle makes libuv poll with a zero timeout): a GPU operation that
// completes within it is picked up at the next loop iteration instead of after a wake-up of a sleeping thread
// (tens of microseconds in a VM). Longer operations let the loop sleep again; CUDA's own default wait spins too.
constexpr uint64_t kSpinNs = 100000;  // 0.1 ms

}  // namespace

// Hands a job whose phases are over to its env's JS thread (any thread).
void PostJob(Job* job) {
  Port* port = job->port_.get();
  std::unique_lock<std::mutex> lock(port->m);
  if (port->closed || !port->async) {
    lock.unlock();
    AbandonJob(job);
    return;
  }
  port->ready.push_back(job);
  uv_async_send(port->async);  // coalesced by libuv while one is pending
}

void AbandonJob(Job* job) {
  try {
    job->Abandon();
  } catch (...) {
  }
}

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
        fifo_[c->waitStream_].push_back(c);
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
  std::map<cudaStream_t, std::deque<Job*>> fifo_;
  std::vector<Job*> loose_;
  size_t active_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// Work threads: run host phases. A thread is started whenever a job arrives and none is idle (a long build never
// delays an inference), idle threads beyond kKeep leave after kIdle.
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
      spawn = queue_.size() > idle_;
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

void Job::Fail(const std::exception& e) {
  if (failed_) return;  // the first failure counts
  failed_ = true;
  if (auto* ne = dynamic_cast<const NativeError*>(&e)) {
    code_ = ne->code;
    cudaError_ = ne->cudaError;
  } else {
    code_ = "INTERNAL";
  }
  message_ = e.what();
}

void RunHostPhase(Job* job) {
  SelectDevice(job->device);
  bool run = job->phase_ == Job::Phase::kRun;
  try {
    if (run) {
      job->Run();
    } else {
      job->AfterGpu();
    }
  } catch (const std::exception& e) {
    job->Fail(e);
  } catch (...) {
    job->Fail(NativeError("INTERNAL", "unknown native exception"));
  }
  job->phase_ = run ? Job::Phase::kGpu : Job::Phase::kSettle;
  Dispatch(job);
}

// Moves a job to its next phase (any thread).
void Dispatch(Job* job) {
  for (;;) {
    switch (job->phase_) {
      case Job::Phase::kRun:
        if (job->hasRun_) {
          WorkThreads::Get().Add(job);
          return;
        }
        job->phase_ = Job::Phase::kGpu;
        continue;
      case Job::Phase::kGpu:
        if (job->waitEvent_) {
          job->polled_ = true;
          job->port_->viaPoller.fetch_add(1, std::memory_order_acq_rel);
          Poller::Get().Add(job);
          return;
        }
        job->phase_ = Job::Phase::kAfterGpu;
        continue;
      case Job::Phase::kAfterGpu:
        if (job->hasAfterGpu_) {
          WorkThreads::Get().Add(job);
          return;
        }
        job->phase_ = Job::Phase::kSettle;
        continue;
      case Job::Phase::kSettle: {
        if (job->hasRun_ || job->hasAfterGpu_) {
          Port* port = job->port_.get();
          std::lock_guard<std::mutex> lock(port->m);
          if (--port->hostJobs == 0) port->hostIdle.notify_all();
        }
        PostJob(job);
        return;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Delivery on the JS thread

namespace {

struct PortHolder {
  std::shared_ptr<Port> port;
  ~PortHolder();  // the env's cleanup: see ClosePort
};

std::shared_ptr<Port> SharedPortOf(napi_env env) {
  PortHolder* h = PerEnvTable<PortHolder>().Find(env);
  return h ? h->port : nullptr;
}

}  // namespace

// JS thread, inside a handle scope and a callback scope: settles the job and deletes it.
void DeliverJob(napi_env env, Job* job) {
  Port* port = job->port_.get();
  if (job->polled_) port->viaPoller.fetch_sub(1, std::memory_order_acq_rel);
  try {
    job->Settle(Napi::Env(env));
  } catch (...) {
    // never let a C++ exception cross into N-API (a failing settle leaves the promise pending)
  }
  delete job;
  if (port->pending > 0 && --port->pending == 0 && port->async) uv_unref(reinterpret_cast<uv_handle_t*>(port->async));
  if (port->pending > 0) port->spinUntil = uv_hrtime() + kSpinNs;
}

namespace {

// Runs as a JS function called through napi_make_callback (so node has entered the env's context and opened a
// callback scope: worker threads have no context entered in raw libuv callbacks); settles up to port->batchLimit
// jobs. The promise continuations run right after it returns (the microtask checkpoint that closes the outermost
// callback scope), inside the time OnReady accounts for.
napi_value Deliver(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  auto* port = static_cast<Port*>(data);
  for (unsigned i = 0; i < port->batchLimit; ++i) {
    Job* c = nullptr;
    {
      std::lock_guard<std::mutex> lock(port->m);
      if (port->ready.empty() || port->closed) break;
      c = port->ready.front();
      port->ready.pop_front();
    }
    DeliverJob(env, c);
  }
  return nullptr;
}

// uv_async callback: settles finished jobs in batches (one napi_make_callback each, followed by the microtasks it
// queued) until kDeliveryBudgetNs is spent; the rest waits for the next loop iteration (uv_async_send), so that a
// backlog of thousands of completions never holds the loop much longer than the budget plus one batch.
void DeliverReady(Port* port, void* expected, void* const* current) {
  if (!port || !port->deliver) return;
  napi_env env = port->env;
  const uint64_t start = uv_hrtime();
  for (;;) {
    size_t waiting;
    {
      std::lock_guard<std::mutex> lock(port->m);
      if (port->closed) return;
      waiting = port->ready.size();
    }
    if (waiting == 0) return;
    unsigned target = static_cast<unsigned>(kBatchTargetUs / std::max(port->costPerItemUs, 0.5));
    unsigned limit = std::max(1u, std::min(target, kBatchMax));
    port->batchLimit = waiting < limit ? static_cast<unsigned>(waiting) : limit;
    const uint64_t h0 = uv_hrtime();
    napi_handle_scope hs;
    if (napi_open_handle_scope(env, &hs) != napi_ok) return;
    napi_value fn = nullptr;
    bool ok = napi_get_reference_value(env, port->deliver, &fn) == napi_ok && fn &&
              napi_make_callback(env, port->asyncContext, fn, fn, 0, nullptr, nullptr) == napi_ok;
    if (!ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    napi_close_handle_scope(env, hs);
    if (!ok || *current != expected) return;  // the env is stopping
    const uint64_t h1 = uv_hrtime();
    double us = static_cast<double>(h1 - h0) / 1e3;
    port->costPerItemUs = 0.75 * port->costPerItemUs + 0.25 * (us / port->batchLimit);
    if (h1 - start >= kDeliveryBudgetNs) {
      std::lock_guard<std::mutex> lock(port->m);
      if (!port->closed && !port->ready.empty() && port->async) uv_async_send(port->async);  // after timers and I/O
      return;
    }
  }
}

void OnReady(uv_async_t* handle) { DeliverReady(static_cast<Port*>(handle->data), handle->data, &handle->data); }

}  // namespace

// JS thread: the GPU phase of a local job is over (its event completed): on to the ready list.
void LocalDone(Port* port, Job* c, cudaError_t e, std::vector<Job*>& done) {
  c->gpuStatus_ = e;
  try {
    c->GpuDone();
  } catch (...) {
  }
  c->phase_ = Job::Phase::kSettle;
  --port->localCount;
  done.push_back(c);
}

// JS thread: queries the heads of the local FIFOs (cudaEventQuery needs no particular current device) and moves
// the finished jobs to the ready list. Returns whether any finished.
bool SweepLocal(Port* port) {
  std::vector<Job*> done;
  for (auto it = port->local.begin(); it != port->local.end();) {
    auto& q = it->second;
    // A job done without error means every earlier job of its stream is done too: the finished prefix of a backlog
    // is found by bisection (a few queries instead of one per job; each is a CUDA call on the JS thread). Here
    // only: the local FIFOs hold jobs in the order their events were recorded, all on this thread.
    if (q.size() > 2) {
      size_t lo = 0, hi = q.size();  // q[0, lo) done; q[hi, end) not known to be done
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        cudaError_t e = cudaEventQuery(q[mid]->waitEvent_);
        if (e == cudaSuccess) {
          lo = mid + 1;
        } else if (e == cudaErrorNotReady) {
          hi = mid;
        } else {
          break;  // an error: the jobs are examined one by one below
        }
      }
      for (; lo > 0; --lo) {
        Job* c = q.front();
        q.pop_front();
        LocalDone(port, c, cudaSuccess, done);
      }
    }
    while (!q.empty()) {
      cudaError_t e = cudaEventQuery(q.front()->waitEvent_);
      if (e == cudaErrorNotReady) break;
      Job* c = q.front();
      q.pop_front();
      LocalDone(port, c, e, done);
    }
    it = q.empty() ? port->local.erase(it) : std::next(it);
  }
  for (size_t i = 0; i < port->localLoose.size();) {
    Job* c = port->localLoose[i];
    cudaError_t e = cudaEventQuery(c->waitEvent_);
    if (e == cudaErrorNotReady) {
      ++i;
      continue;
    }
    port->localLoose.erase(port->localLoose.begin() + static_cast<std::ptrdiff_t>(i));
    LocalDone(port, c, e, done);
  }
  if (done.empty()) return false;
  std::lock_guard<std::mutex> lock(port->m);
  for (Job* c : done) port->ready.push_back(c);
  return true;
}

namespace {

// JS thread: the loop stops spinning; the completion thread watches what is left (in each stream's order).
void HandOverLocal(Port* port) {
  for (auto& kv : port->local) {
    for (Job* c : kv.second) Dispatch(c);
  }
  for (Job* c : port->localLoose) Dispatch(c);
  port->local.clear();
  port->localLoose.clear();
  port->localCount = 0;
}

// The loop's idle phase while spinning: watches the local GPU phases, settles what is ready without waiting for
// the async handle's wake-up, and stops spinning (handing the local jobs to the completion thread) when nothing
// is pending or the window is over.
void OnSpin(uv_idle_t* handle) {
  auto* port = static_cast<Port*>(handle->data);
  if (!port) return;
  if (port->localCount > 0) SweepLocal(port);
  bool ready;
  {
    std::lock_guard<std::mutex> lock(port->m);
    ready = !port->ready.empty() && !port->closed;
  }
  if (ready) DeliverReady(port, handle->data, &handle->data);
  if (handle->data != port) return;
  if (port->pending == 0 || uv_hrtime() > port->spinUntil) {
    HandOverLocal(port);
    uv_idle_stop(handle);
    port->spinning = false;
  }
}

// The env is going away (its cleanup hook; JS can no longer run): host phases still running or queued are waited
// for (they may use memory the env's finalizers free next, as Node waits for its pool), GPU work the env queued
// is drained (copies may still write into its ArrayBuffers), then whatever is left is abandoned.
void ClosePort(const std::shared_ptr<Port>& p) {
  bool gpu;
  {
    std::unique_lock<std::mutex> lock(p->m);
    // JS will never run again here: cancel what waits for it (a calibrator's Promise) or would run long (a build)
    // first, whatever order the env's other cleanup hooks run in; then wait for them to stop.
    for (auto& w : p->cancelOnClose) {
      if (auto f = w.lock()) f->store(true);
    }
    p->cancelOnClose.clear();
    p->hostIdle.wait(lock, [&] { return p->hostJobs == 0; });
    gpu = p->pending > 0;
  }
  if (gpu) {
    int current = -1, n = 0;
    if (cudaGetDevice(&current) == cudaSuccess && cudaGetDeviceCount(&n) == cudaSuccess) {
      for (int d = 0; d < n; ++d) {
        if (cudaSetDevice(d) == cudaSuccess) cudaDeviceSynchronize();
      }
      cudaSetDevice(current);
    }
  }
  std::deque<Job*> left;
  {
    std::lock_guard<std::mutex> lock(p->m);
    p->closed = true;
    left.swap(p->ready);
    if (p->async) {
      p->async->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(p->async), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      p->async = nullptr;
    }
    if (p->spin) {
      p->spin->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(p->spin), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
      p->spin = nullptr;
      p->spinning = false;
    }
  }
  for (Job* c : left) AbandonJob(c);
  for (auto& kv : p->local) {
    for (Job* c : kv.second) AbandonJob(c);
  }
  for (Job* c : p->localLoose) AbandonJob(c);
  p->local.clear();
  p->localLoose.clear();
  p->localCount = 0;
}

PortHolder::~PortHolder() {
  if (port) ClosePort(port);
}

}  // namespace

void CancelOnEnvClose(napi_env env, const std::shared_ptr<std::atomic<bool>>& flag) {
  std::shared_ptr<Port> port = SharedPortOf(env);
  if (!port || !flag) return;
  std::lock_guard<std::mutex> lock(port->m);
  auto& v = port->cancelOnClose;
  v.erase(std::remove_if(v.begin(), v.end(), [](const auto& w) { return w.expired(); }), v.end());
  if (port->closed) {
    flag->store(true);
    return;
  }
  v.push_back(flag);
}

void InitCompletion(Napi::Env env) {
  auto port = std::make_shared<Port>();
  port->env = env;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop) {
    auto* h = new uv_async_t();
    if (uv_async_init(loop, h, OnReady) == 0) {
      h->data = port.get();
      uv_unref(reinterpret_cast<uv_handle_t*>(h));
      port->async = h;
    } else {
      delete h;
    }
    auto* idle = new uv_idle_t();
    if (uv_idle_init(loop, idle) == 0) {
      idle->data = port.get();
      uv_unref(reinterpret_cast<uv_handle_t*>(idle));  // never keeps the loop alive by itself
      port->spin = idle;
    } else {
      delete idle;
    }
  }
  napi_value name;
  napi_create_string_utf8(env, "tensorrt-node", NAPI_AUTO_LENGTH, &name);
  napi_value fn;
  if (napi_create_function(env, "tensorrtNodeDeliver", NAPI_AUTO_LENGTH, Deliver, port.get(), &fn) != napi_ok ||
      napi_create_reference(env, fn, 1, &port->deliver) != napi_ok) {
    port->deliver = nullptr;
  }
  napi_value resource;
  napi_create_object(env, &resource);
  napi_ref resourceRef;  // held for the env's lifetime (the async context's resource must stay alive)
  if (napi_create_reference(env, resource, 1, &resourceRef) != napi_ok ||
      napi_async_init(env, resource, name, &port->asyncContext) != napi_ok) {
    port->asyncContext = nullptr;
  }
  auto* holder = new PortHolder();
  holder->port = std::move(port);
  PerEnvTable<PortHolder>().Set(env, holder);
}

// ---------------------------------------------------------------------------------------------------------------
// Job

Job::Job(Napi::Env env) : env_(env), port_(SharedPortOf(env)) {
  if (!port_ || !port_->async || !port_->deliver) {
    throw NativeError("INTERNAL", "the completion mechanism of tensorrt-node is not initialised in this thread");
  }
  int d = 0;
  if (cudaGetDevice(&d) == cudaSuccess) device = d;
}

Job::~Job() = default;

void Job::Start(Job* job) {
  Port* port = job->port_.get();
  job->started_ = true;
  if (port->pending++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(port->async));
  port->spinUntil = uv_hrtime() + kSpinNs;
  if (port->spin && !port->spinning) {
    uv_idle_start(port->spin, OnSpin);
    port->spinning = true;
  }
  if (job->hasRun_ || job->hasAfterGpu_) {
    std::lock_guard<std::mutex> lock(port->m);
    ++port->hostJobs;
  } else if (job->waitEvent_ && port->spinning && port->viaPoller.load(std::memory_order_acquire) == 0) {
    // a GPU phase alone: the spinning loop watches it (no hand-off between threads when it completes soon)
    job->phase_ = Phase::kGpu;
    if (job->streamOrdered_) {
      port->local[job->waitStream_].push_back(job);
    } else {
      port->localLoose.push_back(job);
    }
    ++port->localCount;
    return;
  }
  job->phase_ = Phase::kRun;
  Dispatch(job);
}

// ---------------------------------------------------------------------------------------------------------------
// PromiseWorker

PromiseWorker::PromiseWorker(Napi::Env env) : Job(env) {
  if (napi_create_promise(env, &deferred_, &promise_) != napi_ok) {
    throw NativeError("INTERNAL", "napi_create_promise failed");
  }
  hasRun_ = true;
}

PromiseWorker::~PromiseWorker() = default;

Napi::Promise PromiseWorker::Promise() { return Napi::Promise(Env(), promise_); }

void PromiseWorker::Queue() {
  if (!deviceSet_) {
    int d = 0;
    if (cudaGetDevice(&d) == cudaSuccess) device = d;
  }
  Start(this);
}

void PromiseWorker::Settle(Napi::Env env) {
  if (!failed_ && gpuStatus_ != cudaSuccess) {
    try {
      ThrowCuda(gpuStatus_, "waiting for the GPU");
    } catch (const std::exception& e) {
      Fail(e);
    }
  }
  if (!failed_) {
    try {
      napi_resolve_deferred(env, deferred_, Result(env));
      return;
    } catch (const Napi::Error& e) {
      Napi::Value v = e.Value();
      if (v.IsObject()) DecorateError(env, v.As<Napi::Object>());
      napi_reject_deferred(env, deferred_, v);
      return;
    } catch (const std::exception& e) {
      Napi::Error err = ToJsError(env, e);
      DecorateError(env, err.Value());
      napi_reject_deferred(env, deferred_, err.Value());
      return;
    }
  }
  Napi::Error err = ToJsError(env, NativeError(code_.empty() ? "INTERNAL" : code_, message_, cudaError_));
  DecorateError(env, err.Value());
  napi_reject_deferred(env, deferred_, err.Value());
}

void PromiseWorker::Abandon() {
  // Deliberately leaked: its deferred and the subclass's references belong to the env that is gone.
}

// ---------------------------------------------------------------------------------------------------------------
// Pooled completion events, per device

namespace {
std::mutex g_eventPoolMutex;
std::map<int, std::vector<cudaEvent_t>>& EventPool() {
  static auto* m = new std::map<int, std::vector<cudaEvent_t>>();
  return *m;
}
}  // namespace

cudaEvent_t AcquireEvent(int device) {
  {
    std::lock_guard<std::mutex> lock(g_eventPoolMutex);
    auto& v = EventPool()[device];
    if (!v.empty()) {
      cudaEvent_t e = v.back();
      v.pop_back();
      return e;
    }
  }
  DeviceGuard guard(device);
  cudaEvent_t ev = nullptr;
  TN_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));  // only ever queried
  return ev;
}

void ReleaseEvent(int device, cudaEvent_t ev) {
  if (!ev) return;
  {
    std::lock_guard<std::mutex> lock(g_eventPoolMutex);
    auto& v = EventPool()[device];
    if (v.size() < 4096) {
      v.push_back(ev);
      return;
    }
  }
  DeviceGuard guard(device);
  cudaEventDestroy(ev);
}

// ---------------------------------------------------------------------------------------------------------------
// GpuJob

GpuJob::GpuJob(Napi::Env env, int dev, cudaStream_t stream, const char* what) : Job(env), what_(what) {
  device = dev;
  waitStream_ = stream;
}

GpuJob::~GpuJob() {
  if (pooled_) ReleaseEvent(device, pooled_);
}

void GpuJob::WaitShared(cudaEvent_t ev, std::shared_ptr<void> holder) {
  waitEvent_ = ev;
  shared_ = std::move(holder);
  streamOrdered_ = false;
}

void GpuJob::ReleaseNative() {
  if (pooled_) ReleaseEvent(device, pooled_);
  pooled_ = nullptr;
  shared_.reset();
}

Napi::Value GpuJob::Submit(Napi::Env env, std::unique_ptr<GpuJob> c, Napi::Value keep) {
  if (!c->waitEvent_) {
    c->pooled_ = AcquireEvent(c->device);
    cudaError_t e = cudaEventRecord(c->pooled_, c->waitStream_);
    if (e != cudaSuccess) {
      c->ReleaseNative();
      ThrowCuda(e, "cudaEventRecord");
    }
    c->waitEvent_ = c->pooled_;
  }
  napi_value promise;
  if (napi_create_promise(env, &c->deferred_, &promise) != napi_ok) {
    c->ReleaseNative();
    throw NativeError("INTERNAL", "napi_create_promise failed");
  }
  if (c->KeepsHostMemory() && !keep.IsEmpty() && keep.IsObject()) napi_create_reference(env, keep, 1, &c->keep_);
  Job::Start(c.release());
  return Napi::Value(env, promise);
}

void GpuJob::Settle(Napi::Env env) {
  if (gpuStatus_ == cudaSuccess) Finish();
  ReleaseNative();
  if (keep_) napi_delete_reference(env, keep_);
  keep_ = nullptr;
  if (gpuStatus_ == cudaSuccess) {
    napi_resolve_deferred(env, deferred_, env.Undefined());
    return;
  }
  try {
    ThrowCuda(gpuStatus_, what_);
  } catch (const NativeError& e) {
    napi_reject_deferred(env, deferred_, ToJsError(env, e).Value());
  }
}

void GpuJob::Abandon() {
  // The env is gone: its promise and references went with it.
  keep_ = nullptr;
  ReleaseNative();
  delete this;
}

}  // namespace tn::cuda
