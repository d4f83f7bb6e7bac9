// Memory: Pinned (page-locked host allocations), DeviceBuffer, HostBuffer and the asynchronous copies between them.
// Every DeviceBuffer remembers its device and selects it (or its stream's device) for each call; the copies settle
// through the completion mechanism (completion.h) as GpuJobs. Pageable host memory: see pageable.cc.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "cuda_internal.h"

namespace tn::cuda {

namespace {

// Registry of live pinned allocations (so that TypedArray views of a HostBuffer take the pinned path).
std::mutex g_pinnedMutex;
std::map<uintptr_t, std::weak_ptr<Pinned>>& PinnedRegistry() {
  static auto* m = new std::map<uintptr_t, std::weak_ptr<Pinned>>();
  return *m;
}

// An asynchronous copy or fill: holds the host memory it uses until the GPU is done.
class CopyJob : public GpuJob {
 public:
  using GpuJob::GpuJob;
  Staging staging;            // device->host through a staging block: emptied into d2hDst on the JS thread
  void* stagedH2D = nullptr;  // a staged host->device block: returned as soon as the DMA is done
  void* d2hDst = nullptr;
  size_t d2hLen = 0;
  std::shared_ptr<Pinned> pinned;

 protected:
  void GpuDone() override {
    if (stagedH2D) ReleaseStagedH2D(stagedH2D);  // the DMA has read it
    stagedH2D = nullptr;
  }
  void Finish() override {
    if (d2hDst && d2hLen) std::memcpy(d2hDst, staging.ptr, d2hLen);
  }
  bool KeepsHostMemory() const override { return !pinned && !stagedH2D; }
  void ReleaseNative() override {
    GpuJob::ReleaseNative();
    ReleaseStaging(staging);
    staging = {};
    if (stagedH2D) ReleaseStagedH2D(stagedH2D);
    stagedH2D = nullptr;
    pinned.reset();
  }
  void Abandon() override {
    // A pinned HostBuffer allocation is left alone (freeing it would report to the dead env).
    if (pinned) new std::shared_ptr<Pinned>(std::move(pinned));  // deliberately leaked
    GpuJob::Abandon();
  }
};

// Host memory named by a JS value: HostBuffer, ArrayBuffer, TypedArray or DataView.
struct HostSpan {
  uint8_t* data = nullptr;
  size_t length = 0;
  std::shared_ptr<Pinned> pinned;  // set when the memory is page-locked (ours)
  Napi::Object keep;               // the JS object that owns the memory
};

HostSpan HostSpanFrom(Napi::Env env, Napi::Value v, const char* name) {
  HostSpan s;
  if (HostBuffer* hb = HostBuffer::Unwrap(v)) {
    hb->CheckAlive(env);
    s.pinned = hb->pinned();
    s.data = static_cast<uint8_t*>(s.pinned->ptr);
    s.length = s.pinned->size;
    s.keep = v.As<Napi::Object>();
    return s;
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    s.data = static_cast<uint8_t*>(ab.Data());
    s.length = ab.ByteLength();
    s.keep = ab;
  } else if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    Napi::ArrayBuffer ab = ta.ArrayBuffer();
    s.data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
    s.length = ta.ByteLength();
    s.keep = ab;
  } else if (v.IsDataView()) {
    auto dv = v.As<Napi::DataView>();
    Napi::ArrayBuffer ab = dv.ArrayBuffer();
    s.data = static_cast<uint8_t*>(ab.Data()) + dv.ByteOffset();
    s.length = dv.ByteLength();
    s.keep = ab;
  } else {
    ThrowInvalid(env, std::string(name) + " must be a HostBuffer, ArrayBuffer or TypedArray");
  }
  if (s.length > 0 && s.data == nullptr) ThrowInvalid(env, std::string(name) + " is detached");
  if (s.length > 0) s.pinned = FindPinned(s.data, s.length);
  return s;
}

void CheckRange(Napi::Env env, size_t offset, size_t len, size_t total, const char* what) {
  if (offset > total || len > total - offset) {
    ThrowInvalid(env, std::string(what) + ": range [" + std::to_string(offset) + ", " + std::to_string(offset) + "+" +
                          std::to_string(len) + ") exceeds " + std::to_string(total) + " bytes");
  }
}

// The device a call on a buffer of `own` runs on: the stream's when the stream is a Stream object, else `own`.
int CallDevice(int own, int streamDevice) { return streamDevice >= 0 ? streamDevice : own; }

// The arguments of copyFromHost(src, srcOffset, byteLength, dstOffset, stream?) and copyToHost(dst, dstOffset,
// byteLength, srcOffset, stream?), which share their order: host memory, its offset, the length, the device
// buffer's offset, the stream. Default length: the rest of the host memory (to the device), or the shorter of the
// two rests (to the host).
struct HostCopy {
  HostSpan host;
  size_t hostOff = 0, n = 0, devOff = 0;
  cudaStream_t stream = nullptr;
  int streamDevice = -1;
  std::shared_ptr<StreamHandle> streamHold;
};

HostCopy HostCopyArgs(const Napi::CallbackInfo& info, size_t deviceSize, bool toHost) {
  Napi::Env env = info.Env();
  HostCopy a;
  a.host = HostSpanFrom(env, info[0], toHost ? "dst" : "src");
  a.hostOff = SizeArg(env, info, 1, toHost ? "dstOffset" : "srcOffset", true, 0);
  a.devOff = SizeArg(env, info, 3, toHost ? "srcOffset" : "dstOffset", true, 0);
  size_t hostRest = a.host.length >= a.hostOff ? a.host.length - a.hostOff : 0;
  size_t deviceRest = deviceSize >= a.devOff ? deviceSize - a.devOff : 0;
  a.n = SizeArg(env, info, 2, "byteLength", true, toHost ? std::min(hostRest, deviceRest) : hostRest);
  CheckRange(env, a.hostOff, a.n, a.host.length, toHost ? "destination" : "source");
  CheckRange(env, a.devOff, a.n, deviceSize, toHost ? "source DeviceBuffer" : "destination DeviceBuffer");
  a.stream = StreamFromValue(env, info[4], &a.streamDevice, &a.streamHold);
  return a;
}

// cudaMemcpyAsync into or out of a staging block: on failure the block goes back (`release`) before the throw.
template <typename Release>
void StagedMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t stream, Release release) {
  cudaError_t e = cudaMemcpyAsync(dst, src, n, kind, stream);
  if (e != cudaSuccess) {
    release();
    ThrowCuda(e, "cudaMemcpyAsync");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Pinned

Pinned::Pinned(napi_env e, size_t n) : env(e), size(n) {
  EnsureCuda();
  if (n > 0) {
    TN_CUDA_CHECK(cudaHostAlloc(&ptr, n, cudaHostAllocPortable));
    int64_t unused;
    napi_adjust_external_memory(env, static_cast<int64_t>(n), &unused);
  }
}

Pinned::~Pinned() { Free(); }

void Pinned::Free() {
  if (!ptr) return;
  {
    std::lock_guard<std::mutex> lock(g_pinnedMutex);
    PinnedRegistry().erase(reinterpret_cast<uintptr_t>(ptr));
  }
  cudaFreeHost(ptr);
  ptr = nullptr;
  int64_t unused;
  napi_adjust_external_memory(env, -static_cast<int64_t>(size), &unused);
}

std::shared_ptr<Pinned> FindPinned(const void* p, size_t n) {
  std::lock_guard<std::mutex> lock(g_pinnedMutex);
  auto& reg = PinnedRegistry();
  auto addr = reinterpret_cast<uintptr_t>(p);
  auto it = reg.upper_bound(addr);
  if (it == reg.begin()) return nullptr;
  --it;
  auto sp = it->second.lock();
  if (!sp || !sp->ptr) return nullptr;
  auto base = reinterpret_cast<uintptr_t>(sp->ptr);
  if (addr >= base && addr + n <= base + sp->size) return sp;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------------------
// DeviceBuffer

Napi::Function DeviceBuffer::Init(Napi::Env env) {
  return DefineClass(env, "DeviceBuffer",
                     {
                         InstanceAccessor<&DeviceBuffer::GetByteLength>("byteLength"),
                         InstanceAccessor<&DeviceBuffer::GetAddress>("address"),
                         InstanceAccessor<&DeviceBuffer::GetDisposed>("disposed"),
                         InstanceAccessor<&DeviceBuffer::GetDevice>("device"),
                         InstanceMethod<&DeviceBuffer::CopyFromHost>("copyFromHost"),
                         InstanceMethod<&DeviceBuffer::CopyToHost>("copyToHost"),
                         InstanceMethod<&DeviceBuffer::CopyFromDevice>("copyFromDevice"),
                         InstanceMethod<&DeviceBuffer::Fill>("fill"),
                         InstanceMethod<&DeviceBuffer::Dispose>("dispose"),
                     });
}

bool DeviceBuffer::IsInstance(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  return c && InstanceOf(v, c->deviceBuffer);
}

DeviceBuffer* DeviceBuffer::Unwrap(Napi::Value v) {
  if (!IsInstance(v)) return nullptr;
  return Napi::ObjectWrap<DeviceBuffer>::Unwrap(v.As<Napi::Object>());
}

// new DeviceBuffer(byteLength): on the current device, which the buffer remembers.
DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  Napi::Env env = info.Env();
  size_t n = SizeArg(env, info, 0, "byteLength");
  Guard(env, [&] {
    EnsureCuda();
    TN_CUDA_CHECK(cudaGetDevice(&device_));
    auto m = std::make_shared<DeviceMemory>();
    m->device = device_;
    if (n > 0) TN_CUDA_CHECK(cudaMalloc(&m->ptr, n));
    m->size = n;
    ptr_ = m->ptr;
    mem_ = std::move(m);
  });
  size_ = n;
  if (n > 0) Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(n));
}

DeviceBuffer::~DeviceBuffer() { Free(Env()); }

DeviceMemory::~DeviceMemory() {
  if (!ptr) return;
  DeviceGuard guard(device);  // the last holder may be a job settling, a context, any thread
  cudaFree(ptr);
}

void DeviceBuffer::Free(napi_env env) {
  disposed_ = true;
  mem_.reset();  // freed now unless a job in flight or a binding still holds it (then when the last lets go)
  if (!ptr_) return;
  ptr_ = nullptr;
  int64_t unused;
  napi_adjust_external_memory(env, -static_cast<int64_t>(size_), &unused);
}

void DeviceBuffer::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "DeviceBuffer");
}

Napi::Value DeviceBuffer::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value DeviceBuffer::GetAddress(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return PtrToBigInt(info.Env(), ptr_);
}

Napi::Value DeviceBuffer::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value DeviceBuffer::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

// copyFromHost(src, srcOffset, byteLength, dstOffset, stream?) -> Promise<void>
Napi::Value DeviceBuffer::CopyFromHost(const Napi::CallbackInfo& info) { return CopyHost(info, false); }

// copyToHost(dst, dstOffset, byteLength, srcOffset, stream?) -> Promise<void>
Napi::Value DeviceBuffer::CopyToHost(const Napi::CallbackInfo& info) { return CopyHost(info, true); }

// Host memory <-> this buffer. Pinned host memory: one asynchronous DMA. Pageable host memory (see pageable.cc):
//   to the device: up to kDriverPageableH2D CUDA's own staging (cudaMemcpyAsync returns once it copied the data,
//     without waiting for the stream: cheaper than anything done here at that size); up to kStagedH2D one piece
//     copied into a pinned staging block right here (parallel memcpy, tens of microseconds), then an asynchronous
//     DMA, the block returned by the completion thread once the DMA is done; larger: the pageable pipeline;
//   to the host: up to kSmallPageable a DMA into a staging block that the completion copies out; larger: the
//     pageable pipeline.
Napi::Value DeviceBuffer::CopyHost(const Napi::CallbackInfo& info, bool toHost) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  HostCopy a = HostCopyArgs(info, size_, toHost);
  return Guard(env, [&]() -> Napi::Value {
    const int dev = CallDevice(device_, a.streamDevice);
    DeviceGuard guard(dev);
    auto c = std::make_unique<CopyJob>(env, dev, a.stream, toHost ? "copy from device to host" : "copy from host to device");
    c->Hold(mem_);
    c->Hold(a.streamHold);
    uint8_t* device = static_cast<uint8_t*>(ptr_) + a.devOff;
    uint8_t* host = a.host.data + a.hostOff;
    const size_t n = a.n;
    if (n == 0) {
      // nothing to copy: settles like any other copy, in stream order
    } else if (a.host.pinned) {
      TN_CUDA_CHECK(toHost ? cudaMemcpyAsync(host, device, n, cudaMemcpyDeviceToHost, a.stream)
                           : cudaMemcpyAsync(device, host, n, cudaMemcpyHostToDevice, a.stream));
      c->pinned = a.host.pinned;
    } else if (toHost) {
      if (n <= kSmallPageable && (c->staging = AcquireStaging(n)).ptr) {
        StagedMemcpy(c->staging.ptr, device, n, cudaMemcpyDeviceToHost, a.stream, [&] {
          ReleaseStaging(c->staging);
          c->staging = {};
        });
        c->d2hDst = host;
        c->d2hLen = n;
      } else {
        EnqueuePageableD2H(dev, a.stream, host, device, n);
      }
    } else if (n <= kDriverPageableH2D) {
      TN_CUDA_CHECK(cudaMemcpyAsync(device, host, n, cudaMemcpyHostToDevice, a.stream));
    } else if (n <= kStagedH2D && (c->stagedH2D = AcquireStagedH2D()) != nullptr) {
      TryParallelCopy(c->stagedH2D, host, n);
      StagedMemcpy(device, c->stagedH2D, n, cudaMemcpyHostToDevice, a.stream, [&] {
        ReleaseStagedH2D(c->stagedH2D);
        c->stagedH2D = nullptr;
      });
    } else {
      EnqueuePageableH2D(dev, a.stream, device, host, n);
    }
    return GpuJob::Submit(env, std::move(c), a.host.keep);
  });
}

// copyFromDevice(src: DeviceBuffer, srcOffset, byteLength, dstOffset, stream?) -> Promise<void>
// Between two devices: a peer copy (cudaMemcpyPeerAsync; staged through the host by CUDA without peer access).
Napi::Value DeviceBuffer::CopyFromDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  DeviceBuffer* src = Unwrap(info[0]);
  if (!src) ThrowInvalid(env, "src must be a DeviceBuffer");
  src->CheckAlive(env);
  size_t srcOff = SizeArg(env, info, 1, "srcOffset", true, 0);
  size_t defLen = std::min(src->size_ >= srcOff ? src->size_ - srcOff : 0, size_);
  size_t n = SizeArg(env, info, 2, "byteLength", true, defLen);
  size_t dstOff = SizeArg(env, info, 3, "dstOffset", true, 0);
  CheckRange(env, srcOff, n, src->size_, "source DeviceBuffer");
  CheckRange(env, dstOff, n, size_, "destination DeviceBuffer");
  int sdev = -1;
  std::shared_ptr<StreamHandle> streamHold;
  cudaStream_t stream = StreamFromValue(env, info[4], &sdev, &streamHold);
  return Guard(env, [&]() -> Napi::Value {
    const int dev = CallDevice(device_, sdev);
    DeviceGuard guard(dev);
    auto c = std::make_unique<CopyJob>(env, dev, stream, "copy from device to device");
    c->Hold(mem_);
    c->Hold(src->mem_);
    c->Hold(streamHold);
    if (n > 0) {
      uint8_t* to = static_cast<uint8_t*>(ptr_) + dstOff;
      const uint8_t* from = static_cast<const uint8_t*>(src->ptr_) + srcOff;
      if (src->device_ == device_) {
        TN_CUDA_CHECK(cudaMemcpyAsync(to, from, n, cudaMemcpyDeviceToDevice, stream));
      } else {
        TN_CUDA_CHECK(cudaMemcpyPeerAsync(to, device_, from, src->device_, n, stream));
      }
    }
    return GpuJob::Submit(env, std::move(c), Napi::Value());
  });
}

// fill(byteValue, offset, byteLength, stream?) -> Promise<void>
Napi::Value DeviceBuffer::Fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  int value = IntArg(env, info[0], "value");
  if (value < 0 || value > 255) ThrowInvalid(env, "value must be a byte (0..255)");
  size_t off = SizeArg(env, info, 1, "offset", true, 0);
  size_t n = SizeArg(env, info, 2, "byteLength", true, size_ >= off ? size_ - off : 0);
  CheckRange(env, off, n, size_, "DeviceBuffer");
  int sdev = -1;
  std::shared_ptr<StreamHandle> streamHold;
  cudaStream_t stream = StreamFromValue(env, info[3], &sdev, &streamHold);
  if (sdev >= 0 && sdev != device_) {
    ThrowInvalid(env, "fill: the stream belongs to device " + std::to_string(sdev) + ", the DeviceBuffer to device " +
                          std::to_string(device_));
  }
  return Guard(env, [&]() -> Napi::Value {
    DeviceGuard guard(device_);
    auto c = std::make_unique<CopyJob>(env, device_, stream, "fill");
    c->Hold(mem_);
    c->Hold(streamHold);
    if (n > 0) TN_CUDA_CHECK(cudaMemsetAsync(static_cast<uint8_t*>(ptr_) + off, value, n, stream));
    return GpuJob::Submit(env, std::move(c), Napi::Value());
  });
}

Napi::Value DeviceBuffer::Dispose(const Napi::CallbackInfo& info) {
  Free(info.Env());
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------------------
// HostBuffer

Napi::Function HostBuffer::Init(Napi::Env env) {
  return DefineClass(env, "HostBuffer",
                     {
                         InstanceAccessor<&HostBuffer::GetByteLength>("byteLength"),
                         InstanceAccessor<&HostBuffer::GetBuffer>("buffer"),
                         InstanceAccessor<&HostBuffer::GetAddress>("address"),
                         InstanceAccessor<&HostBuffer::GetDisposed>("disposed"),
                         InstanceMethod<&HostBuffer::Dispose>("dispose"),
                     });
}

HostBuffer* HostBuffer::Unwrap(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  if (!c || !InstanceOf(v, c->hostBuffer)) return nullptr;
  return Napi::ObjectWrap<HostBuffer>::Unwrap(v.As<Napi::Object>());
}

HostBuffer::HostBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostBuffer>(info) {
  Napi::Env env = info.Env();
  size_t n = SizeArg(env, info, 0, "byteLength");
  Guard(env, [&] {
    pinned_ = std::make_shared<Pinned>(env, n);
    if (n > 0) {
      std::lock_guard<std::mutex> lock(g_pinnedMutex);
      PinnedRegistry()[reinterpret_cast<uintptr_t>(pinned_->ptr)] = pinned_;
    }
  });
  size_ = n;
  Napi::ArrayBuffer ab;
  if (n > 0) {
    abHolder_ = new std::shared_ptr<Pinned>(pinned_);
    ab = Napi::ArrayBuffer::New(
        env, pinned_->ptr, n, [](Napi::Env, void*, std::shared_ptr<Pinned>* holder) { delete holder; }, abHolder_);
  } else {
    ab = Napi::ArrayBuffer::New(env, 0);
  }
  arrayBuffer_ = Napi::Persistent(ab.As<Napi::Object>());
}

HostBuffer::~HostBuffer() = default;  // the pinned memory goes when the ArrayBuffer and any copy let go

void HostBuffer::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "HostBuffer");
}

Napi::Value HostBuffer::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value HostBuffer::GetBuffer(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return arrayBuffer_.Value();
}

Napi::Value HostBuffer::GetAddress(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return PtrToBigInt(info.Env(), pinned_ ? pinned_->ptr : nullptr);
}

Napi::Value HostBuffer::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value HostBuffer::Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_) return env.Undefined();
  disposed_ = true;
  bool detached = true;
  if (!arrayBuffer_.IsEmpty()) {
    Napi::ArrayBuffer ab = arrayBuffer_.Value().As<Napi::ArrayBuffer>();
    if (size_ > 0 && !ab.IsDetached()) {
      try {
        ab.Detach();  // JS can no longer reach the memory
      } catch (const Napi::Error&) {
        detached = false;  // not detachable: the ArrayBuffer keeps the memory until it is collected
      }
    }
    arrayBuffer_.Reset();
  }
  if (abHolder_ && detached) {
    abHolder_->reset();  // the ArrayBuffer's share (its finalizer deletes the empty holder later)
  }
  abHolder_ = nullptr;
  pinned_.reset();  // freed now unless a copy is still in flight (then when it completes)
  return env.Undefined();
}


}  // namespace tn::cuda
