// BuilderConfig: memory pools, flags, optimization profiles, timing cache, optimization / compatibility levels,
// profiling verbosity, auxiliary streams and the calibrator. Created by Builder.createConfig.
// Names are the camelCase forms of TensorRT's enumerators (compat.h tables); a name that exists in TensorRT but
// not in the compiled version throws UNSUPPORTED, an unknown name INVALID_ARGUMENT.
#include "build_classes.h"

#if TN_HAVE_TENSORRT
#include <cmath>
#include <map>
#include <string>

#include "compat.h"
#include "errors.h"

namespace tn::trt {

namespace {

// Every name any supported TensorRT version uses (to tell UNSUPPORTED from INVALID_ARGUMENT).
const char* const kAllFlags[] = {"fp16", "int8", "debug", "gpuFallback", "refit", "disableTimingCache", "tf32",
                                 "sparseWeights", "safetyScope", "obeyPrecisionConstraints",
                                 "preferPrecisionConstraints", "directIo", "rejectEmptyAlgorithms",
                                 "enableTacticHeuristic", "versionCompatible", "excludeLeanRuntime", "fp8",
                                 "errorOnTimingCacheMiss", "bf16", "disableCompilationCache", "stripPlan",
                                 "refitIdentical", "weightStreaming", "int4", "refitIndividual", "strictNans",
                                 "monitorMemory", "fp4", "editableTimingCache", "distributiveIndependence"};

bool Known(const char* const* names, size_t n, const std::string& s) {
  for (size_t i = 0; i < n; ++i) {
    if (s == names[i]) return true;
  }
  return false;
}

std::string StringArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) Throw(env, "INVALID_ARGUMENT", std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

int32_t IntArg(Napi::Env env, const Napi::Value& v, const char* what, int32_t lo, int32_t hi) {
  if (!v.IsNumber()) Throw(env, "INVALID_ARGUMENT", std::string(what) + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi) {
    Throw(env, "INVALID_ARGUMENT",
          std::string(what) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int32_t>(d);
}

nvinfer1::BuilderFlag FlagArg(Napi::Env env, const Napi::Value& v) {
  std::string name = StringArg(env, v, "flag");
  int n = 0;
  const compat::EnumName* t = compat::BuilderFlags(&n);
  int value = compat::Lookup(t, n, name.c_str());
  if (value >= 0) return static_cast<nvinfer1::BuilderFlag>(value);
  if (Known(kAllFlags, sizeof(kAllFlags) / sizeof(kAllFlags[0]), name)) {
    std::string msg = "builder flag '" + name + "' does not exist in TensorRT " TN_TRT_VERSION_STRING;
    static const char* const precisions[] = {"fp16", "int8", "bf16", "fp8", "int4", "fp4"};
    if (TN_ALWAYS_STRONGLY_TYPED && Known(precisions, sizeof(precisions) / sizeof(precisions[0]), name)) {
      msg += ": networks are always strongly typed there, precisions come from the model (its types, casts and "
             "Q/DQ nodes)";
    }
    Throw(env, "UNSUPPORTED", msg);
  }
  Throw(env, "INVALID_ARGUMENT", "unknown builder flag '" + name + "'");
}

nvinfer1::MemoryPoolType PoolArg(Napi::Env env, const Napi::Value& v) {
  std::string name = StringArg(env, v, "pool");
  int n = 0;
  const compat::EnumName* t = compat::MemoryPools(&n);
  int value = compat::Lookup(t, n, name.c_str());
  if (value >= 0) return static_cast<nvinfer1::MemoryPoolType>(value);
  for (int i = 0; i < n; ++i) {
    if (name == t[i].name) {
      Throw(env, "UNSUPPORTED", "memory pool '" + name + "' does not exist in TensorRT " TN_TRT_VERSION_STRING);
    }
  }
  Throw(env, "INVALID_ARGUMENT", "unknown memory pool '" + name + "'");
}

const char* ProfilingVerbosityName(nvinfer1::ProfilingVerbosity v) {
  switch (v) {
    case nvinfer1::ProfilingVerbosity::kLAYER_NAMES_ONLY:
      return "layerNamesOnly";
    case nvinfer1::ProfilingVerbosity::kNONE:
      return "none";
    case nvinfer1::ProfilingVerbosity::kDETAILED:
      return "detailed";
    default:
      return "unknown";
  }
}

}  // namespace

Napi::Function BuilderConfig::Init(Napi::Env env) {
  Napi::Function f = DefineClass(
      env, "BuilderConfig",
      {
          InstanceMethod<&BuilderConfig::SetMemoryPoolLimit>("setMemoryPoolLimit"),
          InstanceMethod<&BuilderConfig::GetMemoryPoolLimit>("getMemoryPoolLimit"),
          InstanceMethod<&BuilderConfig::SetFlag>("setFlag"),
          InstanceMethod<&BuilderConfig::ClearFlag>("clearFlag"),
          InstanceMethod<&BuilderConfig::GetFlag>("getFlag"),
          InstanceMethod<&BuilderConfig::AddOptimizationProfile>("addOptimizationProfile"),
          InstanceAccessor<&BuilderConfig::GetNumOptimizationProfiles>("numOptimizationProfiles"),
          InstanceAccessor<&BuilderConfig::GetBuilderOptimizationLevel, &BuilderConfig::SetBuilderOptimizationLevel>(
              "builderOptimizationLevel"),
          InstanceAccessor<&BuilderConfig::GetHardwareCompatibilityLevel,
                           &BuilderConfig::SetHardwareCompatibilityLevel>("hardwareCompatibilityLevel"),
          InstanceAccessor<&BuilderConfig::GetProfilingVerbosity, &BuilderConfig::SetProfilingVerbosity>(
              "profilingVerbosity"),
          InstanceAccessor<&BuilderConfig::GetMaxAuxStreams, &BuilderConfig::SetMaxAuxStreams>("maxAuxStreams"),
          InstanceMethod<&BuilderConfig::SetTimingCache>("setTimingCache"),
          InstanceMethod<&BuilderConfig::GetTimingCache>("getTimingCache"),
          InstanceMethod<&BuilderConfig::SetCalibrator>("setCalibrator"),
          InstanceMethod<&BuilderConfig::SetCalibrationProfile>("setCalibrationProfile"),
          InstanceMethod<&BuilderConfig::GetCalibrationProfile>("getCalibrationProfile"),
          InstanceAccessor<&BuilderConfig::GetDisposed>("disposed"),
          InstanceMethod<&BuilderConfig::Dispose>("dispose"),
      });
  BuildCtorsFor(env).config = Napi::Persistent(f);
  return f;
}

BuilderConfig* BuilderConfig::Unwrap(Napi::Value v) {
  BuildCtors& c = BuildCtorsFor(v.Env());
  if (!v.IsObject() || c.config.IsEmpty() || !v.As<Napi::Object>().InstanceOf(c.config.Value())) return nullptr;
  return Napi::ObjectWrap<BuilderConfig>::Unwrap(v.As<Napi::Object>());
}

BuilderConfig::BuilderConfig(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BuilderConfig>(info) {
  Napi::Env env = info.Env();
  Builder* b = Builder::Unwrap(info[0]);
  if (!b) Throw(env, "INVALID_ARGUMENT", "use Builder.createConfig() to create a BuilderConfig");
  b->Get(env);  // disposed / a build or parse in progress on the IBuilder (defect #12)
  builder = b->builder;
  recorder = b->recorder;
  building = b->building;
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  nvinfer1::IBuilderConfig* c = builder->createBuilderConfig();
  if (!c) Guard(env, [&] { ThrowTrt("TENSORRT_ERROR", "createBuilderConfig failed", &scope); });
  config = Share(c);
}

nvinfer1::IBuilderConfig& BuilderConfig::Get(Napi::Env env, bool forWrite) const {
  if (!config) ThrowDisposed(env, "BuilderConfig");
  if (forWrite && busy.load() > 0) Throw(env, "INVALID_ARGUMENT", "the BuilderConfig is in use by a build in progress");
  return *config;
}

// setMemoryPoolLimit(pool, bytes: number | bigint)
Napi::Value BuilderConfig::SetMemoryPoolLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::MemoryPoolType pool = PoolArg(env, info[0]);
  uint64_t bytes = 0;
  if (info[1].IsBigInt()) {
    bool lossless = false;
    bytes = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) Throw(env, "INVALID_ARGUMENT", "memory pool limit is out of range");
  } else if (info[1].IsNumber()) {
    double d = info[1].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9007199254740991.0) {
      Throw(env, "INVALID_ARGUMENT", "memory pool limit must be a non-negative integer number of bytes");
    }
    bytes = static_cast<uint64_t>(d);
  } else {
    Throw(env, "INVALID_ARGUMENT", "memory pool limit must be a non-negative integer number of bytes");
  }
  Get(env, true).setMemoryPoolLimit(pool, static_cast<std::size_t>(bytes));
  return env.Undefined();
}

Napi::Value BuilderConfig::GetMemoryPoolLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::MemoryPoolType pool = PoolArg(env, info[0]);
  return Napi::Number::New(env, static_cast<double>(Get(env).getMemoryPoolLimit(pool)));
}

Napi::Value BuilderConfig::SetFlag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::BuilderFlag f = FlagArg(env, info[0]);
  Get(env, true).setFlag(f);
  return env.Undefined();
}

Napi::Value BuilderConfig::ClearFlag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::BuilderFlag f = FlagArg(env, info[0]);
  Get(env, true).clearFlag(f);
  return env.Undefined();
}

Napi::Value BuilderConfig::GetFlag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::BuilderFlag f = FlagArg(env, info[0]);
  return Napi::Boolean::New(env, Get(env).getFlag(f));
}

// addOptimizationProfile({ [input]: { min, opt, max } }) -> index
Napi::Value BuilderConfig::AddOptimizationProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::IBuilderConfig& cfg = Get(env, true);
  if (!info[0].IsObject() || info[0].IsArray()) {
    Throw(env, "INVALID_ARGUMENT", "addOptimizationProfile expects { [inputName]: { min, opt, max } }");
  }
  if (!builder) ThrowDisposed(env, "Builder");
  if (building->load() > 0) {
    Throw(env, "INVALID_ARGUMENT", "addOptimizationProfile: a build is running on this config's Builder; wait for it");
  }
  Napi::Object spec = info[0].As<Napi::Object>();
  // This call's messages only (review 2, #10): no clear() of the Builder's recorder, which a build may be using.
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  return Guard(env, [&]() -> Napi::Value {  // ThrowTrt throws NativeError: turned into a JS error here
    nvinfer1::IOptimizationProfile* profile = builder->createOptimizationProfile();  // owned by the builder
    if (!profile) ThrowTrt("TENSORRT_ERROR", "createOptimizationProfile failed", &scope);
    Napi::Array names = spec.GetPropertyNames();
    if (names.Length() == 0) Throw(env, "INVALID_ARGUMENT", "an optimization profile needs at least one input");
    std::map<std::string, nvinfer1::Dims> opt;
    for (uint32_t i = 0; i < names.Length(); ++i) {
      std::string name = names.Get(i).ToString().Utf8Value();
      Napi::Value r = spec.Get(name);
      if (!r.IsObject()) Throw(env, "INVALID_ARGUMENT", "profile['" + name + "'] must be { min, opt, max }");
      Napi::Object range = r.As<Napi::Object>();
      struct Sel {
        const char* key;
        nvinfer1::OptProfileSelector sel;
      } sels[] = {{"min", nvinfer1::OptProfileSelector::kMIN},
                  {"opt", nvinfer1::OptProfileSelector::kOPT},
                  {"max", nvinfer1::OptProfileSelector::kMAX}};
      for (const auto& s : sels) {
        std::string what = "profile['" + name + "']." + s.key;
        nvinfer1::Dims d = DimsFromArray(env, range.Get(s.key), what.c_str());
        if (!profile->setDimensions(name.c_str(), s.sel, d)) {
          ThrowTrt("INVALID_ARGUMENT", "TensorRT rejected " + what, &scope);
        }
        if (s.sel == nvinfer1::OptProfileSelector::kOPT) opt[name] = d;
      }
    }
    if (!profile->isValid()) ThrowTrt("INVALID_ARGUMENT", "the optimization profile is not valid", &scope);
    int32_t index = cfg.addOptimizationProfile(profile);
    if (index < 0) ThrowTrt("INVALID_ARGUMENT", "addOptimizationProfile failed", &scope);
    profileOpt.push_back(std::move(opt));
    profiles.push_back(profile);
    return Napi::Number::New(env, index);
  });
}

Napi::Value BuilderConfig::GetNumOptimizationProfiles(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(info.Env()).getNbOptimizationProfiles());
}

Napi::Value BuilderConfig::GetBuilderOptimizationLevel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(info.Env()).getBuilderOptimizationLevel());
}

void BuilderConfig::SetBuilderOptimizationLevel(const Napi::CallbackInfo& info, const Napi::Value& v) {
  Napi::Env env = info.Env();
  int32_t level = IntArg(env, v, "builderOptimizationLevel", 0, 5);
  Get(env, true).setBuilderOptimizationLevel(level);
}

Napi::Value BuilderConfig::GetHardwareCompatibilityLevel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  const compat::EnumName* t = compat::HardwareCompatibilityLevels(&n);
  const char* name = compat::NameOf(t, n, static_cast<int>(Get(env).getHardwareCompatibilityLevel()));
  return Napi::String::New(env, name ? name : "unknown");
}

void BuilderConfig::SetHardwareCompatibilityLevel(const Napi::CallbackInfo& info, const Napi::Value& v) {
  Napi::Env env = info.Env();
  std::string name = StringArg(env, v, "hardwareCompatibilityLevel");
  int n = 0;
  const compat::EnumName* t = compat::HardwareCompatibilityLevels(&n);
  int value = compat::Lookup(t, n, name.c_str());
  if (value < 0) {
    for (int i = 0; i < n; ++i) {
      if (name == t[i].name) {
        Throw(env, "UNSUPPORTED",
              "hardware compatibility level '" + name + "' does not exist in TensorRT " TN_TRT_VERSION_STRING);
      }
    }
    Throw(env, "INVALID_ARGUMENT", "unknown hardware compatibility level '" + name + "'");
  }
  Get(env, true).setHardwareCompatibilityLevel(static_cast<nvinfer1::HardwareCompatibilityLevel>(value));
}

Napi::Value BuilderConfig::GetProfilingVerbosity(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ProfilingVerbosityName(Get(info.Env()).getProfilingVerbosity()));
}

void BuilderConfig::SetProfilingVerbosity(const Napi::CallbackInfo& info, const Napi::Value& v) {
  Napi::Env env = info.Env();
  std::string name = StringArg(env, v, "profilingVerbosity");
  nvinfer1::ProfilingVerbosity pv;
  if (name == "layerNamesOnly") {
    pv = nvinfer1::ProfilingVerbosity::kLAYER_NAMES_ONLY;
  } else if (name == "none") {
    pv = nvinfer1::ProfilingVerbosity::kNONE;
  } else if (name == "detailed") {
    pv = nvinfer1::ProfilingVerbosity::kDETAILED;
  } else {
    Throw(env, "INVALID_ARGUMENT", "profilingVerbosity must be 'layerNamesOnly', 'none' or 'detailed'");
  }
  Get(env, true).setProfilingVerbosity(pv);
}

Napi::Value BuilderConfig::GetMaxAuxStreams(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(info.Env()).getMaxAuxStreams());
}

void BuilderConfig::SetMaxAuxStreams(const Napi::CallbackInfo& info, const Napi::Value& v) {
  Napi::Env env = info.Env();
  int32_t n = IntArg(env, v, "maxAuxStreams", 0, 1 << 20);
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  if (!compat::SetMaxAuxStreams(Get(env, true), n)) {
    Guard(env, [&] {
      ThrowTrt("INVALID_ARGUMENT", "setMaxAuxStreams(" + std::to_string(n) + ") was refused", &scope);
    });
  }
}

// setTimingCache(data: Uint8Array | null, ignoreMismatch: boolean): an empty / null cache starts a new one.
Napi::Value BuilderConfig::SetTimingCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::IBuilderConfig& cfg = Get(env, true);
  const void* data = nullptr;
  size_t size = 0;
  if (info[0].IsTypedArray()) {
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    size = ta.ByteLength();
  } else if (!info[0].IsNull() && !info[0].IsUndefined()) {
    Throw(env, "INVALID_ARGUMENT", "setTimingCache expects a Uint8Array or null");
  }
  bool ignoreMismatch = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);  // not clear(): see #10
  Guard(env, [&] {  // ThrowTrt throws NativeError: turned into a JS error here
    nvinfer1::ITimingCache* cache = cfg.createTimingCache(size ? data : nullptr, size);
    if (!cache) {
      ThrowTrt("TENSORRT_ERROR", "createTimingCache failed (corrupt or incompatible timing cache?)", &scope);
    }
    auto shared = Share(cache);
    if (!cfg.setTimingCache(*shared, ignoreMismatch)) {
      ThrowTrt("TENSORRT_ERROR", "setTimingCache failed (the cache does not match this device / TensorRT version)",
               &scope);
    }
    // The cache must outlive the builder too: the builder's deleter keeps it. A cache this config set before and
    // no build used is dropped from that list, so that setting caches repeatedly does not grow it.
    if (auto* d = std::get_deleter<BuilderDeleter>(builder)) {
      if (timingCache && !timingCacheUsed) {
        auto& keep = *d->keep;
        for (auto it = keep.begin(); it != keep.end(); ++it) {
          if (*it == timingCache) {
            keep.erase(it);
            break;
          }
        }
      }
      d->keep->push_back(shared);
    }
    timingCache = shared;
    timingCacheUsed = false;
  });
  return env.Undefined();
}

Napi::Value BuilderConfig::GetTimingCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const nvinfer1::ITimingCache* cache = Get(env, true).getTimingCache();
  if (!cache) return env.Null();
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  nvinfer1::IHostMemory* mem = cache->serialize();
  if (!mem) Guard(env, [&] { ThrowTrt("TENSORRT_ERROR", "serializing the timing cache failed", &scope); });
  auto shared = Share(mem);
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(shared->data()), shared->size());
}

// setCalibrator(adapter | null)
Napi::Value BuilderConfig::SetCalibrator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env, true);
  if (info[0].IsNull() || info[0].IsUndefined()) {
    calibrator.Reset();
    return env.Undefined();
  }
  if (!info[0].IsObject()) Throw(env, "INVALID_ARGUMENT", "calibrator must be an object or null");
#if TN_HAS_IMPLICIT_INT8
  calibrator = Napi::Persistent(info[0].As<Napi::Object>());
  return env.Undefined();
#else
  Throw(env, "UNSUPPORTED",
        "implicit INT8 calibration (IInt8Calibrator) does not exist in TensorRT " TN_TRT_VERSION_STRING
        ": quantize the model explicitly (Q/DQ nodes) instead");
#endif
}

// setCalibrationProfile(index): the optimization profile (added with addOptimizationProfile) whose opt shapes are
// the calibration shapes of a network with runtime dimensions. Default: the first profile. Applied with
// IBuilderConfig::setCalibrationProfile when a calibrating build starts.
Napi::Value BuilderConfig::SetCalibrationProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env, true);
#if TN_HAS_IMPLICIT_INT8
  int32_t index = IntArg(env, info[0], "calibration profile", 0, 1 << 20);
  if (static_cast<size_t>(index) >= profiles.size()) {
    Throw(env, "INVALID_ARGUMENT", "calibration profile " + std::to_string(index) + " does not exist (" +
                                       std::to_string(profiles.size()) + " optimization profiles added)");
  }
  calibrationProfile = index;
  return env.Undefined();
#else
  Throw(env, "UNSUPPORTED",
        "implicit INT8 calibration (setCalibrationProfile) does not exist in TensorRT " TN_TRT_VERSION_STRING);
#endif
}

Napi::Value BuilderConfig::GetCalibrationProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  return Napi::Number::New(env, calibrationProfile < 0 ? 0 : calibrationProfile);
}

Napi::Value BuilderConfig::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !config); }

Napi::Value BuilderConfig::Dispose(const Napi::CallbackInfo& info) {
  config.reset();
  timingCache.reset();
  calibrator.Reset();
  builder.reset();
  return info.Env().Undefined();
}

}  // namespace tn::trt

#endif  // TN_HAVE_TENSORRT
