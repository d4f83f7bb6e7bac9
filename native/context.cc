// ExecutionContext: IExecutionContext plus everything infer() needs: a private CUDA stream, grow-only device
// buffers per I/O tensor, grow-only pinned staging for inputs and outputs, an optional CUDA graph of enqueueV3.
//
// JS (raw addon, see types/native-runtime.d.ts):
//   ctx.setInputShape(name, dims); ctx.getTensorShape(name) -> number[]; ctx.optimizationProfile
//   ctx.setOptimizationProfile(index, stream?); ctx.setTensorAddress(name, DeviceBuffer | bigint)
//   ctx.getTensorAddress(name) -> bigint; ctx.allInputDimensionsSpecified
//   ctx.enqueue(stream?)                                   enqueueV3 (TENSORRT_ERROR with the recorder's words)
//   ctx.enqueueAsync(stream?) -> Promise<void>             the same (on a work thread for weight streaming); resolves once queued
//   ctx.infer([{ name, shape, data }], stream?, cudaGraph?) -> Promise<[{ name, shape, buffer }]>
//   ctx.captureGraph(stream, warmup = true); ctx.replay(stream?); ctx.releaseGraph(); ctx.hasGraph
//   ctx.busy, ctx.allocatedBytes, ctx.disposed, ctx.dispose()
//
// Threads: infer() is a job of the one completion mechanism (completion.h): the JS thread checks the inputs, sets
// shapes and addresses, stages the inputs and queues the copies, enqueueV3 and a completion event before it returns
// (review 2, #9: so that what JS queues next on the same stream runs after them); only for an engine that streams
// its weights, whose enqueueV3 is synchronous, does a work thread queue them instead. The completion thread sees
// the event complete; a work thread moves the outputs from pinned staging into their ArrayBuffers; the Promise
// settles on the JS thread.
// No libuv pool thread waits, nor does anything block the JS thread. One IExecutionContext is not thread-safe and
// one infer() may be in flight per context ("busy": every other method refuses meanwhile): lib/context.ts queues
// infer() calls; use one context per concurrent request. enqueue(), captureGraph() and replay() stay synchronous
// calls on the JS thread (they queue work on the caller's stream); enqueueAsync() calls enqueueV3 before it returns
// too and resolves once the work is queued, except for weight-streaming engines (enqueueV3 is synchronous there),
// where a work thread calls it: then await it before queueing dependent work on the stream.
// Multi-GPU: the context selects its engine's device on every thread that touches it.
#include <napi.h>

#if TN_HAVE_TENSORRT
#include "context.h"

namespace tn::trt::run::context_impl {

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
  userGraphHolds_.clear();
}

void ExecutionContext::CheckBindings(Napi::Env env) const {
  for (const auto& kv : boundBuffers_) {
    cuda::DeviceBuffer* b = cuda::DeviceBuffer::Unwrap(kv.second.Value());
    if (!b) continue;
    if (b->disposed()) {
      Throw(env, "DISPOSED", "the DeviceBuffer bound to tensor '" + kv.first +
                                 "' (setTensorAddress) has been disposed: bind another buffer first");
    }
    if (b->device() != device_) {
      ThrowInvalidArg(env, "the DeviceBuffer bound to tensor '" + kv.first + "' is on device " +
                               std::to_string(b->device()) + ", the engine on device " + std::to_string(device_));
    }
    // Re-checked at every enqueue / capture / replay: a setInputShape after the binding may need more bytes.
    const char* n = kv.first.c_str();
    if (engine().getTensorLocation(n) == nvinfer1::TensorLocation::kHOST) continue;
    int64_t vol = Volume(ctx_->getTensorShape(n));
    size_t esize = DataTypeSize(engine().getTensorDataType(n));
    if (vol < 0 || esize == 0) continue;  // not computable yet (TensorRT refuses the enqueue) / sub-byte: unchecked
    if (static_cast<uint64_t>(vol) > SIZE_MAX / esize || static_cast<size_t>(vol) * esize > b->size()) {
      ThrowInvalidArg(env, "the DeviceBuffer bound to tensor '" + kv.first + "' holds " + std::to_string(b->size()) +
                               " bytes; its current shape needs " +
                               std::to_string(static_cast<unsigned long long>(vol) * esize));
    }
  }
}

void ExecutionContext::CheckOutputs(Napi::Env env) const {
  const nvinfer1::ICudaEngine& e = engine();
  // Output shapes are computable once every input shape is set and every shape-tensor input has its address (the
  // header: a -1 left after that depends on values of execution tensors). Else TensorRT refuses the enqueue itself.
  bool shapesKnown = ctx_->allInputDimensionsSpecified();
  for (int32_t i = 0; i < e.getNbIOTensors() && shapesKnown; ++i) {
    const char* n = e.getIOTensorName(i);
    if (n && e.getTensorIOMode(n) == nvinfer1::TensorIOMode::kINPUT && e.isShapeInferenceIO(n) &&
        !ctx_->getTensorAddress(n)) {
      shapesKnown = false;
    }
  }
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* n = e.getIOTensorName(i);
    if (!n || e.getTensorIOMode(n) != nvinfer1::TensorIOMode::kOUTPUT) continue;
    if (shapesKnown) {
      nvinfer1::Dims d = ctx_->getTensorShape(n);
      bool dataDependent = d.nbDims < 0;
      for (int32_t k = 0; k < d.nbDims; ++k) dataDependent = dataDependent || d.d[k] < 0;
      if (dataDependent) {
        Throw(env, "UNSUPPORTED", std::string("output '") + n + "' has a data-dependent shape " + DimsText(d) +
                                      ": tensorrt-node has no IOutputAllocator (setOutputAllocator), so neither the "
                                      "size TensorRT writes nor the resulting shape can be known");
      }
    }
    if (const char* in = compat::AliasedInputTensor(e, n)) {
      if (ctx_->getTensorAddress(n) != ctx_->getTensorAddress(in)) {
        ThrowInvalidArg(env, std::string("output '") + n + "' must share memory with input '" + in +
                                 "' (ICudaEngine::getAliasedInputTensor): bind the same buffer to both with "
                                 "setTensorAddress");
      }
    }
  }
}

std::vector<std::shared_ptr<void>> ExecutionContext::BoundHolds() const {
  std::vector<std::shared_ptr<void>> v;
  for (const auto& kv : boundMem_) {
    if (kv.second) v.push_back(kv.second);
  }
  return v;
}

void ExecutionContext::CheckStreamDevice(Napi::Env env, int streamDevice, const char* what) const {
  if (streamDevice >= 0 && streamDevice != device_) {
    ThrowInvalidArg(env, std::string(what) + ": the stream belongs to device " + std::to_string(streamDevice) +
                             ", the engine to device " + std::to_string(device_));
  }
}

void ExecutionContext::ClaimProfile(int32_t index) {
  auto& owners = engine_->profileOwner;
  int32_t n = engine().getNbOptimizationProfiles();
  if (owners.size() < static_cast<size_t>(n)) owners.resize(static_cast<size_t>(n), nullptr);
  if (index < 0 || index >= n) return;
  if (owners[static_cast<size_t>(index)] && owners[static_cast<size_t>(index)] != this) {
    throw NativeError("INVALID_ARGUMENT", "optimization profile " + std::to_string(index) +
                                              " is in use by another execution context of this engine (each context "
                                              "in concurrent use needs its own profile)");
  }
  ReleaseProfile();
  owners[static_cast<size_t>(index)] = this;
  profile_ = index;
}

void ExecutionContext::ReleaseProfile() {
  if (!engine_ || profile_ < 0) return;
  auto& owners = engine_->profileOwner;
  if (static_cast<size_t>(profile_) < owners.size() && owners[static_cast<size_t>(profile_)] == this) {
    owners[static_cast<size_t>(profile_)] = nullptr;
  }
  profile_ = -1;
}

bool HasDynamicInputs(const nvinfer1::ICudaEngine& e) {
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* n = e.getIOTensorName(i);
    if (e.getTensorIOMode(n) != nvinfer1::TensorIOMode::kINPUT) continue;
    nvinfer1::Dims d = e.getTensorShape(n);
    for (int32_t k = 0; k < d.nbDims; ++k) {
      if (d.d[k] < 0) return true;
    }
  }
  return false;
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
      syncEnqueue_ = compat::StreamsWeights(engine());
      TN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
      TN_CUDA_CHECK(cudaEventCreateWithFlags(&inferDone_, cudaEventDisableTiming));  // watched, never waited on
      TN_CUDA_CHECK(cudaEventCreateWithFlags(&lastWork_, cudaEventDisableTiming | cudaEventBlockingSync));
      TN_CUDA_CHECK(cudaStreamCreateWithFlags(&captureStream_, cudaStreamNonBlocking));
      // Profile i for context i (review 2, #5/#11): with runtime dimensions each context in concurrent use needs
      // its own profile, so a new context takes the lowest profile no live context of this engine owns (TensorRT 8.6
      // gives profile 0 to the first context only and -1 to later ones; 10+ gives 0 to every one). Engines without
      // runtime dimensions share profile 0 (nothing in them depends on a profile's shapes).
      int32_t nprof = engine().getNbOptimizationProfiles();
      if (nprof > 0) {
        int32_t want = 0;
        if (HasDynamicInputs(engine())) {
          auto& owners = engine_->profileOwner;
          if (owners.size() < static_cast<size_t>(nprof)) owners.resize(static_cast<size_t>(nprof), nullptr);
          want = -1;
          for (int32_t i = 0; i < nprof && want < 0; ++i) {
            if (!owners[static_cast<size_t>(i)]) want = i;
          }
          if (want < 0) {
            throw NativeError("INVALID_ARGUMENT",
                              "every optimization profile of this engine (" + std::to_string(nprof) +
                                  ") is in use by another execution context: build the engine with one profile per "
                                  "concurrent context, or dispose a context first");
          }
          ClaimProfile(want);
        }
        if (ctx_->getOptimizationProfile() != want) {
          if (!ctx_->setOptimizationProfileAsync(want, stream_)) {
            throw NativeError("TENSORRT_ERROR", Recorded("setOptimizationProfileAsync(" + std::to_string(want) +
                                                         ") for a new execution context failed"));
          }
          MarkWork(stream_);
        }
      }
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

// What a released context frees. Freed at once when no manual work (enqueue / replay / profile switch on a user's
// stream) may still be running, else on a work thread after waiting for that work: never a cudaEventSynchronize on
// the JS thread (review 2, #13).
struct ContextResources {
  int device = 0;
  std::shared_ptr<EngineState> engine;  // destroyed after the context
  Ptr<nvinfer1::IExecutionContext> ctx;
  cudaEvent_t lastWork = nullptr;
  bool lastWorkPending = false;
  cudaGraphExec_t graphs[2] = {nullptr, nullptr};
  std::vector<void*> deviceBlocks;
  void* host[2] = {nullptr, nullptr};
  cudaStream_t streams[2] = {nullptr, nullptr};
  cudaEvent_t inferDone = nullptr;
  std::vector<std::shared_ptr<void>> holds;  // bound buffers, graph holds: freed after the context
  ContextResources() = default;
  ContextResources(const ContextResources&) = delete;
  ContextResources& operator=(const ContextResources&) = delete;
  ~ContextResources() { Free(); }  // idempotent
  void Free() {
    cuda::DeviceGuard guard(device);
    if (lastWorkPending && lastWork) cudaEventSynchronize(lastWork);  // a work thread, or no JS left
    for (cudaGraphExec_t& g : graphs) {
      if (g) cudaGraphExecDestroy(g);
      g = nullptr;
    }
    ctx.reset();
    for (void* p : deviceBlocks) cudaFree(p);
    deviceBlocks.clear();
    for (void*& p : host) {
      if (p) cudaFreeHost(p);
      p = nullptr;
    }
    for (cudaStream_t& st : streams) {
      if (st) cudaStreamDestroy(st);
      st = nullptr;
    }
    if (inferDone) cudaEventDestroy(inferDone);
    if (lastWork) cudaEventDestroy(lastWork);
    inferDone = lastWork = nullptr;
    holds.clear();
    engine.reset();
  }
};

class ReleaseJob : public cuda::Job {
 public:
  ReleaseJob(Napi::Env env, std::unique_ptr<ContextResources> r) : Job(env), r_(std::move(r)) {
    hasRun_ = true;
    device = r_->device;
  }

 protected:
  void Run() override { r_->Free(); }
  void Settle(Napi::Env) override {}
  void Abandon() override {
    if (r_) r_->Free();  // the env is gone: the work threads are the only place left (no JS runs here)
    delete this;
  }

 private:
  std::unique_ptr<ContextResources> r_;
};

void ExecutionContext::Release(napi_env env) {
  disposed_ = true;
  releasePending_ = false;
  if (!engine_) return;
  ReleaseProfile();
  auto r = std::make_unique<ContextResources>();
  r->device = device_;
  r->engine = std::move(engine_);
  r->ctx = std::move(ctx_);
  r->lastWork = lastWork_;
  r->lastWorkPending = lastWorkPending_;
  r->graphs[0] = inferGraph_;
  r->graphs[1] = userGraph_;
  for (auto& kv : device_buffers_) r->deviceBlocks.push_back(kv.second.ptr);
  r->host[0] = hostIn_.ptr;
  r->host[1] = hostOut_.ptr;
  r->streams[0] = stream_;
  r->streams[1] = captureStream_;
  r->inferDone = inferDone_;
  for (auto& kv : boundMem_) r->holds.push_back(kv.second);
  for (auto& h : userGraphHolds_) r->holds.push_back(h);
  inferGraph_ = userGraph_ = nullptr;
  device_buffers_.clear();
  hostIn_ = hostOut_ = Block{};
  stream_ = captureStream_ = nullptr;
  inferDone_ = lastWork_ = nullptr;
  lastWorkPending_ = false;
  boundMem_.clear();
  userGraphHolds_.clear();
  bool deferred = false;
  if (r->lastWorkPending) {
    try {
      cuda::Job::Start(new ReleaseJob(Napi::Env(env), std::move(r)));
      deferred = true;
    } catch (...) {
      // no completion port (the env is going away): below, on this thread
    }
  }
  if (!deferred && r) r->Free();
  boundBuffers_.clear();
  if (reported_) {
    int64_t unused;
    napi_adjust_external_memory(env, -reported_, &unused);
    reported_ = 0;
  }
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

// Captured on the context's private non-blocking stream (review 2, #7), not the caller's: work JS queues on the
// caller's stream meanwhile (a copy and its completion event) runs instead of becoming graph nodes, and a legacy
// default-stream call elsewhere cannot invalidate the capture (a non-blocking stream does not sync with it). The
// capture queues nothing; the private stream is first ordered after the caller's stream with an event.
std::string ExecutionContext::Capture(cudaStream_t stream, cudaGraphExec_t* out) {
  *out = nullptr;
  cudaStream_t cs = captureStream_;
  cudaEvent_t order = nullptr;
  cudaError_t e = cudaEventCreateWithFlags(&order, cudaEventDisableTiming);
  if (e == cudaSuccess) e = cudaEventRecord(order, stream);
  if (e == cudaSuccess) e = cudaStreamWaitEvent(cs, order, 0);
  if (order) cudaEventDestroy(order);  // destroyed once recorded work completes; the wait is already queued
  if (e != cudaSuccess) return "ordering the capture stream after the caller's: " + CudaText(e);
  e = cudaStreamBeginCapture(cs, kCaptureMode);
  if (e != cudaSuccess) return "cudaStreamBeginCapture: " + CudaText(e);
  recorder_.Take();
  bool ok = ctx_->enqueueV3(cs);
  cudaGraph_t graph = nullptr;
  cudaError_t end = cudaStreamEndCapture(cs, &graph);  // always: leaves capture mode
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
  DropGraphs();  // a graph keeps the shapes it was captured with (review 2, #2/#8)
  return env.Undefined();
}

// The getters refuse while an infer() / enqueueAsync() is in flight (#4): IExecutionContext is not thread-safe and a
// work thread is using it.
Napi::Value ExecutionContext::GetTensorShape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  std::string name = StringArg(env, info[0], "tensor name");
  CheckTensorName(env, engine(), name);
  nvinfer1::Dims d = ctx_->getTensorShape(name.c_str());
  // not computable yet (input shapes missing): the engine's shape, -1 for every dynamic dimension
  if (d.nbDims < 0) d = engine().getTensorShape(name.c_str());
  return DimsToArray(env, d);
}

Napi::Value ExecutionContext::GetOptimizationProfile(const Napi::CallbackInfo& info) {
  CheckIdle(info.Env());
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
  int sdev = -1;
  cudaStream_t s = info[1].IsUndefined() || info[1].IsNull() ? stream_ : cuda::StreamFromValue(env, info[1], &sdev);
  CheckStreamDevice(env, sdev, "setOptimizationProfile");
  Guard(env, [&] {
    DeviceScope scope(device_);
    if (HasDynamicInputs(engine())) ClaimProfile(static_cast<int32_t>(d));  // refuses another context's profile
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
  std::shared_ptr<cuda::DeviceMemory> mem;
  void* p = cuda::DevicePointerFromValue(env, info[1], &mem);
  if (cuda::DeviceBuffer* b = cuda::DeviceBuffer::Unwrap(info[1]); b && b->device() != device_) {
    ThrowInvalidArg(env, "setTensorAddress('" + name + "'): the DeviceBuffer is on device " + std::to_string(b->device()) +
                             ", the engine on device " + std::to_string(device_));
  }
  recorder_.Take();
  if (!ctx_->setTensorAddress(name.c_str(), p)) {
    Throw(env, "TENSORRT_ERROR", Recorded("setTensorAddress('" + name + "') was refused"));
  }
  if (info[1].IsObject()) {
    boundBuffers_[name] = Napi::Persistent(info[1].As<Napi::Object>());  // not collected while bound
    boundMem_[name] = std::move(mem);
  } else {
    boundBuffers_.erase(name);
    boundMem_.erase(name);
  }
  // Any rebinding drops the graphs (review 2, #2): their baked-in addresses may be freed next. The graph's own holds
  // keep what it used alive until its last launch is over (the exec is destroyed once that completes).
  DropGraphs();
  return env.Undefined();
}

Napi::Value ExecutionContext::GetTensorAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  std::string name = StringArg(env, info[0], "tensor name");
  CheckTensorName(env, engine(), name);
  const void* p = ctx_->getTensorAddress(name.c_str());
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

Napi::Value ExecutionContext::GetAllInputDimensionsSpecified(const Napi::CallbackInfo& info) {
  CheckIdle(info.Env());
  return Napi::Boolean::New(info.Env(), ctx_->allInputDimensionsSpecified());
}

// enqueue(stream?) — enqueueV3 (default: the context's own stream)
Napi::Value ExecutionContext::Enqueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  int sdev = -1;
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0], &sdev);
  CheckStreamDevice(env, sdev, "enqueue");
  CheckBindings(env);
  CheckOutputs(env);
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
  EnqueueWorker(Napi::Env env, ExecutionContext* ctx, Napi::Object self, cudaStream_t s,
                std::shared_ptr<cuda::StreamHandle> streamHold, std::vector<std::shared_ptr<void>> holds)
      : PromiseWorker(env), ctx_(ctx), stream_(s), streamHold_(std::move(streamHold)), holds_(std::move(holds)) {
    self_ = Napi::Persistent(self);
  }
  ~EnqueueWorker() override { ctx_->InferDone(Env()); }

  // IssueNow() (PromiseWorker): enqueueV3 on the JS thread rather than on a work thread (see EnqueueAsync).

 protected:
  void Run() override { ctx_->QueueEnqueue(stream_); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  ExecutionContext* ctx_;
  cudaStream_t stream_;
  // the Stream and the bound buffers stay alive while the job is queued (JS may dispose them right after the
  // call, #3); the context's own holds keep them for the GPU work after that
  std::shared_ptr<cuda::StreamHandle> streamHold_;
  std::vector<std::shared_ptr<void>> holds_;
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
  int sdev = -1;
  std::shared_ptr<cuda::StreamHandle> hold;
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0], &sdev, &hold);
  CheckStreamDevice(env, sdev, "enqueueAsync");
  CheckBindings(env);
  CheckOutputs(env);
  return Guard(env, [&]() -> Napi::Value {
    auto w = std::make_unique<EnqueueWorker>(env, this, info.This().As<Napi::Object>(), s, hold, BoundHolds());
    w->UseDevice(device_);
    busy_ = true;
    Napi::Promise p = w->Promise();
    // enqueueV3 before returning (review 2, #9): what JS queues on the stream next runs after it. Only where
    // enqueueV3 is synchronous (weight streaming) does a work thread call it, and then only awaiting the promise
    // orders later work after it.
    if (!syncEnqueue_) {
      DeviceScope scope(device_);
      w->IssueNow();
    }
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
  int sdev = -1;
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0], &sdev);
  CheckStreamDevice(env, sdev, "captureGraph");
  if (IsLegacyStream(s)) ThrowInvalidArg(env, "CUDA graphs cannot be captured on the legacy default stream: pass a Stream");
  bool warmup = true;
  if (!info[1].IsUndefined()) {
    if (!info[1].IsBoolean()) ThrowInvalidArg(env, "warmup must be a boolean");
    warmup = info[1].As<Napi::Boolean>().Value();
  }
  CheckBindings(env);
  CheckOutputs(env);
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
    userGraphHolds_ = BoundHolds();  // what the graph's baked-in addresses point to
  });
  return env.Undefined();
}

// replay(stream?) — cudaGraphLaunch of the graph captured by captureGraph()
Napi::Value ExecutionContext::Replay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  if (!userGraph_) ThrowInvalidArg(env, "no CUDA graph: call captureGraph() first");
  int sdev = -1;
  cudaStream_t s = info[0].IsUndefined() || info[0].IsNull() ? stream_ : cuda::StreamFromValue(env, info[0], &sdev);
  CheckStreamDevice(env, sdev, "replay");
  CheckBindings(env);
  CheckOutputs(env);
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
    // a launch may still be running: CUDA frees the executable graph once it has completed (no wait here, #13);
    // the buffers it uses stay alive through the bindings
    cudaGraphExecDestroy(userGraph_);
    userGraph_ = nullptr;
  }
  return env.Undefined();
}


}  // namespace tn::trt::run::context_impl

namespace tn::trt::run {

using context_impl::ContextInit;
using context_impl::ExecutionContext;
using context_impl::kContextInitTag;

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
