// Runtime: IRuntime and engine deserialization (on a work thread of the addon: completion.h), plus the
// registration of the RUN side classes (Runtime, Engine, ExecutionContext) and helpers shared by engine.cc and
// context.cc (engine.h).
//
// JS (raw addon, see types/native-runtime.d.ts):
//   new Runtime({ dlaCore?, maxThreads?, engineHostCodeAllowed?, flavor?: 'full' | 'lean' | 'dispatch' })
//   runtime.deserialize(data: ArrayBufferView | ArrayBuffer | string /* path */) -> Promise<Engine>
//   runtime.dispose(); runtime.disposed; runtime.flavor (the library serving it: loader.h, Flavor)
// The rules of the runtime-only libraries (TensorRT's "Version Compatibility" documentation): the lean and dispatch
// runtimes deserialize version-compatible plans only (a failure says so next to TensorRT's words); the dispatch
// runtime runs the lean runtime embedded in the plan, which is host code, so it refuses to deserialize unless
// engineHostCodeAllowed is true (INVALID_ARGUMENT, before TensorRT is asked).
// Failures: TENSORRT_UNAVAILABLE (library missing), IO_ERROR (file unreadable), DESERIALIZE_ERROR (empty,
// corrupt, truncated or incompatible data; the message carries what TensorRT's error recorder and logger said).
#include <napi.h>

#include "modules.h"

#if TN_HAVE_TENSORRT
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "compat.h"
#include "cuda.h"
#include "engine.h"
#include "per_env.h"
#include "loader.h"
#include "logger.h"

namespace tn::trt::run {

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers (engine.h)

DeviceScope::DeviceScope(int device) {
  int cur = 0;
  TN_CUDA_CHECK(cudaGetDevice(&cur));
  if (cur != device) {
    TN_CUDA_CHECK(cudaSetDevice(device));
    prev_ = cur;
  }
}

DeviceScope::~DeviceScope() {
  if (prev_ >= 0) cudaSetDevice(prev_);
}

EngineState::~EngineState() {
  cuda::DeviceGuard guard(device);
  engine.reset();
}

void ThrowInvalidArg(Napi::Env env, const std::string& msg) { Throw(env, "INVALID_ARGUMENT", msg); }

void ThrowDisposedObject(Napi::Env env, const char* what) { Throw(env, "DISPOSED", std::string(what) + " has been disposed"); }

std::string StringArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsString()) ThrowInvalidArg(env, std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

void CheckTensorName(Napi::Env env, const nvinfer1::ICudaEngine& engine, const std::string& name) {
  if (name.size() >= 4096) ThrowInvalidArg(env, "tensor name is too long");
  int32_t n = engine.getNbIOTensors();
  std::string all;
  for (int32_t i = 0; i < n; ++i) {
    const char* t = engine.getIOTensorName(i);
    if (t && name == t) return;
    all += (all.empty() ? "'" : ", '") + std::string(t ? t : "") + "'";
  }
  ThrowInvalidArg(env, "the engine has no I/O tensor named '" + name + "' (I/O tensors: " + all + ")");
}

std::string TrtMessage(const std::string& what, ErrorRecorder* recorder, const std::string& logged) {
  std::string details = recorder ? recorder->Take() : std::string();
  if (!logged.empty()) details += (details.empty() ? "" : "; ") + logged;
  return what + ": " + (details.empty() ? std::string("no details from TensorRT") : details);
}

int64_t Volume(const nvinfer1::Dims& d) {
  if (d.nbDims < 0) return -1;
  int64_t v = 1;
  for (int32_t i = 0; i < d.nbDims; ++i) {
    if (d.d[i] < 0) return -1;
    if (__builtin_mul_overflow(v, static_cast<int64_t>(d.d[i]), &v)) return -1;  // not addressable either
  }
  return v;
}

const char* TensorFormatName(nvinfer1::TensorFormat f) {
  using F = nvinfer1::TensorFormat;
  switch (f) {
    case F::kLINEAR: return "linear";
    case F::kCHW2: return "chw2";
    case F::kHWC8: return "hwc8";
    case F::kCHW4: return "chw4";
    case F::kCHW16: return "chw16";
    case F::kCHW32: return "chw32";
    case F::kDHWC8: return "dhwc8";
    case F::kCDHW32: return "cdhw32";
    case F::kHWC: return "hwc";
    case F::kDLA_LINEAR: return "dlaLinear";
    case F::kDLA_HWC4: return "dlaHwc4";
    case F::kHWC16: return "hwc16";
    case F::kDHWC: return "dhwc";
    default: return "unknown";
  }
}

RuntimeCtors* GetRuntimeCtors(Napi::Env env) { return PerEnvTable<RuntimeCtors>().Find(env); }

// ---------------------------------------------------------------------------------------------------------------
// Runtime

namespace {

class Runtime : public Napi::ObjectWrap<Runtime> {
 public:
  explicit Runtime(const Napi::CallbackInfo& info);
  ~Runtime() override = default;

  Napi::Value Deserialize(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }
  Napi::Value GetNumDlaCores(const Napi::CallbackInfo& info);
  Napi::Value GetFlavor(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), FlavorName(flavor_)); }

 private:
  std::shared_ptr<RuntimeState> state_;  // null once disposed
  Flavor flavor_ = Flavor::kFull;
  bool hostCodeAllowed_ = false;
};

// What to add to a failed deserialization's message on a runtime-only library.
std::string FlavorHint(Flavor f, bool hostCodeAllowed) {
  if (f == Flavor::kFull) return "";
  std::string h = std::string(" [the ") + FlavorName(f) + " runtime deserializes only version-compatible engines "
                  "(built with BuilderFlag::kVERSION_COMPATIBLE, build option versionCompatible: true) of TensorRT " +
                  std::to_string(NV_TENSORRT_MAJOR) + ".x, no newer than the library";
  if (f == Flavor::kDispatch) {
    h += "; it runs the lean runtime embedded in the plan (not built with kEXCLUDE_LEAN_RUNTIME)";
  } else if (!hostCodeAllowed) {
    h += "; a plan that embeds the lean runtime carries host code: allow it with engineHostCodeAllowed: true";
  }
  return h + "]";
}

// Reads a whole file (worker thread). IO_ERROR with the OS's words.
std::vector<char> ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw NativeError("IO_ERROR", "cannot open engine file '" + path + "': " + std::strerror(errno));
  std::vector<char> data;
  if (std::fseek(f, 0, SEEK_END) == 0) {
    long end = std::ftell(f);
    if (end > 0) data.reserve(static_cast<size_t>(end));
    std::rewind(f);
  }
  char chunk[1 << 16];
  for (;;) {
    size_t n = std::fread(chunk, 1, sizeof chunk, f);
    if (n > 0) data.insert(data.end(), chunk, chunk + n);
    if (n < sizeof chunk) {
      if (std::ferror(f)) {
        int e = errno;
        std::fclose(f);
        throw NativeError("IO_ERROR", "cannot read engine file '" + path + "': " + std::strerror(e));
      }
      break;
    }
  }
  std::fclose(f);
  return data;
}

class DeserializeWorker : public PromiseWorker {
 public:
  DeserializeWorker(Napi::Env env, std::shared_ptr<RuntimeState> rt, int device, Flavor flavor, bool hostCode)
      : PromiseWorker(env), runtime_(std::move(rt)), device_(device), flavor_(flavor), hostCode_(hostCode) {}

  std::vector<char> data_;  // the plan (copied on the JS thread) ...
  std::string path_;        // ... or the file to read here

 protected:
  void Run() override {
    if (!path_.empty()) data_ = ReadFile(path_);
    if (data_.empty()) {
      throw NativeError("DESERIALIZE_ERROR", path_.empty() ? "engine data is empty (0 bytes)"
                                                          : "engine file '" + path_ + "' is empty (0 bytes)");
    }
    TN_CUDA_CHECK(cudaSetDevice(device_));
    std::lock_guard<std::mutex> lock(runtime_->mutex);
    runtime_->recorder.Take();  // drop anything left from earlier calls
    LogCapture log;
    nvinfer1::ICudaEngine* e = runtime_->runtime->deserializeCudaEngine(data_.data(), data_.size());
    if (!e) {
      std::string what = "cannot deserialize the engine";
      if (!path_.empty()) what += " file '" + path_ + "'";
      what += " (" + std::to_string(data_.size()) + " bytes)";
      throw NativeError("DESERIALIZE_ERROR",
                        TrtMessage(what, &runtime_->recorder, log.Take()) + FlavorHint(flavor_, hostCode_));
    }
    auto st = std::make_unique<EngineState>();
    st->runtime = runtime_;
    st->engine.reset(e);
    st->engine->setErrorRecorder(&st->recorder);
    st->device = device_;
    st->hostBytes = data_.size();
    state_ = std::move(st);
    std::vector<char>().swap(data_);
  }

  Napi::Value Result(Napi::Env env) override { return NewEngineObject(env, std::move(state_)); }

 private:
  std::shared_ptr<RuntimeState> runtime_;
  int device_;
  Flavor flavor_;
  bool hostCode_;
  std::unique_ptr<EngineState> state_;
};

// new Runtime(options?: { dlaCore?: number, maxThreads?: number, engineHostCodeAllowed?: boolean,
//                         flavor?: 'full' | 'lean' | 'dispatch' })
Runtime::Runtime(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Runtime>(info) {
  Napi::Env env = info.Env();
  int dlaCore = -1, maxThreads = -1;
  int hostCode = -1;
  bool namedFlavor = false;
  Flavor flavor = Flavor::kFull;
  if (!info[0].IsUndefined() && !info[0].IsNull()) {
    if (!info[0].IsObject()) ThrowInvalidArg(env, "Runtime options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto intOpt = [&](const char* k, int lo, int hi) {
      Napi::Value v = o.Get(k);
      if (v.IsUndefined()) return -1;
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.5;
      if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<int>(d))) {
        ThrowInvalidArg(env, std::string("Runtime option ") + k + " must be an integer in [" + std::to_string(lo) + ", " +
                                 std::to_string(hi) + "]");
      }
      return static_cast<int>(d);
    };
    dlaCore = intOpt("dlaCore", 0, 1024);
    maxThreads = intOpt("maxThreads", 1, 4096);
    Napi::Value h = o.Get("engineHostCodeAllowed");
    if (!h.IsUndefined()) {
      if (!h.IsBoolean()) ThrowInvalidArg(env, "Runtime option engineHostCodeAllowed must be a boolean");
      hostCode = h.As<Napi::Boolean>().Value() ? 1 : 0;
    }
    Napi::Value fl = o.Get("flavor");
    if (!fl.IsUndefined()) {
      if (!fl.IsString() || !ParseFlavor(fl.As<Napi::String>().Utf8Value(), &flavor)) {
        ThrowInvalidArg(env, "Runtime option flavor must be 'full', 'lean' or 'dispatch'");
      }
      namedFlavor = true;
    }
  }
  Guard(env, [&] {
    auto st = std::make_shared<RuntimeState>();
    // TENSORRT_UNAVAILABLE with the loader's reason
    flavor_ = namedFlavor ? flavor : SelectedFlavor();
    // TensorRT first (TENSORRT_UNAVAILABLE), then CUDA: createInferRuntime of libnvinfer_lean 10.16.1 without a usable
    // driver logged "CUDA initialization failure with error: 35" and the process then died (SIGSEGV) on a machine
    // without a GPU, so the IRuntime is only created where CUDA works (CUDA_UNAVAILABLE otherwise).
    Probe probe = namedFlavor ? ProbeFlavor(flavor) : ProbeTensorRT();
    if (!probe.available) (void)(namedFlavor ? CreateRuntime(flavor) : CreateRuntime());  // throws with the reason
    cuda::EnsureCuda();
    st->runtime.reset(namedFlavor ? CreateRuntime(flavor) : CreateRuntime());
    if (!st->runtime) throw NativeError("TENSORRT_ERROR", "createInferRuntime returned null");
    st->runtime->setErrorRecorder(&st->recorder);
    if (dlaCore >= 0) {
      int32_t n = st->runtime->getNbDLACores();
      if (dlaCore >= n) {
        throw NativeError("INVALID_ARGUMENT",
                          "dlaCore " + std::to_string(dlaCore) + " does not exist (" + std::to_string(n) + " DLA cores)");
      }
      st->runtime->setDLACore(dlaCore);
    }
    if (maxThreads > 0 && !st->runtime->setMaxThreads(maxThreads)) {
      throw NativeError("TENSORRT_ERROR", TrtMessage("setMaxThreads(" + std::to_string(maxThreads) + ") failed",
                                                     &st->recorder, ""));
    }
    if (hostCode >= 0) st->runtime->setEngineHostCodeAllowed(hostCode == 1);
    hostCodeAllowed_ = st->runtime->getEngineHostCodeAllowed();
    state_ = std::move(st);
  });
}

Napi::Value Runtime::GetNumDlaCores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state_) ThrowDisposedObject(env, "Runtime");
  return Napi::Number::New(env, state_->runtime->getNbDLACores());
}

// deserialize(data: ArrayBufferView | ArrayBuffer | string) -> Promise<Engine>
Napi::Value Runtime::Deserialize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state_) ThrowDisposedObject(env, "Runtime");
  Napi::Value v = info[0];
  std::string path;
  const uint8_t* bytes = nullptr;
  size_t length = 0;
  if (v.IsString()) {
    path = v.As<Napi::String>().Utf8Value();
    if (path.empty()) ThrowInvalidArg(env, "engine path must not be empty");
    if (path.find('\0') != std::string::npos) ThrowInvalidArg(env, "engine path must not contain NUL characters");
  } else if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    Napi::ArrayBuffer ab = ta.ArrayBuffer();
    bytes = static_cast<const uint8_t*>(ab.Data()) + ta.ByteOffset();
    length = ta.ByteLength();
  } else if (v.IsDataView()) {
    auto dv = v.As<Napi::DataView>();
    Napi::ArrayBuffer ab = dv.ArrayBuffer();
    bytes = static_cast<const uint8_t*>(ab.Data()) + dv.ByteOffset();
    length = dv.ByteLength();
  } else if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    bytes = static_cast<const uint8_t*>(ab.Data());
    length = ab.ByteLength();
  } else {
    ThrowInvalidArg(env, "engine data must be a Uint8Array / Buffer / ArrayBuffer or a file path");
  }
  if (length > 0 && !bytes) ThrowInvalidArg(env, "engine data is detached");
  if (flavor_ == Flavor::kDispatch && !hostCodeAllowed_) {
    ThrowInvalidArg(env,
                    "the dispatch runtime (libnvinfer_dispatch) deserializes only version-compatible plans that embed "
                    "the lean runtime, which is host code that TensorRT runs: create the Runtime with "
                    "engineHostCodeAllowed: true for plans you trust (or use the lean or full runtime)");
  }
  return Guard(env, [&]() -> Napi::Value {
    cuda::EnsureCuda();  // no GPU: CUDA_UNAVAILABLE, before any work
    int device = 0;
    TN_CUDA_CHECK(cudaGetDevice(&device));
    auto* w = new DeserializeWorker(env, state_, device, flavor_, hostCodeAllowed_);
    try {
      if (path.empty()) {
        // Copied here: JS may modify, transfer or detach its buffer while the worker runs.
        w->data_.assign(reinterpret_cast<const char*>(bytes), reinterpret_cast<const char*>(bytes) + length);
      } else {
        w->path_ = path;
      }
    } catch (const std::bad_alloc&) {
      delete w;
      throw NativeError("OUT_OF_MEMORY", "cannot copy " + std::to_string(length) + " bytes of engine data");
    }
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  });
}

Napi::Value Runtime::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();  // the IRuntime goes when the last engine deserialized from it (and any pending load) is gone
  return info.Env().Undefined();
}

}  // namespace

Napi::Function InitRuntimeClass(Napi::Env env) {
  return Runtime::DefineClass(env, "Runtime",
                              {
                                  Runtime::InstanceMethod<&Runtime::Deserialize>("deserialize"),
                                  Runtime::InstanceMethod<&Runtime::Dispose>("dispose"),
                                  Runtime::InstanceAccessor<&Runtime::GetDisposed>("disposed"),
                                  Runtime::InstanceAccessor<&Runtime::GetNumDlaCores>("numDlaCores"),
                                  Runtime::InstanceAccessor<&Runtime::GetFlavor>("flavor"),
                              });
}

}  // namespace tn::trt::run

namespace tn {

void InitRuntimeClasses(Napi::Env env, Napi::Object exports) {
  using namespace tn::trt::run;
  auto* c = new RuntimeCtors();
  PerEnvTable<RuntimeCtors>().Set(env, c);
  Napi::Function rt = InitRuntimeClass(env);
  Napi::Function en = InitEngineClass(env);
  Napi::Function cx = InitExecutionContextClass(env);
  c->runtime = Napi::Persistent(rt);
  c->engine = Napi::Persistent(en);
  c->context = Napi::Persistent(cx);
  exports.Set("Runtime", rt);
  exports.Set("Engine", en);
  exports.Set("ExecutionContext", cx);
}

}  // namespace tn

#else  // !TN_HAVE_TENSORRT

namespace tn {
// Built without TensorRT headers: no RUN side classes (lib/ reports TENSORRT_UNAVAILABLE).
void InitRuntimeClasses(Napi::Env, Napi::Object) {}
}  // namespace tn

#endif
