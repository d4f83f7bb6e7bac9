// The JS-thread side of the completion mechanism (completion.h): per-env delivery ports (uv_async), the loop's own
// watching of GPU phases while it spins, settlement in bounded batches, and the env's teardown.
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "completion_internal.h"
#include "cuda_internal.h"
#include "errors.h"
#include "per_env.h"

namespace tn::cuda {

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
  const int device = job->device;
  delete job;
  auto pd = port->pendingDevices.find(device);
  if (pd != port->pendingDevices.end() && --pd->second == 0) port->pendingDevices.erase(pd);
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
    // Only the devices this env still has jobs on (review 2, #13: not every GPU of the process, which other envs
    // and other processes' contexts share).
    int current = -1;
    if (cudaGetDevice(&current) == cudaSuccess) {
      for (const auto& kv : p->pendingDevices) {
        if (kv.second > 0 && cudaSetDevice(kv.first) == cudaSuccess) cudaDeviceSynchronize();
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
  ++port->pendingDevices[job->device];
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
      port->local[KeyOf(job->device, job->waitStream_)].push_back(job);
    } else {
      port->localLoose.push_back(job);
    }
    ++port->localCount;
    return;
  }
  job->phase_ = Phase::kRun;
  Dispatch(job);
}

}  // namespace tn::cuda
