// CONTRACT-TEST ADDON ONLY (never part of a release build: scripts/contract/build.sh compiles it, with
// TN_CONTRACT_TESTS=1, into build-contract/tensorrt_node_contract.node instead of native/addon.cc).
//
// The module registers everything the release addon does, plus `contract.calibrate(adapter, options)`: a TEST
// DOUBLE of TensorRT's side of the implicit-INT8 calibrator contract. It never builds or runs an engine; it calls
// the calibrator bridge of native/calibrator.cc the way TensorRT's builder does during a calibrating build, from a
// thread that is not the JS thread (the worker thread of a PromiseWorker, as BuildWorker does):
//   getBatchSize(); readCalibrationCache(); getBatch(bindings, names, n) until it returns false; then
//   writeCalibrationCache(); every byte of every binding is read after each getBatch (a checksum is returned).
// Batches go to host memory (ContractMemoryLog: the bridge's device selections, allocations and frees are
// recorded) since there is no GPU where these tests run. Afterwards it fails exactly like BuildWorker::Run:
// CALIBRATION_ERROR (cause = the JS error) when the bridge recorded a failure, BUILD_FAILED when cancelled.
#include <napi.h>

#include "build_classes.h"
#include "compat.h"
#include "errors.h"
#include "loader.h"
#include "logger.h"
#include "modules.h"
#include "trt_common.h"

#if !TN_CONTRACT_TESTS
#error "contract_addon.cc is only compiled into the contract-test addon (TN_CONTRACT_TESTS=1)"
#endif

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tn::trt {
namespace {

#if TN_HAVE_TENSORRT && TN_HAS_IMPLICIT_INT8
TN_ALLOW_DEPRECATED_BEGIN  // IInt8Calibrator: deprecated in 10.x, what TensorRT 10 calls

class CalibrationDriver : public PromiseWorker {
 public:
  CalibrationDriver(Napi::Env env, Napi::Object adapter, Napi::Object options)
      : PromiseWorker(env),
        cancelled_(std::make_shared<std::atomic<bool>>(false)),
        stop_(std::make_shared<std::atomic<bool>>(false)),
        log_(std::make_shared<ContractMemoryLog>()) {
    device_ = options.Has("device") ? options.Get("device").ToNumber().Int32Value() : 0;
    Napi::Value mb = options.Get("maxBatches");
    maxBatches_ = mb.IsNumber() ? mb.As<Napi::Number>().Int32Value() : 1000;
    std::map<std::string, CalibrationInput> inputs;
    Napi::Array list = options.Get("inputs").As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Object in = list.Get(i).As<Napi::Object>();
      std::string name = in.Get("name").ToString().Utf8Value();
      Napi::Array shape = in.Get("shape").As<Napi::Array>();
      size_t elem = in.Get("elementSize").ToNumber().Uint32Value();
      CalibrationInput ci;
      size_t n = 1;
      for (uint32_t k = 0; k < shape.Length(); ++k) {
        int64_t d = shape.Get(k).ToNumber().Int64Value();
        ci.shape.push_back(d);
        n *= static_cast<size_t>(d);
      }
      ci.bytes = n * elem;
      names_.push_back(name);
      inputs[name] = ci;
    }
    bridge_ = CreateCalibratorBridge(env, adapter, device_);
    bridge_->UseHostMemoryForContractTests(log_);
    bridge_->ExpectInputs(std::move(inputs));
    bridge_->SetFlags(cancelled_, stop_);
  }

  std::shared_ptr<std::atomic<bool>> cancelled() const { return cancelled_; }

 protected:
  void Run() override {
    nvinfer1::IInt8Calibrator* c = bridge_->CalibratorForContractTests();
    batchSize_ = c->getBatchSize();
    size_t length = 0;
    const void* cache = c->readCalibrationCache(length);
    cacheRead_ = cache ? length : 0;
    std::vector<const char*> names;
    for (const auto& n : names_) names.push_back(n.c_str());
    std::vector<void*> bindings(names.size(), nullptr);
    if (!cache) {
      while (batches_ < maxBatches_) {
        // TensorRT stops at its next progress step when the build is cancelled or stopped.
        if (cancelled_->load() || stop_->load()) break;
        if (!c->getBatch(bindings.data(), names.data(), static_cast<int32_t>(names.size()))) break;
        ++batches_;
        for (size_t i = 0; i < names.size(); ++i) {
          const uint8_t* p = static_cast<const uint8_t*>(bindings[i]);
          for (int64_t k = 0; k < bytesOf(i); ++k) checksum_ += p[k];
        }
      }
      if (!cancelled_->load() && !stop_->load()) {
        static const char kCache[] = "TRT-contract-test-cache";
        c->writeCalibrationCache(kCache, sizeof(kCache) - 1);
      }
    }
    bridge_->ReleaseBuffers();
    std::string calibration = bridge_->Error();
    if (!calibration.empty()) throw NativeError("CALIBRATION_ERROR", calibration);
    if (cancelled_->load()) throw NativeError("BUILD_FAILED", "the build was cancelled");
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("batches", Napi::Number::New(env, batches_));
    o.Set("batchSize", Napi::Number::New(env, batchSize_));
    o.Set("cacheRead", Napi::Number::New(env, static_cast<double>(cacheRead_)));
    o.Set("checksum", Napi::Number::New(env, static_cast<double>(checksum_)));
    o.Set("memory", MemoryLog(env));
    return o;
  }

  void DecorateError(Napi::Env env, Napi::Object error) override {
    if (!bridge_->Error().empty()) bridge_->DecorateError(env, error);
    error.Set("memory", MemoryLog(env));
  }

 private:
  int64_t bytesOf(size_t i) const { return static_cast<int64_t>(sizes_.empty() ? 0 : sizes_[i]); }

  Napi::Object MemoryLog(Napi::Env env) const {
    Napi::Object m = Napi::Object::New(env);
    m.Set("selects", Napi::Number::New(env, log_->selects.load()));
    m.Set("lastDevice", Napi::Number::New(env, log_->lastDevice.load()));
    m.Set("allocs", Napi::Number::New(env, log_->allocs.load()));
    m.Set("frees", Napi::Number::New(env, log_->frees.load()));
    m.Set("freesOffBuilderThread", Napi::Number::New(env, log_->freesOffBuilderThread.load()));
    m.Set("wrongDevice", Napi::Boolean::New(env, log_->wrongDevice.load()));
    return m;
  }

 public:
  std::vector<size_t> sizes_;  // bytes per input, in names_ order (what TensorRT reads from each binding)

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_, stop_;
  std::shared_ptr<ContractMemoryLog> log_;
  std::unique_ptr<CalibratorBridge> bridge_;
  std::vector<std::string> names_;
  int device_ = 0;
  int maxBatches_ = 1000;
  int batches_ = 0;
  int32_t batchSize_ = 0;
  size_t cacheRead_ = 0;
  uint64_t checksum_ = 0;
};

// contract.calibrate(adapter, { inputs: [{ name, shape, elementSize }], device?, maxBatches? }) -> Promise with
// cancel(), resolving { batches, batchSize, cacheRead, checksum, memory }.
Napi::Value Calibrate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsObject()) Throw(env, "INVALID_ARGUMENT", "calibrate(adapter, options)");
  Napi::Object options = info[1].As<Napi::Object>();
  CalibrationDriver* w = Guard(env, [&] { return new CalibrationDriver(env, info[0].As<Napi::Object>(), options); });
  Napi::Array list = options.Get("inputs").As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Object in = list.Get(i).As<Napi::Object>();
    Napi::Array shape = in.Get("shape").As<Napi::Array>();
    size_t n = in.Get("elementSize").ToNumber().Uint32Value();
    for (uint32_t k = 0; k < shape.Length(); ++k) n *= static_cast<size_t>(shape.Get(k).ToNumber().Int64Value());
    w->sizes_.push_back(n);
  }
  Napi::Promise p = w->Promise();
  MakeCancellable(env, p, w->cancelled());  // as BuildWorker (Builder::BuildSerializedNetwork)
  w->Queue();
  return p;
}

TN_ALLOW_DEPRECATED_END
#endif

#if TN_HAVE_TENSORRT
// contract.errorRecorder(n): reports n errors to our IErrorRecorder as TensorRT would, then reads it back.
Napi::Value ErrorRecorderContract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = info[0].ToNumber().Int32Value();
  ErrorRecorder r;
  for (int i = 0; i < n; ++i) r.reportError(nvinfer1::ErrorCode::kINTERNAL_ERROR, ("error " + std::to_string(i)).c_str());
  Napi::Object o = Napi::Object::New(env);
  o.Set("nbErrors", Napi::Number::New(env, r.getNbErrors()));
  o.Set("hasOverflowed", Napi::Boolean::New(env, r.hasOverflowed()));
  // out of range (review 2, #10): the header wants kUNSPECIFIED_ERROR and an empty string
  o.Set("codeOutOfRange", Napi::Number::New(env, static_cast<double>(static_cast<int32_t>(r.getErrorCode(r.getNbErrors())))));
  o.Set("codeNegative", Napi::Number::New(env, static_cast<double>(static_cast<int32_t>(r.getErrorCode(-1)))));
  o.Set("descOutOfRange", Napi::String::New(env, r.getErrorDesc(r.getNbErrors())));
  o.Set("unspecified", Napi::Number::New(env, static_cast<double>(static_cast<int32_t>(nvinfer1::ErrorCode::kUNSPECIFIED_ERROR))));
  if (n > 0) o.Set("codeFirst", Napi::Number::New(env, static_cast<double>(static_cast<int32_t>(r.getErrorCode(0)))));
  std::string taken = r.Take();
  o.Set("takenEndsWith", Napi::String::New(env, taken.size() > 60 ? taken.substr(taken.size() - 60) : taken));
  o.Set("hasOverflowedAfterTake", Napi::Boolean::New(env, r.hasOverflowed()));
  return o;
}

// contract.recorderScopes(): one recorder shared as a Builder's is (review 2, #10). A build thread opens its scope
// (kAnyThread); meanwhile the JS thread makes a synchronous call with its own scope (kThisThread) that reports an
// error, calls clear() (as config.cc used to) and reads its scope; a TensorRT-internal thread reports an error; then
// the build reports one and reads its scope. Returns what each scope read and the recorder's counts.
Napi::Value RecorderScopesContract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ErrorRecorder r;
  std::mutex m;
  std::condition_variable cv;
  int stage = 0;  // 1: the build's scope is open; 2: the build may go on
  std::string buildTaken;
  std::thread build([&] {
    ErrorRecorder::Scope scope(r, ErrorRecorder::Scope::kAnyThread);
    {
      std::unique_lock<std::mutex> lock(m);
      stage = 1;
      cv.notify_all();
      cv.wait(lock, [&] { return stage == 2; });
    }
    r.reportError(nvinfer1::ErrorCode::kINTERNAL_ERROR, "build thread error");
    buildTaken = scope.Take();
  });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return stage == 1; });
  }
  std::string jsTaken;
  int32_t nbAfterClear = -1;
  bool overflowAfterClear = true;
  {
    ErrorRecorder::Scope scope(r, ErrorRecorder::Scope::kThisThread);
    r.reportError(nvinfer1::ErrorCode::kINVALID_ARGUMENT, "config call error");
    r.clear();
    nbAfterClear = r.getNbErrors();
    overflowAfterClear = r.hasOverflowed();
    jsTaken = scope.Take();
  }
  std::thread internal([&] { r.reportError(nvinfer1::ErrorCode::kINTERNAL_ERROR, "TensorRT thread error"); });
  internal.join();
  {
    std::lock_guard<std::mutex> lock(m);
    stage = 2;
    cv.notify_all();
  }
  build.join();
  Napi::Object o = Napi::Object::New(env);
  o.Set("buildTaken", Napi::String::New(env, buildTaken));
  o.Set("jsTaken", Napi::String::New(env, jsTaken));
  o.Set("nbAfterClear", Napi::Number::New(env, nbAfterClear));
  o.Set("overflowAfterClear", Napi::Boolean::New(env, overflowAfterClear));
  o.Set("nbErrors", Napi::Number::New(env, r.getNbErrors()));  // the recorder's own list: what came after clear()
  o.Set("recorderTaken", Napi::String::New(env, r.Take()));
  return o;
}

// contract.builderGuard(inUse, what): RequireBuilderIdle with a Builder in-use count of `inUse` (the check OnnxParser
// and UffParser construction and parse() now make, review 2 #11). Throws INVALID_ARGUMENT or returns true.
Napi::Value BuilderGuardContract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto building = std::make_shared<std::atomic<int>>(info[0].ToNumber().Int32Value());
  std::string what = info[1].ToString().Utf8Value();
  RequireBuilderIdle(env, building, what.c_str());
  return Napi::Boolean::New(env, true);
}

// contract.createRefitter(): the loader's CreateRefitter (review 2, #12: the refitter symbol is optional and checked
// only here). The stand-in libraries never look at the engine, which is a placeholder that is never dereferenced:
// without the symbol CreateRefitter throws TENSORRT_UNAVAILABLE before calling anything.
Napi::Value CreateRefitterContract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  alignas(std::max_align_t) static unsigned char placeholder[64] = {};
  return Guard(env, [&]() -> Napi::Value {
    nvinfer1::IRefitter* r = CreateRefitter(*reinterpret_cast<nvinfer1::ICudaEngine*>(placeholder));
    delete r;
    return Napi::Boolean::New(env, true);
  });
}

// contract.logCapture(wide): a LogCapture on this thread; TensorRT's logger then called from another thread (as
// TensorRT's internal threads do) and from this one; returns what the capture collected.
Napi::Value LogCaptureContract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool wide = info[0].ToBoolean().Value();
  LogCapture capture(wide ? LogCapture::kWithUnattributed : LogCapture::kThisThread);
  std::thread t([] { Logger().log(nvinfer1::ILogger::Severity::kERROR, "from a TensorRT thread"); });
  t.join();
  Logger().log(nvinfer1::ILogger::Severity::kERROR, "from the calling thread");
  return Napi::String::New(env, capture.Take());
}
#endif

}  // namespace
}  // namespace tn::trt

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tn::InitCuda(env, exports);
  tn::InitInfo(env, exports);
  tn::InitLogger(env, exports);
  tn::InitTrt(env, exports);
  Napi::Object contract = Napi::Object::New(env);
  contract.Set("testDouble", Napi::String::New(env, "tensorrt-node contract-test addon: no engine is built or run"));
#if TN_HAVE_TENSORRT && TN_HAS_IMPLICIT_INT8
  contract.Set("calibrate", Napi::Function::New(env, tn::trt::Calibrate, "calibrate"));
#endif
#if TN_HAVE_TENSORRT
  contract.Set("errorRecorder", Napi::Function::New(env, tn::trt::ErrorRecorderContract, "errorRecorder"));
  contract.Set("logCapture", Napi::Function::New(env, tn::trt::LogCaptureContract, "logCapture"));
  contract.Set("recorderScopes", Napi::Function::New(env, tn::trt::RecorderScopesContract, "recorderScopes"));
  contract.Set("createRefitter", Napi::Function::New(env, tn::trt::CreateRefitterContract, "createRefitter"));
  contract.Set("builderGuard", Napi::Function::New(env, tn::trt::BuilderGuardContract, "builderGuard"));
  contract.Set("progress", Napi::Function::New(env, tn::trt::ContractProgress, "progress"));
#endif
  exports.Set("contract", contract);
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorrt_node, Init)
