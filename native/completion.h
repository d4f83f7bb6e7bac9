// The one completion mechanism of tensorrt-node: every asynchronous native call (copies, fills, synchronize(),
// infer(), builds, parsing, deserialization) is a Job that settles its Promise on its env's JS thread.
//
// A Job goes through up to three phases before it settles, each optional, in this order:
//   1. Run()       host work on one of the addon's own work threads (never a libuv pool thread), e.g. a build, a
//                  parse, a deserialization, or queueing an inference (enqueueV3 may block: weight streaming);
//   2. the GPU     the job waits until a CUDA event has completed, watched with cudaEventQuery (nobody blocks in
//                  cudaEventSynchronize): by the JS thread's loop itself for jobs it started while it polls
//                  without blocking anyway (for 0.1 ms after each submission or settlement), else by the addon's
//                  completion thread, which also takes over what the loop still watches when it stops polling;
//   3. AfterGpu()  host work on a work thread once the GPU is done (e.g. moving outputs out of pinned staging);
// then Settle() runs on the JS thread, from the env's uv_async handle, in batches bounded to about 0.5 ms per
// loop iteration (the promise continuations included), so timers and I/O keep their turn under load; the job is
// deleted there. Nothing parks a libuv pool thread: fs, dns, zlib and crypto keep the whole pool.
//
// Every thread that touches a job selects the job's CUDA device first (Job::device).
// When the env goes away, its jobs still running on a work thread are waited for (as Node waits for its pool),
// the GPU work it queued is drained, and jobs that finish later are Abandon()ed without touching JS.
#pragma once

#include <napi.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace tn::cuda {

struct Port;

// Makes `device` current on the calling thread (a no-op when it is). Returns the CUDA status.
cudaError_t SelectDevice(int device);

// JS thread: `flag` is set to true when `env` is torn down (its cleanup hook, before it waits for the env's host
// phases still running). Long host phases that wait for JS or run for long (builds, calibration) register their
// cancel flag here, so that the teardown cancels them instead of waiting for them (defect #3). Held weakly.
void CancelOnEnvClose(napi_env env, const std::shared_ptr<std::atomic<bool>>& flag);

// Selects `device` while alive and restores the previous device afterwards; never throws (errors surface in the
// CUDA calls that follow). device < 0: does nothing.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = -1;
};

class Job {
 public:
  // JS thread. Throws NativeError INTERNAL when the CUDA module is not initialised in this env.
  explicit Job(Napi::Env env);
  virtual ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  // JS thread: hands the job over (ownership included). It settles later, on this thread's loop.
  static void Start(Job* job);

  Napi::Env Env() const { return Napi::Env(env_); }
  int device = 0;  // selected on every thread that runs a phase of this job (set on the JS thread before Start)

 protected:
  // Phase switches: set by the subclass before Start (or, for the GPU wait, during Run()).
  bool hasRun_ = false;
  bool hasAfterGpu_ = false;
  cudaEvent_t waitEvent_ = nullptr;  // the GPU phase waits for this event (nullptr: no GPU phase)
  cudaStream_t waitStream_ = nullptr;
  bool streamOrdered_ = true;  // completes in order with the other jobs of waitStream_ (false: watched alone)

  virtual void Run() {}
  // Completion thread, as soon as the GPU phase is over (gpuStatus_ set): cheap work only (e.g. returning a
  // staging block). Never touches JS.
  virtual void GpuDone() {}
  virtual void AfterGpu() {}
  // JS thread, inside a handle scope and a callback scope. The job is deleted right after.
  virtual void Settle(Napi::Env env) = 0;
  // The env is gone: no JS may run. Default: delete this. Jobs holding JS references leak them instead.
  virtual void Abandon() { delete this; }

  // Outcome of the host phases and the GPU wait (read in Settle()).
  bool failed_ = false;
  std::string code_, message_, cudaError_;
  cudaError_t gpuStatus_ = cudaSuccess;
  void Fail(const std::exception& e);

 private:
  friend struct Port;
  friend class Poller;
  friend class WorkThreads;
  friend void Dispatch(Job* job);
  friend void PostJob(Job* job);
  friend void DeliverJob(napi_env env, Job* job);
  friend void AbandonJob(Job* job);
  friend void RunHostPhase(Job* job);
  friend void LocalDone(Port* port, Job* c, cudaError_t e, std::vector<Job*>& done);
  friend bool SweepLocal(Port* port);
  enum class Phase { kRun, kGpu, kAfterGpu, kSettle };
  Phase phase_ = Phase::kRun;
  napi_env env_;
  std::shared_ptr<Port> port_;
  bool started_ = false;
  bool polled_ = false;  // the completion thread watched its GPU phase
};

// A Job resolving a Promise: Run() on a work thread (it may throw NativeError or any std::exception: the promise
// rejects with the corresponding JS error); Result() on the JS thread after success produces the resolution value
// (it may throw too). The job is deleted on the JS thread after the promise settled.
// Usage: auto* w = new MyWorker(env, ...); Napi::Promise p = w->Promise(); w->Queue(); return p;
// (delete it yourself only if it was never queued). Run() runs with the device that was current at Queue()
// (or the one given to UseDevice()) selected.
class PromiseWorker : public Job {
 public:
  explicit PromiseWorker(Napi::Env env);
  ~PromiseWorker() override;
  Napi::Promise Promise();
  void Queue();
  void UseDevice(int d) {
    device = d;
    deviceSet_ = true;
  }
  // JS thread, before Queue(): runs the host phase (Run()) here and now instead of on a work thread, so that the
  // GPU work it queues precedes whatever JS queues on the same stream after the call (review 2, #9). A failure
  // rejects the promise once Queue() hands the job over (after the GPU work already queued, if any, has drained).
  void IssueNow() {
    hasRun_ = false;
    try {
      Run();
    } catch (const std::exception& e) {
      Fail(e);
    }
  }

 protected:
  void Run() override = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;
  // JS thread, just before the promise rejects: add properties to the error (e.g. `parserErrors`). Optional.
  virtual void DecorateError(Napi::Env env, Napi::Object error) {
    (void)env;
    (void)error;
  }
  void Settle(Napi::Env env) final;
  void Abandon() override;  // leaks: the deferred and the subclass's references belong to the dead env

 private:
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;  // valid in the creating call only
  bool deviceSet_ = false;
};

}  // namespace tn::cuda

namespace tn {
using cuda::PromiseWorker;
}  // namespace tn
