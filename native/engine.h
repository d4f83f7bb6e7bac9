// Private declarations shared by runtime.cc, engine.cc and context.cc (the RUN side of the TensorRT binding).
//
// Ownership (native side): a JS Engine owns a shared_ptr<EngineState>, which owns a shared_ptr<RuntimeState>;
// an ExecutionContext owns a shared_ptr<EngineState>. So an IRuntime outlives every engine it deserialized and an
// ICudaEngine outlives every context created from it, whatever order JS disposes or collects them in. dispose()
// on a JS object drops its share at once (and marks it DISPOSED); the TensorRT object goes with the last share.
#pragma once

#if TN_HAVE_TENSORRT
#include <napi.h>
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"
#include "trt_common.h"

namespace tn::trt::run {

struct RuntimeState {
  ErrorRecorder recorder;           // declared first: destroyed after the runtime that uses it
  Ptr<nvinfer1::IRuntime> runtime;
  std::mutex mutex;                 // one deserialization at a time (they share the recorder)
};

struct EngineState {
  std::shared_ptr<RuntimeState> runtime;  // destroyed after the engine
  ErrorRecorder recorder;
  Ptr<nvinfer1::ICudaEngine> engine;
  int device = 0;            // CUDA device that was current when the engine was deserialized
  size_t hostBytes = 0;      // size of the serialized plan (reported to V8 as the engine's footprint)
  // Optimization profile i belongs to at most one execution context (every header: "each execution context in
  // concurrent use must use a separate optimization profile"); owner per profile, nullptr when free (JS thread).
  std::vector<const void*> profileOwner;
  // Destroys the ICudaEngine with its device selected, on whichever thread lets go last (multi-GPU).
  ~EngineState();
};

// Makes `device` current for the calling thread while alive, restoring the previous device afterwards
// (no-op when it is already current). Throws NativeError on CUDA failure.
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int prev_ = -1;
};

// The JS Engine object for a freshly deserialized engine (takes ownership of `state`). JS thread only.
Napi::Object NewEngineObject(Napi::Env env, std::unique_ptr<EngineState> state);
// The EngineState of a live JS Engine, or nullptr when `v` is not an Engine. Throws DISPOSED for a disposed one.
std::shared_ptr<EngineState> EngineStateFromValue(Napi::Env env, Napi::Value v);
// A new JS ExecutionContext for `engine` (context.cc). `engineObject` is the JS Engine (kept alive by the context).
Napi::Object NewExecutionContextObject(Napi::Env env, Napi::Object engineObject, std::shared_ptr<EngineState> engine);
// The IExecutionContext of a live JS ExecutionContext, or nullptr when `v` is not one (for Engine.inspect).
const nvinfer1::IExecutionContext* ExecutionContextFromValue(Napi::Env env, Napi::Value v);

// Per-environment constructors of the three classes (the addon may be loaded in several worker_threads).
struct RuntimeCtors {
  Napi::FunctionReference runtime, engine, context;
};
RuntimeCtors* GetRuntimeCtors(Napi::Env env);  // nullptr before InitRuntimeClasses

// Class registration (each file defines its own).
Napi::Function InitRuntimeClass(Napi::Env env);
Napi::Function InitEngineClass(Napi::Env env);
Napi::Function InitExecutionContextClass(Napi::Env env);

// Helpers
[[noreturn]] void ThrowInvalidArg(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowDisposedObject(Napi::Env env, const char* what);
std::string StringArg(Napi::Env env, Napi::Value v, const char* name);
// A tensor name of the engine, else INVALID_ARGUMENT naming the I/O tensors.
void CheckTensorName(Napi::Env env, const nvinfer1::ICudaEngine& engine, const std::string& name);
// "what: <recorder>; <log>" or "what: no details from TensorRT". Clears both.
std::string TrtMessage(const std::string& what, ErrorRecorder* recorder, const std::string& logged);
// Volume of fully specified dims (-1 when a dimension is negative or the product overflows int64).
int64_t Volume(const nvinfer1::Dims& d);
// Name of an I/O tensor format ('linear', 'chw4', 'hwc8', ...).
const char* TensorFormatName(nvinfer1::TensorFormat f);

}  // namespace tn::trt::run
#endif
