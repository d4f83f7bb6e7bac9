// Internal to the completion mechanism (completion.h), shared by its four files:
//   completion.cc         phases of a job (Dispatch), PromiseWorker, pooled events, GpuJob
//   completion_port.cc    the JS-thread side: per-env delivery ports, the loop's own GPU watching, teardown
//   completion_thread.cc  the completion thread watching CUDA events
//   work_threads.cc       the bounded pool of work threads running host phases
#pragma once

#include <napi.h>
#include <cuda_runtime_api.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "completion.h"

namespace tn::cuda {

// Jobs of one stream complete in order. A stream is named by its device and its handle: the legacy default stream
// is nullptr on every device, so the handle alone would merge the default streams of two devices into one FIFO
// (review 2, defect #1). Handles of Stream objects cannot be reused while a job waits on them: the job holds the
// stream (StreamRef), so cudaStreamDestroy runs only after the last job let go.
using StreamKey = std::pair<int, cudaStream_t>;
inline StreamKey KeyOf(int device, cudaStream_t s) { return {device, s}; }

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
  std::map<StreamKey, std::deque<Job*>> local;
  std::vector<Job*> localLoose;
  size_t localCount = 0;
  // This env's jobs whose GPU phase went to the completion thread, not yet settled. While there are any, new jobs
  // go there too (so that the jobs of one stream complete in call order).
  std::atomic<size_t> viaPoller{0};
  // JS thread only: devices of this env's jobs not yet settled (teardown drains these, not every GPU)
  std::map<int, size_t> pendingDevices;
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
void PostJob(Job* job);
void RunHostPhase(Job* job);
// completion_thread.cc: the completion thread takes over the job's GPU phase.
void WatchGpu(Job* job);
// work_threads.cc: a work thread runs the job's next host phase.
void RunOnWorkThread(Job* job);

}  // namespace tn::cuda
