// The completion mechanism (see completion.h): the phases of a job, PromiseWorker, pooled completion events, GpuJob.
// The JS-thread side is completion_port.cc, the completion thread completion_thread.cc, the work threads
// work_threads.cc (shared declarations: completion_internal.h).
#include "completion.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "completion_internal.h"
#include "cuda_internal.h"
#include "errors.h"

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
          RunOnWorkThread(job);
          return;
        }
        job->phase_ = Job::Phase::kGpu;
        continue;
      case Job::Phase::kGpu:
        if (job->waitEvent_) {
          job->polled_ = true;
          job->port_->viaPoller.fetch_add(1, std::memory_order_acq_rel);
          WatchGpu(job);
          return;
        }
        job->phase_ = Job::Phase::kAfterGpu;
        continue;
      case Job::Phase::kAfterGpu:
        if (job->hasAfterGpu_) {
          RunOnWorkThread(job);
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
  holds_.clear();  // may free a disposed DeviceBuffer's memory or destroy a disposed Stream (the GPU is done)
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
