// ExecutionContext: IExecutionContext plus everything infer() needs: a private CUDA stream, grow-only device
// buffers per I/O tensor, grow-only pinned staging for inputs and outputs, an optional CUDA graph of enqueueV3.
//
// JS (raw addon, see types/native-runtime.d.ts):
//   ctx.setInputShape(name, dims); ctx.getTensorShape(name) -> number[]; ctx.optimizationProfile
//   ctx.setOptimizationProfile(index, stream?); ctx.setTensorAddress(name, DeviceBuffer | bigint)
//   ctx.getTensorAddress(name) -> bigint; ctx.allInputDimensionsSpecified
//   ctx.enqueue(stream?)                                   enqueueV3 (TENSORRT_ERROR with the recorder's words)
//   ctx.enqueueAsync(stream?) -> Promise<void>             the same on a work thread; resolves once queued
//   ctx.infer([{ name, shape, data }], stream?, cudaGraph?) -> Promise<[{ name, shape, buffer }]>
//   ctx.captureGraph(stream, warmup = true); ctx.replay(stream?); ctx.releaseGraph(); ctx.hasGraph
//   ctx.busy, ctx.allocatedBytes, ctx.disposed, ctx.dispose()
//
// Threads: infer() is a job of the one completion mechanism (completion.h): the JS thread checks the inputs, sets
// shapes and addresses and stages the inputs; a work thread of the addon queues the copies and enqueueV3 (which
// blocks for weight-streaming engines) and records an event; the completion thread sees the event complete; a work
// thread moves the outputs from pinned staging into their ArrayBuffers; the Promise settles on the JS thread.
// No libuv pool thread waits, nor does anything block the JS thread. One IExecutionContext is not thread-safe and
// one infer() may be in flight per context ("busy": every other method refuses meanwhile): lib/context.ts queues
// infer() calls; use one context per concurrent request. enqueue(), captureGraph() and replay() stay synchronous
// calls on the JS thread (they queue work on the caller's stream); enqueueAsync() calls enqueueV3 on a work thread
// (weight-streaming engines make enqueueV3 synchronous) and resolves once the work is queued.
// Multi-GPU: the context selects its engine's device on every thread that touches it.
#include <napi.h>

#if TN_HAVE_TENSORRT
#include <algorithm>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "compat.h"
#include "cuda.h"
#include "engine.h"

namespace tn::trt::run {

namespace {

const napi_type_tag kContextInitTag = {0x3c5d7e9f1a2b4c6dULL, 0x8e0f1a2b3c4d5e6fULL};
constexpr size_t kAlign = 256;

size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct ContextInit {
  std::shared_ptr<EngineState> engine;
};

struct Block {
  void* ptr = nullptr;
  size_t cap = 0;
};

// Capture mode: only this thread's CUDA calls matter (worker threads keep waiting on events meanwhile).
constexpr cudaStreamCaptureMode kCaptureMode = cudaStreamCaptureModeThreadLocal;

std::string CudaText(cudaError_t e) {
  const char* n = cudaGetErrorName(e);
  const char* s = cudaGetErrorString(e);
  return std::string(s ? s : "unknown CUDA error") + " (" + (n ? n : "cudaErrorUnknown") + ")";
}

class ExecutionContext;

struct InputSpec {
  std::string name;
  nvinfer1::Dims dims;
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  bool host = false;  // TensorLocation::kHOST (shape tensors)
  size_t offset = 0;  // in hostIn_
  void* device = nullptr;
};

struct OutputSpec {
  std::string name;
  nvinfer1::Dims dims;
  size_t bytes = 0;
  bool host = false;
  size_t offset = 0;  // in hostOut_
  void* device = nullptr;
};

// One infer(): queued on a work thread (Run: copies, enqueueV3 or the graph, the completion event), waited for by
// the completion thread, outputs moved out of pinned staging on a work thread (AfterGpu), settled on the JS thread.
class InferWorker : public PromiseWorker {
 public:
  InferWorker(Napi::Env env, ExecutionContext* ctx, Napi::Object self) : PromiseWorker(env), ctx_(ctx) {
    self_ = Napi::Persistent(self);
    hasAfterGpu_ = true;
  }
  ~InferWorker() override;

  struct Output {
    std::string name;
    nvinfer1::Dims dims;
    Napi::Reference<Napi::ArrayBuffer> buffer;
    uint8_t* dst = nullptr;
    const uint8_t* src = nullptr;
    size_t bytes = 0;
  };
  std::vector<Output> outputs_;
  std::vector<InputSpec> inputs_;
  std::vector<OutputSpec> outputSpecs_;
  cudaStream_t stream_ = nullptr;
  bool useGraph_ = false;
  std::string key_;

 protected:
  void Run() override;
  void AfterGpu() override {
    if (failed_ || gpuStatus_ != cudaSuccess) return;
    for (const Output& o : outputs_) {
      if (o.bytes) std::memcpy(o.dst, o.src, o.bytes);
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, outputs_.size());
    for (size_t i = 0; i < outputs_.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", Napi::String::New(env, outputs_[i].name));
      o.Set("shape", DimsToArray(env, outputs_[i].dims));
      o.Set("buffer", outputs_[i].buffer.Value());
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  }

 private:
  ExecutionContext* ctx_;
  Napi::ObjectReference self_;  // keeps the context (and its buffers) alive until the GPU is done
};

class ExecutionContext : public Napi::ObjectWrap<ExecutionContext> {
 public:
  explicit ExecutionContext(const Napi::CallbackInfo& info);
  ~ExecutionContext() override { Release(Env()); }

  const nvinfer1::IExecutionContext* context() const { return ctx_.get(); }
  void CheckAlive(Napi::Env env) const {
    if (disposed_) ThrowDisposedObject(env, "ExecutionContext");
  }
  void InferDone(napi_env env) {
    busy_ = false;
    if (releasePending_) Release(env);
  }
  // Work thread: queues one infer() on the GPU (see InferWorker). Throws after recording the completion event, so
  // that the staging memory is never reused before the GPU is done with it.
  void QueueInfer(InferWorker& w, cudaEvent_t* done);
  // Work thread: enqueueV3 on `s` in the context's call order (see EnqueueAsync).
  void QueueEnqueue(cudaStream_t s);

  Napi::Value SetInputShape(const Napi::CallbackInfo& info);
  Napi::Value GetTensorShape(const Napi::CallbackInfo& info);
  Napi::Value GetOptimizationProfile(const Napi::CallbackInfo& info);
  Napi::Value SetOptimizationProfile(const Napi::CallbackInfo& info);
  Napi::Value SetTensorAddress(const Napi::CallbackInfo& info);
  Napi::Value GetTensorAddress(const Napi::CallbackInfo& info);
  Napi::Value GetAllInputDimensionsSpecified(const Napi::CallbackInfo& info);
  Napi::Value Enqueue(const Napi::CallbackInfo& info);
  Napi::Value EnqueueAsync(const Napi::CallbackInfo& info);
  Napi::Value Infer(const Napi::CallbackInfo& info);
  Napi::Value CaptureGraph(const Napi::CallbackInfo& info);
  Napi::Value Replay(const Napi::CallbackInfo& info);
  Napi::Value ReleaseGraph(const Napi::CallbackInfo& info);
  Napi::Value GetHasGraph(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), userGraph_ != nullptr); }
  Napi::Value GetBusy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }
  Napi::Value GetAllocatedBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(reported_));
  }
  Napi::Value GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }
  Napi::Value Dispose(const Napi::CallbackInfo& info);

 private:
  void Release(napi_env env);
  void CheckIdle(Napi::Env env) const;
  void Report(napi_env env, int64_t delta);
  nvinfer1::ICudaEngine& engine() const { return *engine_->engine; }
  std::string Recorded(const std::string& what) { return TrtMessage(what, &recorder_, ""); }
  // A grow-only device buffer for tensor `name` holding at least `bytes`.
  void* DeviceFor(napi_env env, const std::string& name, size_t bytes);
  // Grow-only pinned staging.
  void GrowHost(napi_env env, Block& b, size_t bytes);
  void MarkWork(cudaStream_t s);  // records lastWork_ on s (dispose waits for it)
  // Makes `s` wait for the context's last manual operation (a no-op when that was queued on `s` itself): the
  // context's scratch memory and bindings are shared, so its operations run in call order whatever their streams.
  void OrderAfterLastWork(cudaStream_t s);
  // Captures ctx_->enqueueV3(stream) into a graph. Returns "" or what failed.
  std::string Capture(cudaStream_t stream, cudaGraphExec_t* out);
  // Drops the cached CUDA graphs (after a profile switch: their baked-in profile is stale).
  void DropGraphs();
  // Refuses (DISPOSED) when a DeviceBuffer bound with setTensorAddress has been disposed since: the next
  // enqueue / capture / replay would write freed memory.
  void CheckBindings(Napi::Env env) const;

  std::shared_ptr<EngineState> engine_;
  Napi::ObjectReference engineRef_;  // the JS Engine stays alive while this context is
  ErrorRecorder recorder_;           // declared before ctx_: outlives it
  Ptr<nvinfer1::IExecutionContext> ctx_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;      // private stream of infer()
  cudaEvent_t inferDone_ = nullptr;    // recorded at the end of each infer()
  cudaEvent_t lastWork_ = nullptr;     // recorded after manual enqueue / replay / profile switch
  bool lastWorkPending_ = false;
  std::map<std::string, Block> device_buffers_;
  std::map<std::string, Napi::ObjectReference> boundBuffers_;  // DeviceBuffers given to setTensorAddress
  Block hostIn_, hostOut_;
  cudaGraphExec_t inferGraph_ = nullptr;
  std::string inferGraphKey_;
  cudaGraphExec_t userGraph_ = nullptr;
  int64_t reported_ = 0;
  bool busy_ = false, disposed_ = false, releasePending_ = false;
};

InferWorker::~InferWorker() {
  ctx_->InferDone(Env());  // JS thread, after the promise settled; self_ still holds the context
}

void InferWorker::Run() {
  cudaEvent_t done = nullptr;
  try {
    ctx_->QueueInfer(*this, &done);
  } catch (...) {
    if (done) {
      waitEvent_ = done;  // the error is reported once the GPU work already queued has drained
      waitStream_ = stream_;
    }
    throw;
  }
  waitEvent_ = done;
  waitStream_ = stream_;
}

void ExecutionContext::DropGraphs() {
  // cudaGraphExecDestroy of a graph still running frees it once it has completed
  if (inferGraph_) cudaGraphExecDestroy(inferGraph_);
  if (userGraph_) cudaGraphExecDestroy(userGraph_);
  inferGraph_ = userGraph_ = nullptr;
  inferGraphKey_.clear();
}

void ExecutionContext::CheckBindings(Napi::Env env) const {
  for (const auto& kv : boundBuffers_) {
    cuda::DeviceBuffer* b = cuda::DeviceBuffer::Unwrap(kv.second.Value());
    if (b && b->disposed()) {
      Throw(env, "DISPOSED", "the DeviceBuffer bound to tensor '" + kv.first +
                                 "' (setTensorAddress) has been disposed: bind another buffer first");
    }
  }
}

ExecutionContext::ExecutionContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecutionContext>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[0].As<Napi::External<ContextInit>>().CheckTypeTag(&kContextInitTag)) {
    ThrowInvalidArg(env, "ExecutionContext objects are created by Engine.createExecutionContext()");
  }
  ContextInit* init = info[0].As<Napi::External<ContextInit>>().Data();
  engine_ = init->engine;
  if (info[1].IsObject()) engineRef_ = Napi::Persistent(info[1].As<Napi::Object>());
  device_ = engine_->device;
  try {
    Guard(env, [&] {
      DeviceScope scope(device_);
      engine_->recorder.Take();
      ctx_.reset(engine().createExecutionContext());
      if (!ctx_) {
        throw NativeError("TENSORRT_ERROR", TrtMessage("ICudaEngine::createExecutionContext failed", &engine_->recorder, ""));
      }
      ctx_->setErrorRecorder(&recorder_);
      TN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
      TN_CUDA_CHECK(cudaEventCreateWithFlags(&inferDone_, cudaEventDisableTiming));  // watched, never waited on
      TN_CUDA_CHECK(cudaEventCreateWithFlags(&lastWork_, cudaEventDisableTiming | cudaEventBlockingSync));
#if NV_TENSORRT_MAJOR < 10
      // TensorRT 8.6 gives profile 0 to the first context of an engine only; every later one starts without a
      // profile (getOptimizationProfile() == -1) and cannot run. Select profile 0 for each new context.
      if (engine().getNbOptimizationProfiles() > 0 && ctx_->getOptimizationProfile() < 0) {
        if (!ctx_->setOptimizationProfileAsync(0, stream_)) {
          throw NativeError("TENSORRT_ERROR", Recorded("setOptimizationProfileAsync(0) for a new execution context failed"));
        }
        MarkWork(stream_);
      }
#endif
    });
  } catch (...) {
    Release(env);  // the destructor does not run when the constructor throws
    throw;
  }
  // The context's scratch memory (allocated by TensorRT, kSTATIC strategy).
  int64_t scratch = compat::EngineDeviceMemorySize(engine());
  if (scratch > 0) Report(env, scratch);
}

void ExecutionContext::Report(napi_env env, int64_t delta) {
  if (delta == 0) return;
  reported_ += delta;
  int64_t unused;
  napi_adjust_external_memory(env, delta, &unused);
}

void ExecutionContext::Release(napi_env env) {
  disposed_ = true;
  releasePending_ = false;
  if (!engine_) return;
  {
    int prev = -1;
    if (cudaGetDevice(&prev) == cudaSuccess && prev != device_) cudaSetDevice(device_);
    // Work queued with enqueue()/replay() on a user's stream may still be using the context and its buffers.
    if (lastWorkPending_) cudaEventSynchronize(lastWork_);
    if (inferGraph_) cudaGraphExecDestroy(inferGraph_);
    if (userGraph_) cudaGraphExecDestroy(userGraph_);
    inferGraph_ = userGraph_ = nullptr;
    ctx_.reset();
    for (auto& kv : device_buffers_) cudaFree(kv.second.ptr);
    device_buffers_.clear();
    if (hostIn_.ptr) cudaFreeHost(hostIn_.ptr);
    if (hostOut_.ptr) cudaFreeHost(hostOut_.ptr);
    hostIn_ = hostOut_ = Block{};
    if (stream_) cudaStreamDestroy(stream_);
    if (inferDone_) cudaEventDestroy(inferDone_);
    if (lastWork_) cudaEventDestroy(lastWork_);
    stream_ = nullptr;
    inferDone_ = lastWork_ = nullptr;
    if (prev >= 0 && prev != device_) cudaSetDevice(prev);
  }
  boundBuffers_.clear();
  if (reported_) {
    int64_t unused;
    napi_adjust_external_memory(env, -reported_, &unused);
    reported_ = 0;
  }
  engine_.reset();
  engineRef_.Reset();
}

Napi::Value ExecutionContext::Dispose(const Napi::CallbackInfo& info) {
  if (busy_) {
    disposed_ = true;        // unusable from now on ...
    releasePending_ = true;  // ... freed once the infer() in flight has completed
  } else {
    Release(info.Env());
  }
  return info.Env().Undefined();
}

void ExecutionContext::CheckIdle(Napi::Env env) const {
  CheckAlive(env);
  if (busy_) {
    ThrowInvalidArg(env,
                    "an infer() is in flight on this ExecutionContext: await it first (use one execution context per "
                    "concurrent request)");
  }
}

void ExecutionContext::MarkWork(cudaStream_t s) {
  if (cudaEventRecord(lastWork_, s) == cudaSuccess) lastWorkPending_ = true;
}

void ExecutionContext::OrderAfterLastWork(cudaStream_t s) {
  // Always, not only when the stream differs: a destroyed stream's handle may be reused by a new one.
  if (lastWorkPending_) TN_CUDA_CHECK(cudaStreamWaitEvent(s, lastWork_, 0));
}

void* ExecutionContext::DeviceFor(napi_env env, const std::string& name, size_t bytes) {
  Block& b = device_buffers_[name];
  size_t need = AlignUp(std::max<size_t>(bytes, 1));
  if (b.cap >= need) return b.ptr;
  size_t cap = std::max(need, AlignUp(b.cap + b.cap / 2));
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, cap);
  if (e == cudaErrorMemoryAllocation && cap > need) {
    cudaGetLastError();
    cap = need;
    e = cudaMalloc(&p, cap);
  }
  if (e != cudaSuccess) ThrowCuda(e, ("cudaMalloc(" + std::to_string(cap) + ") for tensor '" + name + "'").c_str());
  if (b.ptr) {
    // A graph captured by captureGraph() after an infer() may have baked in the old address.
    if (userGraph_) {
      cudaGraphExecDestroy(userGraph_);
      userGraph_ = nullptr;
    }
    cudaFree(b.ptr);
  }
  Report(env, static_cast<int64_t>(cap) - static_cast<int64_t>(b.cap));
  b.ptr = p;
  b.cap = cap;
  return p;
}

void ExecutionContext::GrowHost(napi_env env, Block& b, size_t bytes) {
  size_t need = AlignUp(std::max<size_t>(bytes, 1));
  if (b.cap >= need) return;
  size_t cap = std::max(need, AlignUp(b.cap + b.cap / 2));
  void* p = nullptr;
  cudaError_t e = cudaHostAlloc(&p, cap, cudaHostAllocPortable);
  if (e == cudaErrorMemoryAllocation && cap > need) {
    cudaGetLastError();
    cap = need;
    e = cudaHostAlloc(&p, cap, cudaHostAllocPortable);
  }
  if (e != cudaSuccess) ThrowCuda(e, ("cudaHostAlloc(" + std::to_string(cap) + ") for staging").c_str());
  if (b.ptr) cudaFreeHost(b.ptr);
  Report(env, static_cast<int64_t>(cap) - static_cast<int64_t>(b.cap));
  b.ptr = p;
  b.cap = cap;
}

std::string ExecutionContext::Capture(cudaStream_t stream, cudaGraphExec_t* out) {
  *out = nullptr;
  cudaError_t e = cudaStreamBeginCapture(stream, kCaptureMode);
  if (e != cudaSuccess) return "cudaStreamBeginCapture: " + CudaText(e);
  recorder_.Take();
  bool ok = ctx_->enqueueV3(stream);
  cudaGraph_t graph = nullptr;
  cudaError_t end = cudaStreamEndCapture(stream, &graph);  // always: leaves capture mode
  std::string err;
  if (!ok) {
    err = Recorded("enqueueV3 failed while capturing");
  } else if (end != cudaSuccess || !graph) {
    err = "cudaStreamEndCapture: " + CudaText(end != cudaSuccess ? end : cudaErrorStreamCaptureInvalidated);
  } else {
    cudaGraphExec_t exec = nullptr;
    cudaError_t ie = cudaGraphInstantiateWithFlags(&exec, graph, 0);
    if (ie != cudaSuccess) {
      err = "cudaGraphInstantiateWithFlags: " + CudaText(ie);
    } else {
      *out = exec;
    }
  }
  if (graph) cudaGraphDestroy(graph);
  if (!err.empty()) cudaGetLastError();  // clear the (non-sticky) capture error
  return err;
}

// ---- manual API ----------------------------------------------------------------------------------------------------

Napi::Value ExecutionContext::SetInputShape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  std::string name = StringArg(env, info[0], "tensor name");
  CheckTensorName(env, engine(), name);
  if (engine().getTensorIOMode(name.c_str()) != nvinfer1::TensorIOMode::kINPUT) {
    ThrowInvalidArg(env, "'" + name + "' is an output: only input shapes can be set");
  }
  nvinfer1::Dims dims = DimsFromArray(env, info[1], "shape");
  recorder_.Take();
  if (!ctx_->setInputShape(name.c_str(), dims)) {
    Throw(env, "INVALID_ARGUMENT", Recorded("setInputShape('" + name + "') was refused"));
  }
  return env.Undefined();
}

Napi::Value ExecutionContext::GetTensorShape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  std::string name = StringArg(env, info[0], "tensor name");
  CheckTensorName(env, engine(), name);
  nvinfer1::Dims d = ctx_->getTensorShape(name.c_str());
  // not computable yet (input shapes missing): the engine's shape, -1 for every dynamic dimension
  if (d.nbDims < 0) d = engine().getTensorShape(name.c_str());
  return DimsToArray(env, d);
}

Napi::Value ExecutionContext::GetOptimizationProfile(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), ctx_->getOptimizationProfile());
}

// setOptimizationProfile(index, stream?) — setOptimizationProfileAsync on `stream` (default: the context's stream)
Napi::Value ExecutionContext::SetOptimizationProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  int32_t n = engine().getNbOptimizationProfiles();
  if (!info[0].IsNumber()) ThrowInvalidArg(env, "profile index must be an integer");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < n) || d != static_cast<double>(static_cast<int32_t>(d))) {
    ThrowInvalidArg(env, "profile index must be an integer in [0, " + std::to_string(n) + ")");
  }
  cudaStream_t s = info[1].IsUndefined() || info[1].IsNull() ? stream_ : cuda::StreamFromValue(env, info[1]);
  Guard(env, [&] {
    DeviceScope scope(device_);
    OrderAfterLastWork(s);
    recorder_.Take();
    if (!ctx_->setOptimizationProfileAsync(static_cast<int32_t>(d), s)) {
      throw NativeError("TENSORRT_ERROR", Recorded("setOptimizationProfileAsync(" + std::to_string(static_cast<int>(d)) + ") failed"));
    }
    MarkWork(s);
    DropGraphs();  // every switch (A -> B -> A included): a graph keeps the profile it was captured with
  });
  return env.Undefined();
}

Napi::Value ExecutionContext::SetTensorAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  std::string name = StringArg(env, info[0], "tensor name");
  CheckTensorName(env, engine(), name);
  void* p = cuda::DevicePointerFromValue(env, info[1]);
  recorder_.Take();
  if (!ctx_->setTensorAddress(name.c_str(), p)) {
    Throw(env, "TENSORRT_ERROR", Recorded("setTensorAddress('" + name + "') was refused"));
  }
  if (info[1].IsObject()) {
    boundBuffers_[name] = Napi::Persistent(info[1].As<Napi::Object>());  // not collected while bound
  } else {
    boundBuffers_.erase(name);
  }
  return env.Undefined();
}

Napi::Value ExecutionContext::GetTensorAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  std::string name = StringArg(env, info[0], "tensor name");
  CheckTensorName(env, engine(), name);
  const void* p = ctx_->getTensorAddress(name.c_str());
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

Napi::Value ExecutionContext::GetAllInputDimensionsSpecified(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Boolean::New(info.Env(), ctx_->allInputDimensionsSpecified());
}

// enqueue(stream?) — enqueueV3 (default: the context's own stream)
Napi::Value ExecutionContext::Enqueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0]);
  CheckBindings(env);
  Guard(env, [&] {
    DeviceScope scope(device_);
    OrderAfterLastWork(s);
    recorder_.Take();
    if (!ctx_->enqueueV3(s)) throw NativeError("TENSORRT_ERROR", Recorded("enqueueV3 failed"));
    MarkWork(s);
  });
  return env.Undefined();
}

// enqueueV3 of enqueueAsync() on a work thread; the context is busy (refuses other calls) meanwhile.
class EnqueueWorker : public PromiseWorker {
 public:
  EnqueueWorker(Napi::Env env, ExecutionContext* ctx, Napi::Object self, cudaStream_t s)
      : PromiseWorker(env), ctx_(ctx), stream_(s) {
    self_ = Napi::Persistent(self);
  }
  ~EnqueueWorker() override { ctx_->InferDone(Env()); }

 protected:
  void Run() override { ctx_->QueueEnqueue(stream_); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  ExecutionContext* ctx_;
  cudaStream_t stream_;
  Napi::ObjectReference self_;
};

void ExecutionContext::QueueEnqueue(cudaStream_t s) {
  OrderAfterLastWork(s);
  recorder_.Take();
  if (!ctx_->enqueueV3(s)) throw NativeError("TENSORRT_ERROR", Recorded("enqueueV3 failed"));
  MarkWork(s);
}

// enqueueAsync(stream?) -> Promise<void>: enqueueV3 on a work thread of the addon; resolves once the work is queued
// on the stream (its completion is the stream's: await stream.synchronize() or an event).
Napi::Value ExecutionContext::EnqueueAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0]);
  CheckBindings(env);
  return Guard(env, [&]() -> Napi::Value {
    auto w = std::make_unique<EnqueueWorker>(env, this, info.This().As<Napi::Object>(), s);
    w->UseDevice(device_);
    busy_ = true;
    Napi::Promise p = w->Promise();
    w.release()->Queue();
    return p;
  });
}

bool IsLegacyStream(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread; }

// captureGraph(stream, warmup = true): enqueueV3 once (TensorRT needs one run after shape changes before a capture),
// then capture enqueueV3 on `stream` into a CUDA graph that replay() launches. Tensor addresses and shapes are baked
// into the graph: capture again after changing either.
Napi::Value ExecutionContext::CaptureGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0]);
  if (IsLegacyStream(s)) ThrowInvalidArg(env, "CUDA graphs cannot be captured on the legacy default stream: pass a Stream");
  bool warmup = true;
  if (!info[1].IsUndefined()) {
    if (!info[1].IsBoolean()) ThrowInvalidArg(env, "warmup must be a boolean");
    warmup = info[1].As<Napi::Boolean>().Value();
  }
  CheckBindings(env);
  Guard(env, [&] {
    DeviceScope scope(device_);
    if (!ctx_->allInputDimensionsSpecified()) {
      throw NativeError("INVALID_ARGUMENT", "set every input shape (setInputShape) before captureGraph()");
    }
    if (userGraph_) {
      cudaGraphExecDestroy(userGraph_);
      userGraph_ = nullptr;
    }
    OrderAfterLastWork(s);  // before the capture begins (a capturing stream cannot wait on an outside event)
    recorder_.Take();
    if (warmup) {
      if (!ctx_->enqueueV3(s)) throw NativeError("TENSORRT_ERROR", Recorded("enqueueV3 (warm-up before capture) failed"));
      MarkWork(s);
    }
    cudaGraphExec_t exec = nullptr;
    std::string err = Capture(s, &exec);
    if (!err.empty()) {
      throw NativeError("UNSUPPORTED", "CUDA graph capture of enqueueV3 failed: " + err +
                                           " (this engine cannot run as a CUDA graph; use enqueue())");
    }
    userGraph_ = exec;
  });
  return env.Undefined();
}

// replay(stream?) — cudaGraphLaunch of the graph captured by captureGraph()
Napi::Value ExecutionContext::Replay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  if (!userGraph_) ThrowInvalidArg(env, "no CUDA graph: call captureGraph() first");
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0]);
  CheckBindings(env);
  Guard(env, [&] {
    DeviceScope scope(device_);
    OrderAfterLastWork(s);
    TN_CUDA_CHECK(cudaGraphLaunch(userGraph_, s));
    MarkWork(s);
  });
  return env.Undefined();
}

Napi::Value ExecutionContext::ReleaseGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  if (userGraph_) {
    if (lastWorkPending_) cudaEventSynchronize(lastWork_);  // a launch may still be running
    cudaGraphExecDestroy(userGraph_);
    userGraph_ = nullptr;
  }
  return env.Undefined();
}

// ---- infer ---------------------------------------------------------------------------------------------------------

std::string DimsText(const nvinfer1::Dims& d) {
  std::string s = "[";
  for (int32_t i = 0; i < d.nbDims; ++i) s += (i ? "," : "") + std::to_string(static_cast<long long>(d.d[i]));
  return s + "]";
}

// infer(inputs: [{ name, shape, data }], stream?, cudaGraph?) -> Promise<[{ name, shape, buffer }]>
// lib/context.ts has checked the inputs (names, inputs vs outputs, missing or repeated inputs, dtypes); only what
// memory safety needs is checked again here: the tensor exists, the data is a live TypedArray of exactly the bytes
// its shape needs.
Napi::Value ExecutionContext::Infer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  if (!info[0].IsArray()) ThrowInvalidArg(env, "inputs must be an array of { name, shape, data }");
  Napi::Array arr = info[0].As<Napi::Array>();
  cudaStream_t stream = info[1].IsUndefined() || info[1].IsNull() ? stream_ : cuda::StreamFromValue(env, info[1]);
  bool useGraph = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  if (useGraph && IsLegacyStream(stream)) {
    ThrowInvalidArg(env, "CUDA graphs cannot be captured on the legacy default stream: pass a Stream");
  }
  const nvinfer1::ICudaEngine& e = engine();

  std::vector<InputSpec> inputs;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) ThrowInvalidArg(env, "inputs[" + std::to_string(i) + "] must be { name, shape, data }");
    Napi::Object o = v.As<Napi::Object>();
    InputSpec in;
    in.name = StringArg(env, o.Get("name"), "input name");
    CheckTensorName(env, e, in.name);
    in.dims = DimsFromArray(env, o.Get("shape"), "input shape");
    Napi::Value d = o.Get("data");
    size_t length = 0;
    if (d.IsTypedArray()) {
      auto ta = d.As<Napi::TypedArray>();
      in.data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      length = ta.ByteLength();
    } else {
      ThrowInvalidArg(env, "data of input '" + in.name + "' must be a TypedArray");
    }
    nvinfer1::DataType dt = e.getTensorDataType(in.name.c_str());
    size_t esize = DataTypeSize(dt);
    if (esize == 0) {
      Throw(env, "UNSUPPORTED", "input '" + in.name + "' has the sub-byte type " + DataTypeName(dt) + ": use enqueue()");
    }
    int64_t vol = Volume(in.dims);
    if (vol < 0 || static_cast<uint64_t>(vol) > SIZE_MAX / esize) {
      ThrowInvalidArg(env, "shape of input '" + in.name + "' has negative dimensions or too many elements: " +
                               DimsText(in.dims));
    }
    in.bytes = static_cast<size_t>(vol) * esize;
    if (length != in.bytes) {
      ThrowInvalidArg(env, "input '" + in.name + "' of shape " + DimsText(in.dims) + " needs " + std::to_string(in.bytes) +
                               " bytes; got " + std::to_string(length));
    }
    if (in.bytes > 0 && !in.data) ThrowInvalidArg(env, "data of input '" + in.name + "' is detached");
    in.host = e.getTensorLocation(in.name.c_str()) == nvinfer1::TensorLocation::kHOST;
    inputs.push_back(std::move(in));
  }
  int32_t nio = e.getNbIOTensors();

  return Guard(env, [&]() -> Napi::Value {
    DeviceScope scope(device_);
    recorder_.Take();
    // 1. shapes, staging layout, inputs staged (the JS thread reads the TypedArrays here, as the call's contract)
    size_t inTotal = 0;
    for (InputSpec& in : inputs) {
      if (!ctx_->setInputShape(in.name.c_str(), in.dims)) {
        throw NativeError("INVALID_ARGUMENT", Recorded("setInputShape('" + in.name + "', " + DimsText(in.dims) + ") was refused"));
      }
      in.offset = inTotal;
      inTotal += AlignUp(in.bytes);
    }
    GrowHost(env, hostIn_, inTotal);
    for (InputSpec& in : inputs) {
      uint8_t* staged = static_cast<uint8_t*>(hostIn_.ptr) + in.offset;
      if (in.bytes) std::memcpy(staged, in.data, in.bytes);
      void* addr = staged;
      if (!in.host) addr = in.device = DeviceFor(env, in.name, in.bytes);
      if (!ctx_->setTensorAddress(in.name.c_str(), addr)) {
        throw NativeError("TENSORRT_ERROR", Recorded("setTensorAddress('" + in.name + "') failed"));
      }
      boundBuffers_.erase(in.name);  // infer()'s own buffer replaces a binding made with setTensorAddress
    }
    if (!ctx_->allInputDimensionsSpecified()) {
      throw NativeError("INVALID_ARGUMENT", Recorded("not every input dimension is specified"));
    }
    // 2. outputs: shapes (now known), buffers
    std::vector<OutputSpec> outputs;
    size_t outTotal = 0;
    for (int32_t i = 0; i < nio; ++i) {
      const char* n = e.getIOTensorName(i);
      if (e.getTensorIOMode(n) != nvinfer1::TensorIOMode::kOUTPUT) continue;
      OutputSpec out;
      out.name = n;
      out.dims = ctx_->getTensorShape(n);
      int64_t vol = Volume(out.dims);
      if (vol < 0) {
        throw NativeError("UNSUPPORTED", "output '" + out.name + "' has a data-dependent shape " + DimsText(out.dims) +
                                             "; infer() needs output shapes that follow from the input shapes");
      }
      nvinfer1::DataType dt = e.getTensorDataType(n);
      size_t esize = DataTypeSize(dt);
      if (esize == 0) {
        throw NativeError("UNSUPPORTED", "output '" + out.name + "' has the sub-byte type " + std::string(DataTypeName(dt)) +
                                             ": use enqueue()");
      }
      out.bytes = static_cast<size_t>(vol) * esize;
      out.host = e.getTensorLocation(n) == nvinfer1::TensorLocation::kHOST;
      out.offset = outTotal;
      outTotal += AlignUp(out.bytes);
      outputs.push_back(std::move(out));
    }
    GrowHost(env, hostOut_, outTotal);
    std::string key = "p" + std::to_string(ctx_->getOptimizationProfile());
    for (InputSpec& in : inputs) {
      key += "|" + in.name + DimsText(in.dims) + "@" + std::to_string(reinterpret_cast<uintptr_t>(in.device));
      if (in.host) key.append("=").append(reinterpret_cast<const char*>(in.data), in.bytes);  // shape values count
    }
    key += "|in@" + std::to_string(reinterpret_cast<uintptr_t>(hostIn_.ptr));
    for (OutputSpec& out : outputs) {
      void* addr = static_cast<uint8_t*>(hostOut_.ptr) + out.offset;
      if (!out.host) addr = out.device = DeviceFor(env, out.name, out.bytes);
      if (!ctx_->setTensorAddress(out.name.c_str(), addr)) {
        throw NativeError("TENSORRT_ERROR", Recorded("setTensorAddress('" + out.name + "') failed"));
      }
      boundBuffers_.erase(out.name);
      key += "|" + out.name + "@" + std::to_string(reinterpret_cast<uintptr_t>(addr));
    }
    // 3. the job and its output ArrayBuffers (filled off the JS thread, handed to JS on completion)
    auto w = std::make_unique<InferWorker>(env, this, info.This().As<Napi::Object>());
    for (OutputSpec& out : outputs) {
      InferWorker::Output o;
      o.name = out.name;
      o.dims = out.dims;
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, out.bytes);
      o.buffer = Napi::Persistent(ab);
      o.dst = static_cast<uint8_t*>(ab.Data());
      o.src = static_cast<const uint8_t*>(hostOut_.ptr) + out.offset;
      o.bytes = out.bytes;
      w->outputs_.push_back(std::move(o));
    }
    w->inputs_ = std::move(inputs);
    w->outputSpecs_ = std::move(outputs);
    w->stream_ = stream;
    w->useGraph_ = useGraph;
    w->key_ = std::move(key);
    w->UseDevice(device_);
    // 4. the GPU work is queued on a work thread (enqueueV3 may block: weight streaming)
    busy_ = true;
    Napi::Promise p = w->Promise();
    w.release()->Queue();
    return p;
  });
}

void ExecutionContext::QueueInfer(InferWorker& w, cudaEvent_t* done) {
  cudaStream_t stream = w.stream_;
  std::unique_ptr<NativeError> deferred;
  auto fail = [&](const std::string& code, const std::string& msg) {
    if (!deferred) deferred = std::make_unique<NativeError>(code, msg);
  };
  cudaError_t ce = cudaSuccess;
  // Work an enqueue() / replay() / setOptimizationProfile() queued on another stream may still be running this
  // context (its scratch memory is shared): order this run after it.
  if (lastWorkPending_) {
    ce = cudaStreamWaitEvent(stream, lastWork_, 0);
    if (ce != cudaSuccess) fail(CudaErrorCode(ce), "waiting for earlier work on the context: " + CudaText(ce));
  }
  for (InputSpec& in : w.inputs_) {
    if (in.host || !in.bytes || ce != cudaSuccess) continue;
    ce = cudaMemcpyAsync(in.device, static_cast<uint8_t*>(hostIn_.ptr) + in.offset, in.bytes, cudaMemcpyHostToDevice, stream);
    if (ce != cudaSuccess) fail(CudaErrorCode(ce), "copying input '" + in.name + "' to the device: " + CudaText(ce));
  }
  if (ce == cudaSuccess) {
    if (w.useGraph_ && inferGraph_ && w.key_ == inferGraphKey_) {
      ce = cudaGraphLaunch(inferGraph_, stream);
      if (ce != cudaSuccess) fail(CudaErrorCode(ce), "cudaGraphLaunch: " + CudaText(ce));
    } else if (!ctx_->enqueueV3(stream)) {
      fail("TENSORRT_ERROR", Recorded("enqueueV3 failed"));
    } else if (w.useGraph_) {
      // First run with these shapes/addresses: the plain enqueueV3 above produced the results and served as the
      // warm-up TensorRT needs; now capture a graph for the next calls.
      if (inferGraph_) cudaGraphExecDestroy(inferGraph_);
      inferGraph_ = nullptr;
      inferGraphKey_.clear();
      cudaGraphExec_t exec = nullptr;
      std::string err = Capture(stream, &exec);
      if (err.empty()) {
        inferGraph_ = exec;
        inferGraphKey_ = w.key_;
      } else {
        fail("UNSUPPORTED", "CUDA graph capture of enqueueV3 failed: " + err +
                                " (this engine cannot run as a CUDA graph; call infer() without cudaGraph)");
      }
    }
  }
  for (OutputSpec& out : w.outputSpecs_) {
    if (out.host || !out.bytes || ce != cudaSuccess) continue;
    ce = cudaMemcpyAsync(static_cast<uint8_t*>(hostOut_.ptr) + out.offset, out.device, out.bytes, cudaMemcpyDeviceToHost, stream);
    if (ce != cudaSuccess) fail(CudaErrorCode(ce), "copying output '" + out.name + "' to the host: " + CudaText(ce));
  }
  cudaError_t re = cudaEventRecord(inferDone_, stream);
  if (re != cudaSuccess) {
    // Nothing to watch: drain here (this work thread; error path only), then reject.
    cudaStreamSynchronize(stream);
    std::string msg = "recording the completion event: " + CudaText(re);
    if (deferred) msg = std::string(deferred->what()) + "; " + msg;
    throw NativeError(CudaErrorCode(re), msg);
  }
  *done = inferDone_;
  if (deferred) throw *deferred;
}

}  // namespace

Napi::Object NewExecutionContextObject(Napi::Env env, Napi::Object engineObject, std::shared_ptr<EngineState> engine) {
  RuntimeCtors* c = GetRuntimeCtors(env);
  if (!c) Throw(env, "INTERNAL", "ExecutionContext class is not registered in this environment");
  ContextInit init{std::move(engine)};
  Napi::External<ContextInit> ext = Napi::External<ContextInit>::New(env, &init);
  ext.TypeTag(&kContextInitTag);
  return c->context.New({ext, engineObject});
}

const nvinfer1::IExecutionContext* ExecutionContextFromValue(Napi::Env env, Napi::Value v) {
  RuntimeCtors* c = GetRuntimeCtors(env);
  if (!c || !v.IsObject() || !v.As<Napi::Object>().InstanceOf(c->context.Value())) return nullptr;
  ExecutionContext* x = Napi::ObjectWrap<ExecutionContext>::Unwrap(v.As<Napi::Object>());
  x->CheckAlive(env);
  return x->context();
}

Napi::Function InitExecutionContextClass(Napi::Env env) {
  using C = ExecutionContext;
  return C::DefineClass(env, "ExecutionContext",
                        {
                            C::InstanceMethod<&C::SetInputShape>("setInputShape"),
                            C::InstanceMethod<&C::GetTensorShape>("getTensorShape"),
                            C::InstanceAccessor<&C::GetOptimizationProfile>("optimizationProfile"),
                            C::InstanceMethod<&C::SetOptimizationProfile>("setOptimizationProfile"),
                            C::InstanceMethod<&C::SetTensorAddress>("setTensorAddress"),
                            C::InstanceMethod<&C::GetTensorAddress>("getTensorAddress"),
                            C::InstanceAccessor<&C::GetAllInputDimensionsSpecified>("allInputDimensionsSpecified"),
                            C::InstanceMethod<&C::Enqueue>("enqueue"),
                            C::InstanceMethod<&C::EnqueueAsync>("enqueueAsync"),
                            C::InstanceMethod<&C::Infer>("infer"),
                            C::InstanceMethod<&C::CaptureGraph>("captureGraph"),
                            C::InstanceMethod<&C::Replay>("replay"),
                            C::InstanceMethod<&C::ReleaseGraph>("releaseGraph"),
                            C::InstanceAccessor<&C::GetHasGraph>("hasGraph"),
                            C::InstanceAccessor<&C::GetBusy>("busy"),
                            C::InstanceAccessor<&C::GetAllocatedBytes>("allocatedBytes"),
                            C::InstanceAccessor<&C::GetDisposed>("disposed"),
                            C::InstanceMethod<&C::Dispose>("dispose"),
                        });
}

}  // namespace tn::trt::run
#endif
