// CUDA surface of tensorrt-node: device queries, DeviceBuffer, HostBuffer (pinned), Stream, Event and
// asynchronous host<->device copies whose completion resolves a Promise without blocking the JS thread.
// Files: device.cc (devices, module init), memory.cc (Pinned, DeviceBuffer, HostBuffer, copies), pageable.cc
// (pageable host memory in copies), stream.cc (Stream, Event), completion.cc (the one completion mechanism).
// Every object remembers the device it was created on and selects it on every thread that touches it.
//
// Helpers for other native files (e.g. the TensorRT execution context):
//   tn::cuda::StreamFromValue(env, v)        Stream object | bigint handle | undefined/null (legacy default stream)
//   tn::cuda::DevicePointerFromValue(env, v) DeviceBuffer object | bigint address
#pragma once

#include <napi.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tn::cuda {

// Pinned (page-locked, portable) host allocation shared by a HostBuffer, its ArrayBuffer and in-flight
// copies; freed (cudaFreeHost) when the last holder lets go, or at once by HostBuffer.dispose().
struct Pinned {
  Pinned(napi_env env, size_t size);  // throws NativeError (CUDA_UNAVAILABLE / OUT_OF_MEMORY / CUDA_ERROR)
  ~Pinned();
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;
  void Free();  // JS thread only
  napi_env env;
  void* ptr = nullptr;
  size_t size = 0;
};

// The Pinned allocation holding [p, p + n), if any (JS thread only).
std::shared_ptr<Pinned> FindPinned(const void* p, size_t n);

// A device allocation shared by its DeviceBuffer and everything still using it: jobs in flight (copies, fills,
// enqueueAsync), an ExecutionContext's bindings, captured graphs. cudaFree runs (its device selected) when the last
// holder lets go, so DeviceBuffer.dispose() right after queueing work never frees memory the GPU still uses
// (review 2, defect #3).
struct DeviceMemory {
  void* ptr = nullptr;
  size_t size = 0;
  int device = 0;
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory();
};

// A cudaStream_t shared by its Stream object and the jobs queued on it: cudaStreamDestroy runs when the last lets go,
// so a job never uses a destroyed stream and a handle is never reused while a job waits on it (defects #1, #3).
struct StreamHandle {
  cudaStream_t stream = nullptr;
  int device = 0;
  StreamHandle() = default;
  StreamHandle(const StreamHandle&) = delete;
  StreamHandle& operator=(const StreamHandle&) = delete;
  ~StreamHandle();
};

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function Init(Napi::Env env);
  static bool IsInstance(Napi::Value v);
  static DeviceBuffer* Unwrap(Napi::Value v);  // nullptr unless a DeviceBuffer
  explicit DeviceBuffer(const Napi::CallbackInfo& info);
  ~DeviceBuffer() override;

  void* data() const { return ptr_; }
  size_t size() const { return size_; }
  int device() const { return device_; }
  bool disposed() const { return disposed_; }
  void CheckAlive(Napi::Env env) const;
  // The allocation (nullptr once disposed): hold it for as long as the GPU may use the memory.
  const std::shared_ptr<DeviceMemory>& memory() const { return mem_; }

 private:
  void Free(napi_env env);
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);
  Napi::Value GetAddress(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value CopyFromHost(const Napi::CallbackInfo& info);
  Napi::Value CopyToHost(const Napi::CallbackInfo& info);
  Napi::Value CopyHost(const Napi::CallbackInfo& info, bool toHost);  // both of the above
  Napi::Value CopyFromDevice(const Napi::CallbackInfo& info);
  Napi::Value Fill(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<DeviceMemory> mem_;
  void* ptr_ = nullptr;
  size_t size_ = 0;
  int device_ = 0;
  bool disposed_ = false;
};

class HostBuffer : public Napi::ObjectWrap<HostBuffer> {
 public:
  static Napi::Function Init(Napi::Env env);
  static HostBuffer* Unwrap(Napi::Value v);  // nullptr unless a HostBuffer
  explicit HostBuffer(const Napi::CallbackInfo& info);
  ~HostBuffer() override;

  const std::shared_ptr<Pinned>& pinned() const { return pinned_; }
  void CheckAlive(Napi::Env env) const;

 private:
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);
  Napi::Value GetBuffer(const Napi::CallbackInfo& info);
  Napi::Value GetAddress(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<Pinned> pinned_;
  std::shared_ptr<Pinned>* abHolder_ = nullptr;  // owned by the ArrayBuffer's finalizer
  Napi::ObjectReference arrayBuffer_;
  size_t size_ = 0;
  bool disposed_ = false;
};

class Stream : public Napi::ObjectWrap<Stream> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Stream* Unwrap(Napi::Value v);
  explicit Stream(const Napi::CallbackInfo& info);
  ~Stream() override;

  cudaStream_t handle() const { return stream_; }
  int device() const { return device_; }
  const std::shared_ptr<StreamHandle>& shared() const { return shared_; }
  void CheckAlive(Napi::Env env) const;

 private:
  void Destroy();
  Napi::Value GetHandle(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetPriority(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value Synchronize(const Napi::CallbackInfo& info);
  Napi::Value Query(const Napi::CallbackInfo& info);
  Napi::Value WaitEvent(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<StreamHandle> shared_;
  cudaStream_t stream_ = nullptr;
  int priority_ = 0;
  int device_ = 0;
  bool disposed_ = false;
};

struct EventHandle;  // shared cudaEvent_t (kept alive by pending synchronize() calls)

class Event : public Napi::ObjectWrap<Event> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Event* Unwrap(Napi::Value v);
  explicit Event(const Napi::CallbackInfo& info);
  ~Event() override;

  cudaEvent_t handle() const { return event_; }
  int device() const { return device_; }
  void CheckAlive(Napi::Env env) const;

 private:
  void Destroy();
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetTiming(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value Record(const Napi::CallbackInfo& info);
  Napi::Value Synchronize(const Napi::CallbackInfo& info);
  Napi::Value Query(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  cudaEvent_t event_ = nullptr;
  std::shared_ptr<EventHandle> handle_;
  bool timing_ = true;
  int device_ = 0;
  bool disposed_ = false;
};

// undefined / null -> legacy default stream (nullptr); a Stream object -> its handle; a bigint -> that handle.
// `device` (optional) receives the Stream object's device, or -1 (default stream, bigint handle).
// `hold` (optional) receives the Stream object's StreamHandle (nullptr for the default stream and bigint handles,
// which the caller owns): keep it while the stream is used off the JS thread or later.
cudaStream_t StreamFromValue(Napi::Env env, Napi::Value v, int* device = nullptr,
                             std::shared_ptr<StreamHandle>* hold = nullptr);
// A DeviceBuffer (alive) -> its pointer; a bigint -> that address. `hold` (optional) receives the DeviceBuffer's
// allocation (nullptr for a bigint address, which the caller owns).
void* DevicePointerFromValue(Napi::Env env, Napi::Value v, std::shared_ptr<DeviceMemory>* hold = nullptr);

// Properties of `device` as a JS object (throws NativeError on CUDA failure).
Napi::Object DevicePropertiesObject(Napi::Env env, int device);

// Throws NativeError CUDA_UNAVAILABLE etc. when the CUDA runtime cannot be used (cached after the first call).
void EnsureCuda();

}  // namespace tn::cuda
