// ExecutionContext.infer() (see context.cc): inputs checked and staged on the JS thread, the GPU work queued there
// too (QueueInfer; on a work thread for weight-streaming engines), outputs moved out of pinned staging on a work
// thread, the Promise settled on the JS thread.
#include <napi.h>

#if TN_HAVE_TENSORRT
#include "context.h"

namespace tn::trt::run::context_impl {

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
  int sdev = -1;
  std::shared_ptr<cuda::StreamHandle> streamHold;
  cudaStream_t stream =
      info[1].IsUndefined() || info[1].IsNull() ? stream_ : cuda::StreamFromValue(env, info[1], &sdev, &streamHold);
  CheckStreamDevice(env, sdev, "infer");
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
      boundMem_.erase(in.name);
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
      if (const char* in = compat::AliasedInputTensor(e, n)) {
        throw NativeError("UNSUPPORTED", "output '" + std::string(n) + "' must share memory with input '" + in +
                                             "' (ICudaEngine::getAliasedInputTensor); infer() gives every tensor its own "
                                             "buffer: bind one DeviceBuffer to both with setTensorAddress and use "
                                             "enqueue() / enqueueAsync()");
      }
      OutputSpec out;
      out.name = n;
      out.dims = ctx_->getTensorShape(n);
      int64_t vol = Volume(out.dims);
      if (vol < 0) {
        throw NativeError("UNSUPPORTED", "output '" + out.name + "' has a data-dependent shape " + DimsText(out.dims) +
                                             "; infer() needs output shapes that follow from the input shapes "
                                             "(tensorrt-node has no IOutputAllocator)");
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
      boundMem_.erase(out.name);
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
    w->streamHold_ = std::move(streamHold);
    w->useGraph_ = useGraph;
    // infer() rebinds and sets shapes: captureGraph()'s graph is stale from here on (#2); the graph's holds keep
    // what its last launch uses alive
    if (userGraph_) {
      cudaGraphExecDestroy(userGraph_);
      userGraph_ = nullptr;
      userGraphHolds_.clear();
    }
    w->key_ = std::move(key);
    w->UseDevice(device_);
    // 4. the GPU work is queued now, before returning (review 2, #9: ahead of what JS queues on the stream next);
    // for an engine that streams its weights (enqueueV3 synchronous) on a work thread instead
    busy_ = true;
    Napi::Promise p = w->Promise();
    if (!syncEnqueue_) w->IssueNow();  // the DeviceScope above selects the engine's device
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
  if (ce == cudaSuccess && inferGraph_ && w.key_ != inferGraphKey_) {
    // Other shapes / addresses / profile ran since the graph was captured (review 2, #8): TensorRT's state for the
    // graph's key is gone (it re-plans on every shape change), so the graph is never launched again.
    cudaGraphExecDestroy(inferGraph_);
    inferGraph_ = nullptr;
    inferGraphKey_.clear();
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
    // Nothing to watch: drain here, then reject. Error path only: cudaEventRecord on a live stream fails when the
    // CUDA context is broken (a sticky error), and then this returns at once, on the JS thread too.
    cudaStreamSynchronize(stream);
    std::string msg = "recording the completion event: " + CudaText(re);
    if (deferred) msg = std::string(deferred->what()) + "; " + msg;
    throw NativeError(CudaErrorCode(re), msg);
  }
  *done = inferDone_;
  if (deferred) throw *deferred;
}


}  // namespace tn::trt::run::context_impl
#endif
