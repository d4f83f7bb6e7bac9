// Private to the ExecutionContext files: context.cc (the context, its manual API: shapes, bindings, enqueue,
// graphs, disposal) and context_infer.cc (infer()). See context.cc for the JS surface and the threads.
#pragma once

#if TN_HAVE_TENSORRT
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "compat.h"
#include "cuda.h"
#include "engine.h"


namespace tn::trt::run::context_impl {

const napi_type_tag kContextInitTag = {0x3c5d7e9f1a2b4c6dULL, 0x8e0f1a2b3c4d5e6fULL};
constexpr size_t kAlign = 256;

inline size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct ContextInit {
  std::shared_ptr<EngineState> engine;
};

struct Block {
  void* ptr = nullptr;
  size_t cap = 0;
};

// Capture mode: only this thread's CUDA calls matter (worker threads keep waiting on events meanwhile).
constexpr cudaStreamCaptureMode kCaptureMode = cudaStreamCaptureModeThreadLocal;

inline std::string CudaText(cudaError_t e) {
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

// One infer(): queued on the JS thread before infer() returns (IssueNow -> Run: copies, enqueueV3 or the graph, the
// completion event; on a work thread instead for weight-streaming engines), waited for by the completion thread,
// outputs moved out of pinned staging on a work thread (AfterGpu), settled on the JS thread.
class InferWorker : public PromiseWorker {
 public:
  InferWorker(Napi::Env env, ExecutionContext* ctx, Napi::Object self) : PromiseWorker(env), ctx_(ctx) {
    self_ = Napi::Persistent(self);
    hasAfterGpu_ = true;
  }
  ~InferWorker() override;

  // IssueNow() (PromiseWorker): the GPU work is queued on the JS thread before infer() returns (review 2, #9).

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
  std::shared_ptr<cuda::StreamHandle> streamHold_;  // a Stream object stays alive until the job is over (#3)
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
  // Also refuses a bound buffer too small for its tensor's current shape, or on another device (#6).
  void CheckBindings(Napi::Env env) const;
  // Refuses what the manual API cannot run correctly (review 2, #12): an output with a data-dependent shape
  // (UNSUPPORTED: there is no IOutputAllocator, so neither its size nor its shape can be known), an output that must
  // alias an input (getAliasedInputTensor) bound to another address (INVALID_ARGUMENT). Both name the tensor.
  void CheckOutputs(Napi::Env env) const;
  // The allocations enqueue work may use (bound buffers): held by jobs and graphs.
  std::vector<std::shared_ptr<void>> BoundHolds() const;
  // `s` must be of the context's device (a Stream object's device is known; a bigint or default stream is not).
  void CheckStreamDevice(Napi::Env env, int streamDevice, const char* what) const;
  // Takes optimization profile `index` for this context; refuses one owned by another context.
  void ClaimProfile(int32_t index);
  void ReleaseProfile();

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
  // Their allocations: held by the binding, by each enqueueAsync() job and by the graph captured with them, so
  // that a DeviceBuffer disposed while the GPU may still use it is freed only afterwards (review 2, #2/#3).
  std::map<std::string, std::shared_ptr<cuda::DeviceMemory>> boundMem_;
  std::vector<std::shared_ptr<void>> userGraphHolds_;
  cudaStream_t captureStream_ = nullptr;  // private non-blocking stream that graphs are captured on (#7)
  int profile_ = -1;                       // the optimization profile this context owns (engine_->profileOwner)
  Block hostIn_, hostOut_;
  cudaGraphExec_t inferGraph_ = nullptr;
  std::string inferGraphKey_;
  cudaGraphExec_t userGraph_ = nullptr;
  int64_t reported_ = 0;
  bool busy_ = false, disposed_ = false, releasePending_ = false;
  // The engine streams its weights: enqueueV3 is synchronous (the header), so infer() / enqueueAsync() queue it on a
  // work thread; otherwise they queue the GPU work before returning (review 2, #9). Fixed for the context's life
  // (TensorRT refuses budget changes while contexts exist).
  bool syncEnqueue_ = false;
};


bool IsLegacyStream(cudaStream_t s);
std::string DimsText(const nvinfer1::Dims& d);
// Whether an input of the engine has a runtime (-1) dimension: then contexts need profiles of their own.
bool HasDynamicInputs(const nvinfer1::ICudaEngine& e);

}  // namespace tn::trt::run::context_impl
#endif
