// CUDA surface: see cuda.h.
#include "cuda.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "errors.h"
#include "modules.h"

namespace tn::cuda {

// cudaEvent_t shared between an Event object and workers waiting on it.
struct EventHandle {
  cudaEvent_t ev = nullptr;
  ~EventHandle() {
    if (ev) cudaEventDestroy(ev);
  }
};

namespace {

// ---------------------------------------------------------------------------------------------------------
// Per-env constructors (the addon may be loaded in several worker_threads).
struct Constructors {
  Napi::FunctionReference deviceBuffer, hostBuffer, stream, event;
};

// Kept in a per-env table rather than in the env's instance data, which is left to other native files.
std::mutex g_ctorsMutex;
std::map<napi_env, Constructors*>& CtorsTable() {
  static auto* m = new std::map<napi_env, Constructors*>();
  return *m;
}

Constructors* Ctors(Napi::Env env) {
  std::lock_guard<std::mutex> lock(g_ctorsMutex);
  auto it = CtorsTable().find(static_cast<napi_env>(env));
  return it == CtorsTable().end() ? nullptr : it->second;
}

void RegisterCtors(Napi::Env env, Constructors* c) {
  {
    std::lock_guard<std::mutex> lock(g_ctorsMutex);
    CtorsTable()[static_cast<napi_env>(env)] = c;
  }
  napi_env raw = env;
  env.AddCleanupHook([raw, c] {
    {
      std::lock_guard<std::mutex> lock(g_ctorsMutex);
      CtorsTable().erase(raw);
    }
    delete c;
  });
}

bool InstanceOf(Napi::Value v, Napi::FunctionReference& ctor) {
  if (!v.IsObject() || ctor.IsEmpty()) return false;
  return v.As<Napi::Object>().InstanceOf(ctor.Value());
}

[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string& msg) { Throw(env, "INVALID_ARGUMENT", msg); }

[[noreturn]] void ThrowDisposed(Napi::Env env, const char* what) {
  Throw(env, "DISPOSED", std::string(what) + " has been disposed");
}

// A non-negative integer that fits size_t (doubles above 2^53 are refused).
size_t SizeArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* name, bool optional = false,
               size_t def = 0) {
  Napi::Value v = info[i];
  if (optional && (v.IsUndefined() || v.IsNull())) return def;
  double d;
  if (v.IsNumber()) {
    d = v.As<Napi::Number>().DoubleValue();
  } else if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowInvalid(env, std::string(name) + " is out of range");
    return static_cast<size_t>(u);
  } else {
    ThrowInvalid(env, std::string(name) + " must be a non-negative integer");
  }
  if (!(d >= 0) || d != static_cast<double>(static_cast<uint64_t>(d)) || d > 9007199254740991.0) {
    ThrowInvalid(env, std::string(name) + " must be a non-negative integer");
  }
  return static_cast<size_t>(d);
}

int IntArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) ThrowInvalid(env, std::string(name) + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int>(d))) ThrowInvalid(env, std::string(name) + " must be an integer");
  return static_cast<int>(d);
}

Napi::BigInt PtrToBigInt(Napi::Env env, const void* p) {
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

// ---------------------------------------------------------------------------------------------------------
// Registry of live pinned allocations (so that TypedArray views of a HostBuffer take the pinned path).
std::mutex g_pinnedMutex;
std::map<uintptr_t, std::weak_ptr<Pinned>>& PinnedRegistry() {
  static auto* m = new std::map<uintptr_t, std::weak_ptr<Pinned>>();
  return *m;
}

// ---------------------------------------------------------------------------------------------------------
// Pool of pinned staging blocks for copies from/to pageable memory (keeps stream order: the host side copy to
// or from the staging block happens on the JS thread (H2D) or on a worker after the event (D2H)).
struct Staging {
  void* ptr = nullptr;
  size_t cap = 0;
};

constexpr size_t kMinStaging = size_t(1) << 20;
constexpr size_t kMaxCachedStaging = size_t(256) << 20;
std::mutex g_stagingMutex;
std::multimap<size_t, void*>& StagingPool() {
  static auto* m = new std::multimap<size_t, void*>();
  return *m;
}
size_t g_stagingCached = 0;

size_t StagingClass(size_t n) {
  size_t c = kMinStaging;
  while (c < n) c <<= 1;
  return c;
}

Staging AcquireStaging(size_t n) {
  if (n == 0) return {};
  size_t cap = StagingClass(n);
  {
    std::lock_guard<std::mutex> lock(g_stagingMutex);
    auto it = StagingPool().find(cap);
    if (it != StagingPool().end()) {
      Staging s{it->second, cap};
      StagingPool().erase(it);
      g_stagingCached -= cap;
      return s;
    }
  }
  void* p = nullptr;
  TN_CUDA_CHECK(cudaHostAlloc(&p, cap, cudaHostAllocPortable));
  return {p, cap};
}

void ReleaseStaging(Staging s) {
  if (!s.ptr) return;
  {
    std::lock_guard<std::mutex> lock(g_stagingMutex);
    if (g_stagingCached + s.cap <= kMaxCachedStaging) {
      StagingPool().emplace(s.cap, s.ptr);
      g_stagingCached += s.cap;
      return;
    }
  }
  cudaFreeHost(s.ptr);
}

// ---------------------------------------------------------------------------------------------------------
cudaEvent_t NewSyncEvent() {
  cudaEvent_t ev = nullptr;
  TN_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming | cudaEventBlockingSync));
  return ev;
}

// Waits (on a libuv worker thread) for an event, then optionally copies a staging block to its destination.
class CompletionWorker : public PromiseWorker {
 public:
  explicit CompletionWorker(Napi::Env env) : PromiseWorker(env) {}
  ~CompletionWorker() override {
    if (ownEvent_) cudaEventDestroy(ownEvent_);
    ReleaseStaging(staging_);
  }

  // Record a private event on `stream`: the promise settles once the stream reaches this point.
  void RecordOn(cudaStream_t stream) {
    ownEvent_ = NewSyncEvent();
    TN_CUDA_CHECK(cudaEventRecord(ownEvent_, stream));
  }
  void WaitShared(std::shared_ptr<EventHandle> ev) { sharedEvent_ = std::move(ev); }

  Staging staging_;
  void* d2hDst_ = nullptr;
  size_t d2hLen_ = 0;
  std::shared_ptr<Pinned> pinned_;
  Napi::ObjectReference keep_;
  int device_ = -1;  // for device synchronize

 protected:
  void Run() override {
    if (device_ >= 0) {
      TN_CUDA_CHECK(cudaSetDevice(device_));
      TN_CUDA_CHECK(cudaDeviceSynchronize());
      return;
    }
    cudaEvent_t ev = ownEvent_ ? ownEvent_ : (sharedEvent_ ? sharedEvent_->ev : nullptr);
    if (ev) TN_CUDA_CHECK(cudaEventSynchronize(ev));
    if (d2hDst_ && d2hLen_) std::memcpy(d2hDst_, staging_.ptr, d2hLen_);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  cudaEvent_t ownEvent_ = nullptr;
  std::shared_ptr<EventHandle> sharedEvent_;
};

// Queues `w` (which deletes itself once the promise has settled) and returns its promise.
Napi::Value QueueWorker(CompletionWorker* w) {
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

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

// Cached result of the first CUDA probe.
std::once_flag g_probeOnce;
cudaError_t g_probeError = cudaSuccess;

}  // namespace

void EnsureCuda() {
  std::call_once(g_probeOnce, [] {
    int n = 0;
    g_probeError = cudaGetDeviceCount(&n);
    if (g_probeError == cudaSuccess && n == 0) g_probeError = cudaErrorNoDevice;
  });
  if (g_probeError != cudaSuccess) ThrowCuda(g_probeError, "CUDA is not available");
}

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

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  Napi::Env env = info.Env();
  size_t n = SizeArg(env, info, 0, "byteLength");
  Guard(env, [&] {
    EnsureCuda();
    TN_CUDA_CHECK(cudaGetDevice(&device_));
    if (n > 0) TN_CUDA_CHECK(cudaMalloc(&ptr_, n));
  });
  size_ = n;
  if (n > 0) Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(n));
}

DeviceBuffer::~DeviceBuffer() { Free(Env()); }

void DeviceBuffer::Free(napi_env env) {
  disposed_ = true;
  if (!ptr_) return;
  cudaFree(ptr_);
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
Napi::Value DeviceBuffer::CopyFromHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  HostSpan src = HostSpanFrom(env, info[0], "src");
  size_t srcOff = SizeArg(env, info, 1, "srcOffset", true, 0);
  size_t n = SizeArg(env, info, 2, "byteLength", true, src.length >= srcOff ? src.length - srcOff : 0);
  size_t dstOff = SizeArg(env, info, 3, "dstOffset", true, 0);
  CheckRange(env, srcOff, n, src.length, "source");
  CheckRange(env, dstOff, n, size_, "destination DeviceBuffer");
  cudaStream_t stream = StreamFromValue(env, info[4]);
  return Guard(env, [&]() -> Napi::Value {
    auto* w = new CompletionWorker(env);
    try {
      uint8_t* dst = static_cast<uint8_t*>(ptr_) + dstOff;
      if (n > 0) {
        if (src.pinned) {
          TN_CUDA_CHECK(cudaMemcpyAsync(dst, src.data + srcOff, n, cudaMemcpyHostToDevice, stream));
          w->pinned_ = src.pinned;
        } else {
          w->staging_ = AcquireStaging(n);
          std::memcpy(w->staging_.ptr, src.data + srcOff, n);
          TN_CUDA_CHECK(cudaMemcpyAsync(dst, w->staging_.ptr, n, cudaMemcpyHostToDevice, stream));
        }
      }
      w->keep_ = Napi::Persistent(src.keep);
      w->RecordOn(stream);
    } catch (...) {
      delete w;
      throw;
    }
    return QueueWorker(w);
  });
}

// copyToHost(dst, dstOffset, byteLength, srcOffset, stream?) -> Promise<void>
Napi::Value DeviceBuffer::CopyToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  HostSpan dst = HostSpanFrom(env, info[0], "dst");
  size_t dstOff = SizeArg(env, info, 1, "dstOffset", true, 0);
  size_t srcOff = SizeArg(env, info, 3, "srcOffset", true, 0);
  size_t defLen = std::min(dst.length >= dstOff ? dst.length - dstOff : 0, size_ >= srcOff ? size_ - srcOff : 0);
  size_t n = SizeArg(env, info, 2, "byteLength", true, defLen);
  CheckRange(env, dstOff, n, dst.length, "destination");
  CheckRange(env, srcOff, n, size_, "source DeviceBuffer");
  cudaStream_t stream = StreamFromValue(env, info[4]);
  return Guard(env, [&]() -> Napi::Value {
    auto* w = new CompletionWorker(env);
    try {
      const uint8_t* src = static_cast<const uint8_t*>(ptr_) + srcOff;
      if (n > 0) {
        if (dst.pinned) {
          TN_CUDA_CHECK(cudaMemcpyAsync(dst.data + dstOff, src, n, cudaMemcpyDeviceToHost, stream));
          w->pinned_ = dst.pinned;
        } else {
          w->staging_ = AcquireStaging(n);
          TN_CUDA_CHECK(cudaMemcpyAsync(w->staging_.ptr, src, n, cudaMemcpyDeviceToHost, stream));
          w->d2hDst_ = dst.data + dstOff;
          w->d2hLen_ = n;
        }
      }
      w->keep_ = Napi::Persistent(dst.keep);
      w->RecordOn(stream);
    } catch (...) {
      delete w;
      throw;
    }
    return QueueWorker(w);
  });
}

// copyFromDevice(src: DeviceBuffer, srcOffset, byteLength, dstOffset, stream?) -> Promise<void>
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
  cudaStream_t stream = StreamFromValue(env, info[4]);
  return Guard(env, [&]() -> Napi::Value {
    auto* w = new CompletionWorker(env);
    try {
      if (n > 0) {
        TN_CUDA_CHECK(cudaMemcpyAsync(static_cast<uint8_t*>(ptr_) + dstOff, static_cast<uint8_t*>(src->ptr_) + srcOff, n,
                                      cudaMemcpyDeviceToDevice, stream));
      }
      w->RecordOn(stream);
    } catch (...) {
      delete w;
      throw;
    }
    return QueueWorker(w);
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
  cudaStream_t stream = StreamFromValue(env, info[3]);
  return Guard(env, [&]() -> Napi::Value {
    auto* w = new CompletionWorker(env);
    try {
      if (n > 0) TN_CUDA_CHECK(cudaMemsetAsync(static_cast<uint8_t*>(ptr_) + off, value, n, stream));
      w->RecordOn(stream);
    } catch (...) {
      delete w;
      throw;
    }
    return QueueWorker(w);
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

// ---------------------------------------------------------------------------------------------------------
// Stream

Napi::Function Stream::Init(Napi::Env env) {
  return DefineClass(env, "Stream",
                     {
                         InstanceAccessor<&Stream::GetHandle>("handle"),
                         InstanceAccessor<&Stream::GetDisposed>("disposed"),
                         InstanceAccessor<&Stream::GetPriority>("priority"),
                         InstanceMethod<&Stream::Synchronize>("synchronize"),
                         InstanceMethod<&Stream::Query>("query"),
                         InstanceMethod<&Stream::WaitEvent>("waitEvent"),
                         InstanceMethod<&Stream::Dispose>("dispose"),
                     });
}

Stream* Stream::Unwrap(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  if (!c || !InstanceOf(v, c->stream)) return nullptr;
  return Napi::ObjectWrap<Stream>::Unwrap(v.As<Napi::Object>());
}

// new Stream(nonBlocking = false, priority = 0)
Stream::Stream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Stream>(info) {
  Napi::Env env = info.Env();
  bool nonBlocking = false;
  if (!info[0].IsUndefined() && !info[0].IsNull()) {
    if (!info[0].IsBoolean()) ThrowInvalid(env, "nonBlocking must be a boolean");
    nonBlocking = info[0].As<Napi::Boolean>().Value();
  }
  int priority = 0;
  if (!info[1].IsUndefined() && !info[1].IsNull()) priority = IntArg(env, info[1], "priority");
  Guard(env, [&] {
    EnsureCuda();
    TN_CUDA_CHECK(cudaStreamCreateWithPriority(&stream_, nonBlocking ? cudaStreamNonBlocking : cudaStreamDefault, priority));
    TN_CUDA_CHECK(cudaStreamGetPriority(stream_, &priority_));
  });
}

Stream::~Stream() { Destroy(); }

void Stream::Destroy() {
  disposed_ = true;
  if (stream_) cudaStreamDestroy(stream_);  // returns at once; pending work completes first
  stream_ = nullptr;
}

void Stream::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "Stream");
}

Napi::Value Stream::GetHandle(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return PtrToBigInt(info.Env(), stream_);
}

Napi::Value Stream::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value Stream::GetPriority(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), priority_); }

Napi::Value Stream::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    auto* w = new CompletionWorker(env);
    try {
      w->RecordOn(stream_);
    } catch (...) {
      delete w;
      throw;
    }
    return QueueWorker(w);
  });
}

Napi::Value Stream::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    cudaError_t e = cudaStreamQuery(stream_);
    if (e == cudaErrorNotReady) return Napi::Boolean::New(env, false);
    TN_CUDA_CHECK(e);
    return Napi::Boolean::New(env, true);
  });
}

Napi::Value Stream::WaitEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  Event* ev = Event::Unwrap(info[0]);
  if (!ev) ThrowInvalid(env, "event must be an Event");
  ev->CheckAlive(env);
  Guard(env, [&] { TN_CUDA_CHECK(cudaStreamWaitEvent(stream_, ev->handle(), 0)); });
  return env.Undefined();
}

Napi::Value Stream::Dispose(const Napi::CallbackInfo& info) {
  Destroy();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------------------
// Event (the cudaEvent_t lives in a shared EventHandle so that synchronize() survives dispose())

Napi::Function Event::Init(Napi::Env env) {
  return DefineClass(env, "Event",
                     {
                         InstanceAccessor<&Event::GetDisposed>("disposed"),
                         InstanceAccessor<&Event::GetTiming>("timing"),
                         InstanceMethod<&Event::Record>("record"),
                         InstanceMethod<&Event::Synchronize>("synchronize"),
                         InstanceMethod<&Event::Query>("query"),
                         InstanceMethod<&Event::Dispose>("dispose"),
                     });
}

Event* Event::Unwrap(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  if (!c || !InstanceOf(v, c->event)) return nullptr;
  return Napi::ObjectWrap<Event>::Unwrap(v.As<Napi::Object>());
}

// new Event(timing = true)
Event::Event(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Event>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsUndefined() && !info[0].IsNull()) {
    if (!info[0].IsBoolean()) ThrowInvalid(env, "timing must be a boolean");
    timing_ = info[0].As<Napi::Boolean>().Value();
  }
  Guard(env, [&] {
    EnsureCuda();
    auto h = std::make_shared<EventHandle>();
    unsigned flags = cudaEventBlockingSync | (timing_ ? 0u : static_cast<unsigned>(cudaEventDisableTiming));
    TN_CUDA_CHECK(cudaEventCreateWithFlags(&h->ev, flags));
    event_ = h->ev;
    handle_ = std::move(h);
  });
}

Event::~Event() { Destroy(); }

void Event::Destroy() {
  disposed_ = true;
  event_ = nullptr;
  handle_.reset();  // destroyed now unless a synchronize() is waiting on it
}

void Event::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "Event");
}

Napi::Value Event::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value Event::GetTiming(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), timing_); }

Napi::Value Event::Record(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  cudaStream_t s = StreamFromValue(env, info[0]);
  Guard(env, [&] { TN_CUDA_CHECK(cudaEventRecord(event_, s)); });
  return env.Undefined();
}

Napi::Value Event::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  auto* w = new CompletionWorker(env);
  w->WaitShared(handle_);
  return QueueWorker(w);
}

Napi::Value Event::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    cudaError_t e = cudaEventQuery(event_);
    if (e == cudaErrorNotReady) return Napi::Boolean::New(env, false);
    TN_CUDA_CHECK(e);
    return Napi::Boolean::New(env, true);
  });
}

Napi::Value Event::Dispose(const Napi::CallbackInfo& info) {
  Destroy();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------------------
// Value helpers for other native files

cudaStream_t StreamFromValue(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (Stream* s = Stream::Unwrap(v)) {
    s->CheckAlive(env);
    return s->handle();
  }
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowInvalid(env, "stream handle out of range");
    return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(u));
  }
  ThrowInvalid(env, "stream must be a Stream");
}

void* DevicePointerFromValue(Napi::Env env, Napi::Value v) {
  if (DeviceBuffer* b = DeviceBuffer::Unwrap(v)) {
    b->CheckAlive(env);
    return b->data();
  }
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowInvalid(env, "device address out of range");
    return reinterpret_cast<void*>(static_cast<uintptr_t>(u));
  }
  ThrowInvalid(env, "expected a DeviceBuffer or a bigint device address");
}

// ---------------------------------------------------------------------------------------------------------
// Module functions

namespace {

int DeviceArg(Napi::Env env, Napi::Value v) {
  int d = IntArg(env, v, "device");
  if (d < 0) ThrowInvalid(env, "device must be >= 0");
  return d;
}

Napi::Value GetDeviceCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    int n = 0;
    TN_CUDA_CHECK(cudaGetDeviceCount(&n));
    return Napi::Number::New(env, n);
  });
}

std::string UuidString(const cudaUUID_t& u) {
  static const char* hex = "0123456789abcdef";
  std::string s = "GPU-";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    auto b = static_cast<unsigned char>(u.bytes[i]);
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

}  // namespace

Napi::Object DevicePropertiesObject(Napi::Env env, int device) {
  cudaDeviceProp p;
  std::memset(&p, 0, sizeof p);
  TN_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
  auto boolean = [&](const char* k, int v) { o.Set(k, Napi::Boolean::New(env, v != 0)); };
  o.Set("index", Napi::Number::New(env, device));
  o.Set("name", Napi::String::New(env, p.name));
  o.Set("uuid", Napi::String::New(env, UuidString(p.uuid)));
  o.Set("computeCapability", Napi::String::New(env, std::to_string(p.major) + "." + std::to_string(p.minor)));
  num("major", p.major);
  num("minor", p.minor);
  num("totalMemory", static_cast<double>(p.totalGlobalMem));
  num("multiProcessorCount", p.multiProcessorCount);
  num("maxThreadsPerBlock", p.maxThreadsPerBlock);
  num("maxThreadsPerMultiProcessor", p.maxThreadsPerMultiProcessor);
  num("warpSize", p.warpSize);
  num("sharedMemPerBlock", static_cast<double>(p.sharedMemPerBlock));
  num("sharedMemPerMultiprocessor", static_cast<double>(p.sharedMemPerMultiprocessor));
  num("totalConstMem", static_cast<double>(p.totalConstMem));
  num("l2CacheSize", p.l2CacheSize);
  num("memoryBusWidth", p.memoryBusWidth);
  num("asyncEngineCount", p.asyncEngineCount);
  num("pciBusId", p.pciBusID);
  num("pciDeviceId", p.pciDeviceID);
  num("pciDomainId", p.pciDomainID);
  boolean("integrated", p.integrated);
  boolean("concurrentKernels", p.concurrentKernels);
  boolean("eccEnabled", p.ECCEnabled);
  boolean("unifiedAddressing", p.unifiedAddressing);
  boolean("managedMemory", p.managedMemory);
  boolean("streamPrioritiesSupported", p.streamPrioritiesSupported);
  return o;
}

namespace {

Napi::Value GetDeviceProperties(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int d = DeviceArg(env, info[0]);
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    return DevicePropertiesObject(env, d);
  });
}

Napi::Value MemGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    size_t freeB = 0, totalB = 0;
    TN_CUDA_CHECK(cudaMemGetInfo(&freeB, &totalB));
    Napi::Object o = Napi::Object::New(env);
    o.Set("free", Napi::Number::New(env, static_cast<double>(freeB)));
    o.Set("total", Napi::Number::New(env, static_cast<double>(totalB)));
    return o;
  });
}

Napi::Value SetDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int d = DeviceArg(env, info[0]);
  Guard(env, [&] {
    EnsureCuda();
    TN_CUDA_CHECK(cudaSetDevice(d));
  });
  return env.Undefined();
}

Napi::Value GetDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    int d = 0;
    TN_CUDA_CHECK(cudaGetDevice(&d));
    return Napi::Number::New(env, d);
  });
}

Napi::Value DeviceSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    int d = 0;
    TN_CUDA_CHECK(cudaGetDevice(&d));
    auto* w = new CompletionWorker(env);
    w->device_ = d;
    return QueueWorker(w);
  });
}

Napi::Value EventElapsedTime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Event* a = Event::Unwrap(info[0]);
  Event* b = Event::Unwrap(info[1]);
  if (!a || !b) ThrowInvalid(env, "start and end must be Events");
  a->CheckAlive(env);
  b->CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    float ms = 0;
    TN_CUDA_CHECK(cudaEventElapsedTime(&ms, a->handle(), b->handle()));
    return Napi::Number::New(env, ms);
  });
}

}  // namespace

}  // namespace tn::cuda

namespace tn {

void InitCuda(Napi::Env env, Napi::Object exports) {
  using namespace tn::cuda;
  auto* c = new Constructors();
  RegisterCtors(env, c);
  Napi::Function db = DeviceBuffer::Init(env);
  Napi::Function hb = HostBuffer::Init(env);
  Napi::Function st = Stream::Init(env);
  Napi::Function ev = Event::Init(env);
  c->deviceBuffer = Napi::Persistent(db);
  c->hostBuffer = Napi::Persistent(hb);
  c->stream = Napi::Persistent(st);
  c->event = Napi::Persistent(ev);
  exports.Set("DeviceBuffer", db);
  exports.Set("HostBuffer", hb);
  exports.Set("Stream", st);
  exports.Set("Event", ev);
  exports.Set("getDeviceCount", Napi::Function::New<GetDeviceCount>(env, "getDeviceCount"));
  exports.Set("getDeviceProperties", Napi::Function::New<GetDeviceProperties>(env, "getDeviceProperties"));
  exports.Set("memGetInfo", Napi::Function::New<MemGetInfo>(env, "memGetInfo"));
  exports.Set("setDevice", Napi::Function::New<SetDevice>(env, "setDevice"));
  exports.Set("getDevice", Napi::Function::New<GetDevice>(env, "getDevice"));
  exports.Set("deviceSynchronize", Napi::Function::New<DeviceSynchronize>(env, "deviceSynchronize"));
  exports.Set("eventElapsedTime", Napi::Function::New<EventElapsedTime>(env, "eventElapsedTime"));
}

}  // namespace tn
