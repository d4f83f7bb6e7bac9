// The build side of the addon (builder.cc network.cc config.cc parser.cc calibrator.cc): classes shared between
// those files. Only with TensorRT headers.
//
// Lifetimes: TensorRT objects are held in shared_ptrs. A JS object's dispose() drops its own reference; a build
// or parse in flight holds another one (and JS references to the objects involved), so disposing during a build
// never frees memory TensorRT is using. Networks and configs keep their IBuilder alive.
#pragma once

#if TN_HAVE_TENSORRT
#include <napi.h>
#include <NvInfer.h>
#include <NvOnnxParser.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compat.h"
#include "trt_common.h"

#if TN_HAS_UFF
#include <NvUffParser.h>
#endif

namespace tn::trt {

// Per-env constructors of the build classes (the addon may be loaded in several worker_threads).
struct BuildCtors {
  Napi::FunctionReference builder, network, config, onnxParser;
};
BuildCtors& BuildCtorsFor(Napi::Env env);

// Throws DISPOSED "<what> has been disposed".
[[noreturn]] void ThrowDisposed(Napi::Env env, const char* what);

// Throws INVALID_ARGUMENT "<what>: a build or parse is running on this Builder ..." while `building` (a Builder's
// in-use count, shared with its networks, configs and parsers) is above 0: TensorRT's builder serves one thread at a
// time, so nothing made from it is touched from JS meanwhile, parsers included (review 2, #11).
void RequireBuilderIdle(Napi::Env env, const std::shared_ptr<std::atomic<int>>& building, const char* what);

// Deleter for TensorRT objects as shared_ptr.
template <typename T>
std::shared_ptr<T> Share(T* p) {
  return std::shared_ptr<T>(p, [](T* q) { delete q; });
}

// Deleter of the IBuilder: TensorRT requires every timing cache a builder used to outlive it ("The lifetime of the
// ITimingCache must exceed the lifetime of all builders that use it"), so configs hand their caches to `keep`,
// released right after the builder itself.
struct BuilderDeleter {
  std::shared_ptr<std::vector<std::shared_ptr<nvinfer1::ITimingCache>>> keep =
      std::make_shared<std::vector<std::shared_ptr<nvinfer1::ITimingCache>>>();
  void operator()(nvinfer1::IBuilder* b) const {
    delete b;
    keep->clear();
  }
};

class Builder : public Napi::ObjectWrap<Builder> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Builder* Unwrap(Napi::Value v);  // nullptr unless a Builder
  explicit Builder(const Napi::CallbackInfo& info);

  // recorder first: destroyed after the TensorRT objects that hold it
  std::shared_ptr<ErrorRecorder> recorder;
  std::shared_ptr<nvinfer1::IBuilder> builder;
  // Builds in flight on this IBuilder (shared with its networks and configs): TensorRT's builder serves one
  // thread at a time, so the IBuilder is not touched from JS while a build runs.
  std::shared_ptr<std::atomic<int>> building = std::make_shared<std::atomic<int>>(0);
  nvinfer1::IBuilder& Get(Napi::Env env) const;  // throws DISPOSED / INVALID_ARGUMENT while building or parsing

 private:
  enum class PlatformCap { kFastFp16, kFastInt8, kTf32 };
  // platformHasFastFp16 / platformHasFastInt8 / platformHasTf32 (TensorRT <= 10; undefined where they are gone)
  template <PlatformCap cap>
  Napi::Value PlatformHas(const Napi::CallbackInfo& info);
  Napi::Value NumDlaCores(const Napi::CallbackInfo& info);
  Napi::Value GetMaxThreads(const Napi::CallbackInfo& info);
  void SetMaxThreads(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value CreateNetwork(const Napi::CallbackInfo& info);
  Napi::Value CreateConfig(const Napi::CallbackInfo& info);
  Napi::Value BuildSerializedNetwork(const Napi::CallbackInfo& info);
  Napi::Value IsNetworkSupported(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
};

class NetworkDefinition : public Napi::ObjectWrap<NetworkDefinition> {
 public:
  static Napi::Function Init(Napi::Env env);
  static NetworkDefinition* Unwrap(Napi::Value v);
  explicit NetworkDefinition(const Napi::CallbackInfo& info);  // only via Builder.createNetwork

  std::shared_ptr<ErrorRecorder> recorder;
  std::shared_ptr<nvinfer1::IBuilder> builder;
  std::shared_ptr<std::atomic<int>> building;  // the Builder's (a parse of this network counts as work on it)
  std::shared_ptr<nvinfer1::INetworkDefinition> network;
  // The parsers that filled the network (after `network`: destroyed before it). They own weights the network's
  // layers point to until the engine is built, so they live as long as the network (and any build of it).
  std::vector<std::shared_ptr<void>> parsers;
  bool stronglyTyped = false;
  // Set while a parse or build uses the network on another thread: inspection and edits then throw.
  std::atomic<int> busy{0};
  nvinfer1::INetworkDefinition& Get(Napi::Env env, bool forWrite = false) const;  // throws DISPOSED / busy

 private:
  Napi::Value GetInputs(const Napi::CallbackInfo& info);
  Napi::Value GetOutputs(const Napi::CallbackInfo& info);
  Napi::Value GetLayers(const Napi::CallbackInfo& info);
  Napi::Value GetNumLayers(const Napi::CallbackInfo& info);
  Napi::Value GetStronglyTyped(const Napi::CallbackInfo& info);
  Napi::Value GetName(const Napi::CallbackInfo& info);
  void SetName(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value MarkOutput(const Napi::CallbackInfo& info);
  Napi::Value UnmarkOutput(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
};

// What TensorRT reads for one calibration input per batch: the network input's shape, runtime dimensions taken from
// the calibration profile's kOPT shape (setCalibrationProfile: "MIN and MAX values will be overwritten by kOPT"),
// and its size in bytes.
struct CalibrationInput {
  std::vector<int64_t> shape;
  size_t bytes = 0;
};

#if TN_CONTRACT_TESTS
// TEST DOUBLE of the device side of the calibrator bridge, compiled only into the contract-test addon
// (scripts/contract/build.sh defines TN_CONTRACT_TESTS; release builds never do): batches go to host memory and
// every device selection / allocation / free is recorded, so that test/contract can check on which thread and for
// which device they happen. Nothing here talks to CUDA or TensorRT.
struct ContractMemoryLog {
  std::atomic<int> selects{0};      // Select(device) calls
  std::atomic<int> lastDevice{-1};  // the device last selected
  std::atomic<int> allocs{0}, frees{0};
  std::atomic<int> freesOffBuilderThread{0};  // frees made on another thread than the last Select
  std::atomic<bool> wrongDevice{false};       // an allocation / free without the bridge's device selected
};
#endif

// JS thread: whether JavaScript can still run in `env` (calls a no-op). A call into JS that failed because the
// environment is being torn down (worker.terminate(), process exit) is not the caller's fault: it means nobody
// will ever answer, and the build in flight is cancelled (defect #3). Defined in calibrator.cc.
bool JsCanRun(napi_env env);

// A bridge between TensorRT's implicit-INT8 calibrator interfaces and a JS calibrator adapter (calibrator.cc).
// Threads: created, attached, decorated and destroyed on the JS thread; TensorRT calls it on the build thread.
class CalibratorBridge {
 public:
  virtual ~CalibratorBridge() = default;
  virtual void Attach(nvinfer1::IBuilderConfig& config) = 0;  // JS thread, before the build
  virtual void Detach(nvinfer1::IBuilderConfig& config) = 0;  // after the build
  // The first failure ("" when none): a throw or rejection of getBatch / readCache / writeCache, a batch of the
  // wrong size (a short last batch included), a failed copy. A build with a failure fails (CALIBRATION_ERROR) even
  // when TensorRT built an engine from the batches it got before.
  virtual std::string Error() const = 0;
  // The inputs TensorRT will read per batch; batches of another size are refused (never read out of bounds).
  virtual void ExpectInputs(std::map<std::string, CalibrationInput> inputs) = 0;
  // The build's flags, set before it starts. `cancelled`: a pending JS answer is abandoned when it is set, and the
  // bridge sets it itself when JS can no longer run (environment teardown). `stop`: set at the first failure, so
  // that the build stops at its next progress step instead of building an engine nobody will get.
  virtual void SetFlags(std::shared_ptr<std::atomic<bool>> cancelled, std::shared_ptr<std::atomic<bool>> stop) = 0;
  // Build thread, after buildSerializedNetwork: frees the batch buffers with the bridge's device selected.
  virtual void ReleaseBuffers() = 0;
  // JS thread, when the build rejects because of Error(): error.cause = the value the JS calibrator threw or
  // rejected with (when the first failure was one).
  virtual void DecorateError(Napi::Env env, Napi::Object error) = 0;
#if TN_CONTRACT_TESTS && TN_HAS_IMPLICIT_INT8
  // Contract tests only (see ContractMemoryLog): the TensorRT-facing calibrator, to call as TensorRT would, and
  // the host-memory test double of the device side.
  TN_ALLOW_DEPRECATED_BEGIN
  virtual nvinfer1::IInt8Calibrator* CalibratorForContractTests() = 0;
  TN_ALLOW_DEPRECATED_END
  virtual void UseHostMemoryForContractTests(std::shared_ptr<ContractMemoryLog> log) = 0;
#endif
};

// JS thread: gives `promise` its cancel() (sets `cancelled`) and registers `cancelled` with the env's teardown
// (CancelOnEnvClose: worker.terminate() / exit cancel the work instead of waiting for it, defect #3). For builds,
// and for the contract tests' drivers that stand in for them.
void MakeCancellable(Napi::Env env, Napi::Promise& promise, const std::shared_ptr<std::atomic<bool>>& cancelled);

#if TN_CONTRACT_TESTS
// Contract-test addon only (builder.cc): contract.progress(listener | undefined, steps, stepMs) -> Promise with
// cancel(): drives a build's progress monitor as TensorRT does (a test double; no engine is built).
Napi::Value ContractProgress(const Napi::CallbackInfo& info);
#endif

// Creates a bridge for `adapter` ({algorithm, batchSize, quantile?, regressionCutoff?, getBatch(names, shapes) ->
// Promise<Record<string, TypedArray> | null>, readCache() -> Promise<Uint8Array | null>, writeCache(buf) ->
// Promise<void>}) on `device` (selected on the build thread for every copy and free); JS thread. Throws
// UNSUPPORTED where implicit INT8 does not exist (TensorRT 11+).
std::unique_ptr<CalibratorBridge> CreateCalibratorBridge(Napi::Env env, Napi::Object adapter, int device);

class BuilderConfig : public Napi::ObjectWrap<BuilderConfig> {
 public:
  static Napi::Function Init(Napi::Env env);
  static BuilderConfig* Unwrap(Napi::Value v);
  explicit BuilderConfig(const Napi::CallbackInfo& info);  // only via Builder.createConfig

  std::shared_ptr<ErrorRecorder> recorder;
  std::shared_ptr<nvinfer1::IBuilder> builder;
  std::shared_ptr<nvinfer1::ITimingCache> timingCache;  // before config: outlives it
  std::shared_ptr<nvinfer1::IBuilderConfig> config;
  std::shared_ptr<std::atomic<int>> building;  // the Builder's
  Napi::ObjectReference calibrator;  // the JS adapter, when set
  // opt shapes of each profile added (for the calibrator's batch size checks) and the profiles themselves (owned
  // by the IBuilder) for setCalibrationProfile
  std::vector<std::map<std::string, nvinfer1::Dims>> profileOpt;
  std::vector<nvinfer1::IOptimizationProfile*> profiles;
  // The profile calibration uses with runtime dimensions (setCalibrationProfile); -1: the first one.
  int32_t calibrationProfile = -1;
  // Whether a build used `timingCache` (then the IBuilder must keep it: see BuilderDeleter).
  bool timingCacheUsed = false;
  std::atomic<int> busy{0};
  nvinfer1::IBuilderConfig& Get(Napi::Env env, bool forWrite = false) const;

 private:
  Napi::Value SetMemoryPoolLimit(const Napi::CallbackInfo& info);
  Napi::Value GetMemoryPoolLimit(const Napi::CallbackInfo& info);
  Napi::Value SetFlag(const Napi::CallbackInfo& info);
  Napi::Value ClearFlag(const Napi::CallbackInfo& info);
  Napi::Value GetFlag(const Napi::CallbackInfo& info);
  Napi::Value AddOptimizationProfile(const Napi::CallbackInfo& info);
  Napi::Value GetNumOptimizationProfiles(const Napi::CallbackInfo& info);
  Napi::Value GetBuilderOptimizationLevel(const Napi::CallbackInfo& info);
  void SetBuilderOptimizationLevel(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value GetHardwareCompatibilityLevel(const Napi::CallbackInfo& info);
  void SetHardwareCompatibilityLevel(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value GetProfilingVerbosity(const Napi::CallbackInfo& info);
  void SetProfilingVerbosity(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value GetMaxAuxStreams(const Napi::CallbackInfo& info);
  void SetMaxAuxStreams(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value SetTimingCache(const Napi::CallbackInfo& info);
  Napi::Value GetTimingCache(const Napi::CallbackInfo& info);
  Napi::Value SetCalibrator(const Napi::CallbackInfo& info);
  Napi::Value SetCalibrationProfile(const Napi::CallbackInfo& info);
  Napi::Value GetCalibrationProfile(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
};

class OnnxParser : public Napi::ObjectWrap<OnnxParser> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit OnnxParser(const Napi::CallbackInfo& info);  // new OnnxParser(network)

  std::shared_ptr<ErrorRecorder> networkRecorder;  // the Builder's, which its network reports to

  std::shared_ptr<nvinfer1::IBuilder> builder;  // the network's: must outlive it
  std::shared_ptr<std::atomic<int>> building;    // the Builder's: a parse in flight counts as work on it
  std::shared_ptr<nvinfer1::INetworkDefinition> network;
  std::shared_ptr<nvonnxparser::IParser> parser;
  Napi::ObjectReference networkRef;
  std::atomic<int> busy{0};

 private:
  Napi::Value Parse(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
};

#if TN_HAS_UFF
// UFF parser (TensorRT <= 8.6, libnvparsers): registerInput / registerOutput, then parse(path) on a worker.
class UffParser : public Napi::ObjectWrap<UffParser> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit UffParser(const Napi::CallbackInfo& info);  // new UffParser(network)

  std::shared_ptr<ErrorRecorder> recorder;  // the parser's own (first: destroyed after the parser that holds it)
  std::shared_ptr<ErrorRecorder> networkRecorder;  // the Builder's, which its network reports to
  std::shared_ptr<nvinfer1::IBuilder> builder;  // the network's: must outlive it
  std::shared_ptr<std::atomic<int>> building;    // the Builder's: a parse in flight counts as work on it
  std::shared_ptr<nvinfer1::INetworkDefinition> network;
  std::shared_ptr<nvuffparser::IUffParser> parser;
  Napi::ObjectReference networkRef;
  std::atomic<int> busy{0};

 private:
  Napi::Value RegisterInput(const Napi::CallbackInfo& info);
  Napi::Value RegisterOutput(const Napi::CallbackInfo& info);
  Napi::Value Parse(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
};
#endif

}  // namespace tn::trt
#endif
