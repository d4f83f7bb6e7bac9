// Streams and events. Each remembers the device it was created on and selects it for every call (and for its
// destruction, on whatever thread that happens); synchronize() settles through the completion mechanism.
#include <memory>
#include <string>
#include <utility>

#include "cuda_internal.h"

namespace tn::cuda {

// cudaEvent_t shared between an Event object and jobs waiting on it.
struct EventHandle {
  cudaEvent_t ev = nullptr;
  int device = 0;
  ~EventHandle() {
    if (!ev) return;
    DeviceGuard guard(device);  // may run on the completion thread
    cudaEventDestroy(ev);
  }
};

// ---------------------------------------------------------------------------------------------------------
// Stream

Napi::Function Stream::Init(Napi::Env env) {
  return DefineClass(env, "Stream",
                     {
                         InstanceAccessor<&Stream::GetHandle>("handle"),
                         InstanceAccessor<&Stream::GetDisposed>("disposed"),
                         InstanceAccessor<&Stream::GetPriority>("priority"),
                         InstanceAccessor<&Stream::GetDevice>("device"),
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
    TN_CUDA_CHECK(cudaGetDevice(&device_));
    auto h = std::make_shared<StreamHandle>();
    h->device = device_;
    TN_CUDA_CHECK(cudaStreamCreateWithPriority(&h->stream, nonBlocking ? cudaStreamNonBlocking : cudaStreamDefault, priority));
    TN_CUDA_CHECK(cudaStreamGetPriority(h->stream, &priority_));
    stream_ = h->stream;
    shared_ = std::move(h);
  });
}

StreamHandle::~StreamHandle() {
  if (!stream) return;
  DeviceGuard guard(device);  // may run on whichever thread lets go last
  cudaStreamDestroy(stream);  // returns at once; pending work completes first
}

Stream::~Stream() { Destroy(); }

void Stream::Destroy() {
  disposed_ = true;
  shared_.reset();  // destroyed now unless jobs queued on it still hold it
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

Napi::Value Stream::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

Napi::Value Stream::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    DeviceGuard guard(device_);
    auto c = std::make_unique<GpuJob>(env, device_, stream_, "Stream.synchronize");
    c->Hold(shared_);
    return GpuJob::Submit(env, std::move(c), Napi::Value());
  });
}

Napi::Value Stream::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    DeviceGuard guard(device_);
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
  Guard(env, [&] {
    DeviceGuard guard(device_);  // the event may belong to another device: CUDA allows it
    TN_CUDA_CHECK(cudaStreamWaitEvent(stream_, ev->handle(), 0));
  });
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
                         InstanceAccessor<&Event::GetDevice>("device"),
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
    TN_CUDA_CHECK(cudaGetDevice(&device_));
    auto h = std::make_shared<EventHandle>();
    h->device = device_;
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

Napi::Value Event::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

Napi::Value Event::Record(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  int sdev = -1;
  cudaStream_t s = StreamFromValue(env, info[0], &sdev);
  if (sdev >= 0 && sdev != device_) {
    ThrowInvalid(env, "record: the stream belongs to device " + std::to_string(sdev) + ", the Event to device " +
                          std::to_string(device_) + " (CUDA records an event only on a stream of its own device)");
  }
  Guard(env, [&] {
    DeviceGuard guard(device_);  // the default stream is the event's device's
    TN_CUDA_CHECK(cudaEventRecord(event_, s));
  });
  return env.Undefined();
}

Napi::Value Event::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    DeviceGuard guard(device_);
    auto c = std::make_unique<GpuJob>(env, device_, nullptr, "Event.synchronize");
    c->WaitShared(event_, handle_);
    return GpuJob::Submit(env, std::move(c), Napi::Value());
  });
}

Napi::Value Event::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    DeviceGuard guard(device_);
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

cudaStream_t StreamFromValue(Napi::Env env, Napi::Value v, int* device, std::shared_ptr<StreamHandle>* hold) {
  if (device) *device = -1;
  if (hold) hold->reset();
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (Stream* s = Stream::Unwrap(v)) {
    s->CheckAlive(env);
    if (device) *device = s->device();
    if (hold) *hold = s->shared();
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

void* DevicePointerFromValue(Napi::Env env, Napi::Value v, std::shared_ptr<DeviceMemory>* hold) {
  if (hold) hold->reset();
  if (DeviceBuffer* b = DeviceBuffer::Unwrap(v)) {
    b->CheckAlive(env);
    if (hold) *hold = b->memory();
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

}  // namespace tn::cuda
