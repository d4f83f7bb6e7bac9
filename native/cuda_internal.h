// Internal helpers shared by the CUDA layer's files (device.cc, memory.cc, pageable.cc, stream.cc, completion.cc).
// Not for the TensorRT files: they use cuda.h.
#pragma once

#include <napi.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "completion.h"
#include "cuda.h"
#include "errors.h"

namespace tn::cuda {

// Per-env constructors (the addon may be loaded in several worker_threads).
struct Constructors {
  Napi::FunctionReference deviceBuffer, hostBuffer, stream, event;
};
Constructors* Ctors(Napi::Env env);
bool InstanceOf(Napi::Value v, Napi::FunctionReference& ctor);

// Creates the env's delivery port (completion.cc); called once per env by InitCuda.
void InitCompletion(Napi::Env env);

[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowDisposed(Napi::Env env, const char* what);
// A non-negative integer that fits size_t (doubles above 2^53 are refused).
size_t SizeArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* name, bool optional = false,
               size_t def = 0);
int IntArg(Napi::Env env, Napi::Value v, const char* name);
Napi::BigInt PtrToBigInt(Napi::Env env, const void* p);

// Pooled completion events (cudaEventDisableTiming) of `device`.
cudaEvent_t AcquireEvent(int device);
void ReleaseEvent(int device, cudaEvent_t ev);

// ---- pageable.cc: pageable host memory in asynchronous copies
constexpr size_t kSmallPageable = size_t(256) << 10;      // device->host through one staging block
constexpr size_t kDriverPageableH2D = size_t(256) << 10;  // host->device through CUDA's own pageable path
constexpr size_t kStagedH2D = size_t(2) << 20;  // host->device up to this: memcpy to a staging block, then the DMA
struct Staging {
  void* ptr = nullptr;
  size_t cap = 0;
};
// A pinned staging block of at least n bytes, or an empty one when the blocks in use would pass the cap (the
// caller then takes the piecewise pipeline, whose memory is bounded).
Staging AcquireStaging(size_t n);
void ReleaseStaging(Staging s);
// A pinned block of kStagedH2D bytes, or nullptr when all are in flight. Any thread may return it.
void* AcquireStagedH2D();
void ReleaseStagedH2D(void* p);
// Parallel memcpy when the helper threads are free, else a plain memcpy (never waits for another caller).
void TryParallelCopy(void* dst, const void* src, size_t n);
// Large pageable copies through the per-device pipeline; `device` selected, `stream` of `device`. Return after
// enqueueing (the device->host one makes `stream` wait for its last host copy).
void EnqueuePageableH2D(int device, cudaStream_t stream, uint8_t* dst, const uint8_t* src, size_t n);
void EnqueuePageableD2H(int device, cudaStream_t stream, uint8_t* dst, const uint8_t* src, size_t n);

// A Job resolving a Promise with undefined once the work queued so far on a stream has completed (or once a
// shared event has): copies, fill, Stream.synchronize(), Event.synchronize(). Subclasses add what a copy holds.
class GpuJob : public Job {
 public:
  // JS thread, `device` selected: `stream` of `device` (nullptr: the legacy default stream).
  GpuJob(Napi::Env env, int device, cudaStream_t stream, const char* what);
  ~GpuJob() override;
  // Waits for `ev` (kept alive by `holder`) instead of a pooled event recorded on the stream.
  void WaitShared(cudaEvent_t ev, std::shared_ptr<void> holder);
  // Records the completion event (unless WaitShared), creates the Promise, keeps `keep` (the JS object owning host
  // memory, if any) alive until the work is done and starts the job. The job is owned by the mechanism afterwards.
  static Napi::Value Submit(Napi::Env env, std::unique_ptr<GpuJob> job, Napi::Value keep);
  // Keeps `h` (a DeviceMemory, a StreamHandle, ...) alive until the job is over (released with ReleaseNative).
  void Hold(std::shared_ptr<void> h) {
    if (h) holds_.push_back(std::move(h));
  }

 protected:
  void Settle(Napi::Env env) override;
  void Abandon() override;
  // Releases the native parts (any thread).
  virtual void ReleaseNative();
  // Before the promise resolves (JS thread, GPU work succeeded): e.g. the host side of a staged copy.
  virtual void Finish() {}
  virtual bool KeepsHostMemory() const { return false; }

  napi_deferred deferred_ = nullptr;
  napi_ref keep_ = nullptr;
  const char* what_;
  cudaEvent_t pooled_ = nullptr;
  std::shared_ptr<void> shared_;
  std::vector<std::shared_ptr<void>> holds_;
};

}  // namespace tn::cuda
