// Builder: networks, configs and buildSerializedNetwork on a worker thread, with progress events and cancellation
// (IProgressMonitor, TensorRT 10+) and the implicit-INT8 calibrator bridge (TensorRT 10).
#include "build_classes.h"

#if TN_HAVE_TENSORRT
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "compat.h"
#include "cuda.h"
#include "errors.h"
#include "loader.h"
#include "logger.h"
#include "modules.h"
#include "per_env.h"

namespace tn::trt {

// ---- per-env constructors ----------------------------------------------------------------------------------------

BuildCtors& BuildCtorsFor(Napi::Env env) { return PerEnvTable<BuildCtors>().Get(env); }

void ThrowDisposed(Napi::Env env, const char* what) { Throw(env, "DISPOSED", std::string(what) + " has been disposed"); }

namespace {

// ---- progress monitor ----------------------------------------------------------------------------------------------

struct ProgressEvent {
  std::string phase;
  std::string event;  // start | step | end
  int32_t step = 0;
  int32_t steps = 0;
  int32_t depth = 0;
};

// Forwards TensorRT's build phases to a JS function (through a ThreadSafeFunction, never blocking) and answers
// stepComplete with "continue unless cancelled or stopped" (stopped: the calibrator failed, see calibrator.cc).
// Without a JS listener the events still go to the JS thread, to a no-op: each delivery doubles as a liveness probe.
// The build is cancelled at its next step (defect #3), instead of running to its end while the environment's
// teardown waits for it, when JS can no longer run (worker.terminate(), process exit), which shows as: a delivery
// whose call into JS fails that way, a queue that refuses new events (closing), or the queue's finalizer.
class Progress
#if TN_HAS_PROGRESS_MONITOR
    : public nvinfer1::IProgressMonitor
#endif
{
 public:
  Progress(std::shared_ptr<std::atomic<bool>> cancelled, std::shared_ptr<std::atomic<bool>> stop)
      : st_(std::make_shared<State>()), stop_(std::move(stop)) {
    st_->cancelled = std::move(cancelled);
  }

  // `fn` undefined: no listener (deliveries only probe whether JS can still run).
  void SetCallback(Napi::Env env, Napi::Value fn) {
    listener_ = fn.IsFunction();
    Napi::Function f = listener_ ? fn.As<Napi::Function>() : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
    // At environment teardown Node finalizes (and frees) the ThreadSafeFunction even while the build runs: the
    // finalizer marks it gone (and cancels the build) under the mutex every call and the release hold.
    auto st = st_;
    tsfn_ = Napi::ThreadSafeFunction::New(env, f, "tensorrt-node:progress", 0, 1, [st](Napi::Env) {
      std::lock_guard<std::mutex> lock(st->m);
      st->alive = false;
      st->Gone();
    });
    hasTsfn_ = true;
  }

#if TN_HAS_PROGRESS_MONITOR
  void phaseStart(char const* phaseName, char const* parentPhase, int32_t nbSteps) noexcept override {
    try {
      std::string name = phaseName ? phaseName : "";
      int32_t depth = 0;
      {
        std::lock_guard<std::mutex> lock(m_);
        if (parentPhase) {
          auto it = depth_.find(parentPhase);
          depth = it == depth_.end() ? 1 : it->second + 1;
        }
        depth_[name] = depth;
        steps_[name] = nbSteps;
      }
      Send({name, "start", 0, nbSteps, depth});
    } catch (...) {
    }
  }

  bool stepComplete(char const* phaseName, int32_t step) noexcept override {
    try {
      std::string name = phaseName ? phaseName : "";
      int32_t depth = 0, steps = 0;
      {
        std::lock_guard<std::mutex> lock(m_);
        depth = depth_[name];
        steps = steps_[name];
      }
      Send({name, "step", step + 1, steps, depth});
    } catch (...) {
    }
    return !st_->cancelled->load() && !stop_->load();
  }

  void phaseFinish(char const* phaseName) noexcept override {
    try {
      std::string name = phaseName ? phaseName : "";
      int32_t depth = 0, steps = 0;
      {
        std::lock_guard<std::mutex> lock(m_);
        depth = depth_[name];
        steps = steps_[name];
        depth_.erase(name);
        steps_.erase(name);
      }
      Send({name, "end", steps, steps, depth});
    } catch (...) {
    }
  }
#endif

  // Worker thread, after the build: wait until every queued event reached JS, so that they all arrive before the
  // promise settles. Never waits forever: when JS will never deliver them (the environment is being torn down,
  // possibly with its JS thread blocked in a cleanup hook that waits for this build), it stops waiting; a ping
  // queued every 20 ms finds out (the queue refuses it once closing). Undelivered events only hold `State`.
  void Drain() {
    std::unique_lock<std::mutex> lock(st_->m);
    while (st_->pending > 0 && !st_->gone) {
      if (st_->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return st_->pending == 0 || st_->gone; })) break;
      if (!st_->alive) {
        st_->Gone();
        break;
      }
      auto* ping = new Delivery{st_, {}, false, true};
      ++st_->pending;
      if (tsfn_.NonBlockingCall(ping, Deliver) != napi_ok) {
        --st_->pending;
        delete ping;
        st_->Gone();
      }
    }
  }

  // JS thread (worker destructor).
  void Release() {
    std::lock_guard<std::mutex> lock(st_->m);
    if (hasTsfn_ && st_->alive) tsfn_.Release();
    hasTsfn_ = false;
  }

 private:
  // Shared with the queued deliveries and the ThreadSafeFunction's finalizer, which may outlive this object.
  struct State {
    std::mutex m;
    std::condition_variable cv;
    int pending = 0;     // events queued, not yet delivered (or dropped)
    bool alive = true;   // the ThreadSafeFunction exists (false once Node finalized it)
    bool gone = false;   // JS will never deliver again: the build is cancelled
    std::shared_ptr<std::atomic<bool>> cancelled;
    void Gone() {  // with m held
      gone = true;
      cancelled->store(true);
      cv.notify_all();
    }
  };

  struct Delivery {
    std::shared_ptr<State> st;
    ProgressEvent ev;
    bool listener;
    bool ping;  // Drain's: delivered to nothing
  };

  void Send(ProgressEvent ev) {
    if (!hasTsfn_) return;
    auto* d = new Delivery{st_, std::move(ev), listener_, false};
    std::lock_guard<std::mutex> lock(st_->m);
    if (st_->alive && !st_->gone) {
      ++st_->pending;
      if (tsfn_.NonBlockingCall(d, Deliver) == napi_ok) return;
      --st_->pending;
    }
    delete d;
    st_->Gone();  // the queue is closing or gone: the environment is going away
  }

  static void Done(const std::shared_ptr<State>& st) {
    std::lock_guard<std::mutex> lock(st->m);
    --st->pending;
    st->cv.notify_all();
  }

  static void Deliver(Napi::Env env, Napi::Function fn, Delivery* d) {
    std::shared_ptr<State> st = std::move(d->st);
    bool jsGone = env == nullptr || fn == nullptr;
    if (!jsGone && !d->ping) {
      try {
        if (d->listener) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("phase", d->ev.phase);
          o.Set("step", Napi::Number::New(env, d->ev.step));
          o.Set("steps", Napi::Number::New(env, d->ev.steps));
          o.Set("depth", Napi::Number::New(env, d->ev.depth));
          o.Set("event", d->ev.event);
          fn.Call({o});
        } else {
          fn.Call({});  // the no-op: throws only when JS can no longer run
        }
      } catch (const Napi::Error& e) {
        if (!JsCanRun(env)) {
          jsGone = true;
        } else {
          // A throwing onProgress must not break the build; lib/build.ts catches listener errors itself.
          std::fprintf(stderr, "tensorrt-node: onProgress threw: %s\n", e.Message().c_str());
        }
      }
    }
    delete d;
    if (jsGone) {
      std::lock_guard<std::mutex> lock(st->m);
      st->Gone();
    }
    Done(st);
  }

  std::shared_ptr<State> st_;
  std::shared_ptr<std::atomic<bool>> stop_;
  Napi::ThreadSafeFunction tsfn_;
  bool hasTsfn_ = false;
  bool listener_ = false;
  std::mutex m_;  // depth_, steps_
  std::map<std::string, int32_t> depth_, steps_;
};

// ---- build worker ----------------------------------------------------------------------------------------------

class BuildWorker : public PromiseWorker {
 public:
  BuildWorker(Napi::Env env, Builder* b, NetworkDefinition* n, BuilderConfig* c)
      : PromiseWorker(env),
        recorder_(b->recorder),
        builder_(b->builder),
        building_(b->building),
        network_(n->network),
        parsers_(n->parsers),
        timingCache_(c->timingCache),
        config_(c->config),
        net_(n),
        cfg_(c),
        cancelled_(std::make_shared<std::atomic<bool>>(false)),
        stop_(std::make_shared<std::atomic<bool>>(false)),
        progress_(cancelled_, stop_) {
    keepBuilder_ = Napi::Persistent(b->Value());
    keepNetwork_ = Napi::Persistent(n->Value());
    keepConfig_ = Napi::Persistent(c->Value());
    ++net_->busy;
    ++cfg_->busy;
    ++*building_;
    if (timingCache_) cfg_->timingCacheUsed = true;  // this cache must now outlive the IBuilder (BuilderDeleter)
  }

  ~BuildWorker() override {
    // JS thread.
    progress_.Release();
    if (calibrator_ && config_) calibrator_->Detach(*config_);
#if TN_HAS_PROGRESS_MONITOR
    if (monitorSet_ && config_) config_->setProgressMonitor(nullptr);
#endif
    --net_->busy;
    --cfg_->busy;
    --*building_;
  }

  void Setup(Napi::Env env, Napi::Value onProgress) {
    TN_CUDA_CHECK(cudaGetDevice(&device_));
    progress_.SetCallback(env, onProgress);
#if TN_HAS_PROGRESS_MONITOR
    config_->setProgressMonitor(&progress_);
    monitorSet_ = true;
#endif
    if (!cfg_->calibrator.IsEmpty()) {
      // Checks (and, with runtime dimensions, sets the calibration profile) before anything is attached.
      std::map<std::string, CalibrationInput> inputs = CalibrationInputs();
      calibrator_ = CreateCalibratorBridge(env, cfg_->calibrator.Value(), device_);
      calibrator_->ExpectInputs(std::move(inputs));
      calibrator_->SetFlags(cancelled_, stop_);
      calibrator_->Attach(*config_);
    }
  }

  std::shared_ptr<std::atomic<bool>> cancelled() const { return cancelled_; }

 private:
  // What TensorRT reads per network input for one calibration batch (see CalibratorBridge::ExpectInputs). With
  // runtime dimensions, calibration needs a calibration profile (IBuilderConfig::setCalibrationProfile: "must be set
  // if int8 calibration is used to set scales for a network with runtime dimensions"; its kOPT shapes are used):
  // the one chosen with setCalibrationProfile(index), else the first profile; none at all is refused (defect #6).
  std::map<std::string, CalibrationInput> CalibrationInputs() {
    std::map<std::string, CalibrationInput> out;
    bool dynamic = false;
    for (int32_t i = 0; i < network_->getNbInputs(); ++i) {
      nvinfer1::ITensor* t = network_->getInput(i);
      if (!t) continue;
      nvinfer1::Dims d = t->getDimensions();
      for (int32_t k = 0; k < d.nbDims; ++k) dynamic = dynamic || d.d[k] < 0;
    }
    int32_t index = -1;
    if (dynamic) {
      if (cfg_->profiles.empty()) {
        throw NativeError("INVALID_ARGUMENT",
                          "INT8 calibration of a network with runtime dimensions needs an optimization profile (its opt "
                          "shapes are the calibration shapes): add one with addOptimizationProfile");
      }
      index = cfg_->calibrationProfile < 0 ? 0 : cfg_->calibrationProfile;
      if (static_cast<size_t>(index) >= cfg_->profiles.size()) {
        throw NativeError("INVALID_ARGUMENT", "the calibration profile " + std::to_string(index) + " does not exist (" +
                                                  std::to_string(cfg_->profiles.size()) + " profiles)");
      }
#if TN_HAS_IMPLICIT_INT8
      TN_ALLOW_DEPRECATED_BEGIN
      ErrorRecorder::Scope scope(*recorder_, ErrorRecorder::Scope::kThisThread);
      if (!config_->setCalibrationProfile(cfg_->profiles[static_cast<size_t>(index)])) {
        ThrowTrt("INVALID_ARGUMENT", "setCalibrationProfile(" + std::to_string(index) + ") failed", &scope);
      }
      TN_ALLOW_DEPRECATED_END
#endif
    }
    for (int32_t i = 0; i < network_->getNbInputs(); ++i) {
      nvinfer1::ITensor* t = network_->getInput(i);
      if (!t || !t->getName()) continue;
      nvinfer1::Dims d = t->getDimensions();
      bool runtime = false;
      for (int32_t k = 0; k < d.nbDims; ++k) runtime = runtime || d.d[k] < 0;
      if (runtime) {
        const auto& opt = cfg_->profileOpt[static_cast<size_t>(index)];
        auto it = opt.find(t->getName());
        if (it == opt.end()) {
          throw NativeError("INVALID_ARGUMENT", std::string("the calibration profile ") + std::to_string(index) +
                                                    " has no shapes for input '" + t->getName() + "'");
        }
        d = it->second;
      }
      size_t elem = DataTypeSize(t->getType());
      if (elem == 0) continue;  // sub-byte types: not checked
      CalibrationInput in;
      size_t n = 1;
      for (int32_t k = 0; k < d.nbDims; ++k) {
        n *= static_cast<size_t>(d.d[k]);
        in.shape.push_back(static_cast<int64_t>(d.d[k]));
      }
      in.bytes = n * elem;
      out[t->getName()] = std::move(in);
    }
    return out;
  }

 protected:
  void Run() override {
    TN_CUDA_CHECK(cudaSetDevice(device_));
    // This build's messages (review 2, #10): a scope of the Builder's recorder that a config's call on the JS
    // thread meanwhile (its own kThisThread scope) neither wipes nor adds to.
    ErrorRecorder::Scope recorded(*recorder_, ErrorRecorder::Scope::kAnyThread);
    // Also collects what TensorRT logs on its own threads during the build (LogCapture::kWithUnattributed).
    LogCapture capture(LogCapture::kWithUnattributed);
    nvinfer1::IHostMemory* mem = builder_->buildSerializedNetwork(*network_, *config_);
    progress_.Drain();
    if (calibrator_) calibrator_->ReleaseBuffers();  // on this thread, on the bridge's device
    std::string logged = capture.Take();
    // A calibrator failure fails the build even when TensorRT built an engine from the batches before it
    // (defect #1): TensorRT reads getBatch's false as "no more batches".
    std::string calibration = calibrator_ ? calibrator_->Error() : std::string();
    if (!calibration.empty()) {
      delete mem;
      throw NativeError("CALIBRATION_ERROR", calibration);
    }
    if (mem && mem->size() > 0 && !cancelled_->load()) {
      plan_ = Share(mem);
      return;
    }
    delete mem;
    if (cancelled_->load()) throw NativeError("BUILD_FAILED", "the build was cancelled");
    std::string why = recorded.Take();
    if (!logged.empty() && why.find(logged) == std::string::npos) why += (why.empty() ? "" : "; ") + logged;
    throw NativeError("BUILD_FAILED",
                      "buildSerializedNetwork failed: " + (why.empty() ? std::string("no details from TensorRT") : why));
  }

  // The JS value a failing calibrator threw / rejected with becomes the error's `cause`.
  void DecorateError(Napi::Env env, Napi::Object error) override {
    if (calibrator_ && !calibrator_->Error().empty()) calibrator_->DecorateError(env, error);
  }

  Napi::Value Result(Napi::Env env) override {
    auto buf = Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(plan_->data()), plan_->size());
    plan_.reset();
    return buf;
  }

 private:
  std::shared_ptr<ErrorRecorder> recorder_;
  std::shared_ptr<nvinfer1::IBuilder> builder_;
  std::shared_ptr<std::atomic<int>> building_;
  std::shared_ptr<nvinfer1::INetworkDefinition> network_;
  std::vector<std::shared_ptr<void>> parsers_;  // own weights the network points to (see NetworkDefinition)
  std::shared_ptr<nvinfer1::ITimingCache> timingCache_;  // the config's: must outlive the build (and the config)
  std::shared_ptr<nvinfer1::IBuilderConfig> config_;
  NetworkDefinition* net_;
  BuilderConfig* cfg_;
  Napi::ObjectReference keepBuilder_, keepNetwork_, keepConfig_;
  std::shared_ptr<std::atomic<bool>> cancelled_, stop_;
  Progress progress_;
  bool monitorSet_ = false;
  std::unique_ptr<CalibratorBridge> calibrator_;
  std::shared_ptr<nvinfer1::IHostMemory> plan_;
  int device_ = 0;
};

bool BoolArg(const Napi::Value& v) { return v.IsBoolean() && v.As<Napi::Boolean>().Value(); }

#if TN_CONTRACT_TESTS && TN_HAS_PROGRESS_MONITOR
// CONTRACT-TEST ADDON ONLY (see test/contract/native/contract_addon.cc): a TEST DOUBLE of TensorRT's side of the
// IProgressMonitor contract. On a PromiseWorker thread it reports one phase of `steps` steps to the build's
// Progress object as TensorRT's builder does (phaseStart, stepComplete every `stepMs` ms until it returns false,
// phaseFinish), then drains it like BuildWorker::Run. No engine is built.
class ProgressDriver : public PromiseWorker {
 public:
  ProgressDriver(Napi::Env env, Napi::Value listener, int32_t steps, int32_t stepMs)
      : PromiseWorker(env),
        cancelled_(std::make_shared<std::atomic<bool>>(false)),
        stop_(std::make_shared<std::atomic<bool>>(false)),
        progress_(cancelled_, stop_),
        steps_(steps),
        stepMs_(stepMs) {
    progress_.SetCallback(env, listener);
  }
  ~ProgressDriver() override { progress_.Release(); }
  std::shared_ptr<std::atomic<bool>> cancelled() const { return cancelled_; }

 protected:
  void Run() override {
    nvinfer1::IProgressMonitor& m = progress_;
    m.phaseStart("contract phase", nullptr, steps_);
    for (; done_ < steps_; ++done_) {
      if (!m.stepComplete("contract phase", done_)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(stepMs_));
    }
    m.phaseFinish("contract phase");
    progress_.Drain();
    if (cancelled_->load()) throw NativeError("BUILD_FAILED", "the build was cancelled");
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, done_); }

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_, stop_;
  Progress progress_;
  int32_t steps_, stepMs_, done_ = 0;
};
#endif

}  // namespace

void MakeCancellable(Napi::Env env, Napi::Promise& promise, const std::shared_ptr<std::atomic<bool>>& cancelled) {
  promise.Set("cancel", Napi::Function::New(
                            env,
                            [cancelled](const Napi::CallbackInfo& ci) -> Napi::Value {
                              cancelled->store(true);
                              return ci.Env().Undefined();
                            },
                            "cancel"));
  cuda::CancelOnEnvClose(env, cancelled);
}

#if TN_CONTRACT_TESTS
Napi::Value ContractProgress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if TN_HAS_PROGRESS_MONITOR
  auto* w = new ProgressDriver(env, info[0], info[1].ToNumber().Int32Value(), info[2].ToNumber().Int32Value());
  Napi::Promise p = w->Promise();
  MakeCancellable(env, p, w->cancelled());  // as BuildWorker
  w->Queue();
  return p;
#else
  Throw(env, "UNSUPPORTED", "IProgressMonitor does not exist in TensorRT " TN_TRT_VERSION_STRING);
#endif
}
#endif

// ---- Builder -----------------------------------------------------------------------------------------------------

Napi::Function Builder::Init(Napi::Env env) {
  Napi::Function f = DefineClass(
      env, "Builder",
      {
          InstanceAccessor<&Builder::PlatformHas<PlatformCap::kFastFp16>>("platformHasFastFp16"),
          InstanceAccessor<&Builder::PlatformHas<PlatformCap::kFastInt8>>("platformHasFastInt8"),
          InstanceAccessor<&Builder::PlatformHas<PlatformCap::kTf32>>("platformHasTf32"),
          InstanceAccessor<&Builder::NumDlaCores>("numDlaCores"),
          InstanceAccessor<&Builder::GetMaxThreads, &Builder::SetMaxThreads>("maxThreads"),
          InstanceAccessor<&Builder::GetDisposed>("disposed"),
          InstanceMethod<&Builder::CreateNetwork>("createNetwork"),
          InstanceMethod<&Builder::CreateConfig>("createConfig"),
          InstanceMethod<&Builder::BuildSerializedNetwork>("buildSerializedNetwork"),
          InstanceMethod<&Builder::IsNetworkSupported>("isNetworkSupported"),
          InstanceMethod<&Builder::Dispose>("dispose"),
      });
  BuildCtorsFor(env).builder = Napi::Persistent(f);
  return f;
}

Builder* Builder::Unwrap(Napi::Value v) {
  BuildCtors& c = BuildCtorsFor(v.Env());
  if (!v.IsObject() || c.builder.IsEmpty() || !v.As<Napi::Object>().InstanceOf(c.builder.Value())) return nullptr;
  return Napi::ObjectWrap<Builder>::Unwrap(v.As<Napi::Object>());
}

Builder::Builder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Builder>(info) {
  Napi::Env env = info.Env();
  Guard(env, [&] {
    // TENSORRT_UNAVAILABLE (with the loader's reason) first, then CUDA_UNAVAILABLE, then TensorRT's own failure.
    Probe probe = ProbeTensorRT();
    if (!probe.available) {
      throw NativeError("TENSORRT_UNAVAILABLE", std::string("TensorRT ") + (CompiledVersion() ? CompiledVersion() : "") +
                                                    " (compiled in) cannot be loaded: " + probe.reason);
    }
    RequireFullLibrary("The TensorRT builder");  // the lean / dispatch runtime: TENSORRT_UNAVAILABLE, what to install
    cuda::EnsureCuda();
    builder = std::shared_ptr<nvinfer1::IBuilder>(CreateBuilder(), BuilderDeleter());
    recorder = std::make_shared<ErrorRecorder>();
    builder->setErrorRecorder(recorder.get());
  });
}

void RequireBuilderIdle(Napi::Env env, const std::shared_ptr<std::atomic<int>>& building, const char* what) {
  if (building && building->load() > 0) {
    Throw(env, "INVALID_ARGUMENT",
          std::string(what) + ": a build or parse is running on this Builder (TensorRT's builder serves one thread at "
                              "a time): wait for it, or use another Builder");
  }
}

nvinfer1::IBuilder& Builder::Get(Napi::Env env) const {
  if (!builder) ThrowDisposed(env, "Builder");
  RequireBuilderIdle(env, building, "Builder");
  return *builder;
}

template <Builder::PlatformCap cap>
Napi::Value Builder::PlatformHas(const Napi::CallbackInfo& info) {
  nvinfer1::IBuilder& b = Get(info.Env());
#if TN_HAS_PLATFORM_CAPS
  TN_ALLOW_DEPRECATED_BEGIN
  bool has = cap == PlatformCap::kFastFp16   ? b.platformHasFastFp16()
             : cap == PlatformCap::kFastInt8 ? b.platformHasFastInt8()
                                             : b.platformHasTf32();
  TN_ALLOW_DEPRECATED_END
  return Napi::Boolean::New(info.Env(), has);
#else
  (void)b;
  return info.Env().Undefined();
#endif
}

Napi::Value Builder::NumDlaCores(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(info.Env()).getNbDLACores());
}

Napi::Value Builder::GetMaxThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(info.Env()).getMaxThreads());
}

void Builder::SetMaxThreads(const Napi::CallbackInfo& info, const Napi::Value& v) {
  Napi::Env env = info.Env();
  nvinfer1::IBuilder& b = Get(env);
  if (!v.IsNumber()) Throw(env, "INVALID_ARGUMENT", "maxThreads must be a positive integer");
  int32_t n = v.As<Napi::Number>().Int32Value();
  if (n < 1) Throw(env, "INVALID_ARGUMENT", "maxThreads must be a positive integer");
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  if (!b.setMaxThreads(n)) {
    Guard(env, [&] { ThrowTrt("TENSORRT_ERROR", "setMaxThreads(" + std::to_string(n) + ") failed", &scope); });
  }
}

Napi::Value Builder::CreateNetwork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  bool stronglyTyped = BoolArg(info[0]);
  return BuildCtorsFor(env).network.New({Value(), Napi::Boolean::New(env, stronglyTyped)});
}

Napi::Value Builder::CreateConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  return BuildCtorsFor(env).config.New({Value()});
}

// buildSerializedNetwork(network, config, onProgress?) -> Promise<Buffer> with a cancel() method.
Napi::Value Builder::BuildSerializedNetwork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  NetworkDefinition* n = NetworkDefinition::Unwrap(info[0]);
  BuilderConfig* c = BuilderConfig::Unwrap(info[1]);
  if (!n) Throw(env, "INVALID_ARGUMENT", "buildSerializedNetwork: network must be a NetworkDefinition");
  if (!c) Throw(env, "INVALID_ARGUMENT", "buildSerializedNetwork: config must be a BuilderConfig");
  n->Get(env, true);
  c->Get(env, true);
  if (n->builder != builder || c->builder != builder) {
    Throw(env, "INVALID_ARGUMENT", "buildSerializedNetwork: the network and the config must come from this Builder");
  }
  if (!info[2].IsUndefined() && !info[2].IsNull() && !info[2].IsFunction()) {
    Throw(env, "INVALID_ARGUMENT", "buildSerializedNetwork: onProgress must be a function");
  }
  auto* w = new BuildWorker(env, this, n, c);
  try {
    w->Setup(env, info[2]);
  } catch (const NativeError& e) {
    delete w;
    throw ToJsError(env, e);
  } catch (const Napi::Error&) {
    delete w;
    throw;
  } catch (const std::exception& e) {
    delete w;
    throw ToJsError(env, e);
  }
  Napi::Promise p = w->Promise();
  MakeCancellable(env, p, w->cancelled());
  w->Queue();
  return p;
}

Napi::Value Builder::IsNetworkSupported(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::IBuilder& b = Get(env);
  NetworkDefinition* n = NetworkDefinition::Unwrap(info[0]);
  BuilderConfig* c = BuilderConfig::Unwrap(info[1]);
  if (!n || !c) Throw(env, "INVALID_ARGUMENT", "isNetworkSupported(network, config)");
  // forWrite: refuses while a parse fills the network (or a build uses it) on a worker thread.
  return Napi::Boolean::New(env, b.isNetworkSupported(n->Get(env, true), c->Get(env, true)));
}

Napi::Value Builder::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !builder); }

Napi::Value Builder::Dispose(const Napi::CallbackInfo& info) {
  builder.reset();  // networks, configs and builds in flight keep their own reference
  return info.Env().Undefined();
}

}  // namespace tn::trt

namespace tn {

void InitBuilderClasses(Napi::Env env, Napi::Object exports) {
  exports.Set("Builder", trt::Builder::Init(env));
  exports.Set("NetworkDefinition", trt::NetworkDefinition::Init(env));
  exports.Set("BuilderConfig", trt::BuilderConfig::Init(env));
  exports.Set("OnnxParser", trt::OnnxParser::Init(env));
#if TN_HAS_UFF
  exports.Set("UffParser", trt::UffParser::Init(env));
#endif
}

}  // namespace tn

#endif  // TN_HAVE_TENSORRT
