// Engine: an ICudaEngine (created only by Runtime.deserialize), its I/O tensors, sizes, serialization, the engine
// inspector and execution context creation.
//
// JS (raw addon, see types/native-runtime.d.ts):
//   engine.ioTensors() -> [{ name, mode, dtype, shape, format, tensorFormat, vectorizedDim, componentsPerElement,
//                            bytesPerComponent, location, isShapeInferenceIO, profiles?, profileValues? }]
//   engine.numOptimizationProfiles, numLayers, deviceMemorySize, name, numAuxStreams, profilingVerbosity,
//   hardwareCompatibilityLevel, refittable, device, serializedSize, disposed
//   engine.streamableWeightsSize; weightStreamingBudget, weightStreamingAutomaticBudget,
//   weightStreamingScratchMemorySize (undefined before TensorRT 10.1); engine.setWeightStreamingBudget(bytes)
//   engine.deviceMemorySizeForProfile(i) -> number (-1 when the TensorRT version cannot tell)
//   engine.serialize() -> Buffer
//   engine.inspect('json' | 'text', context?) -> string;  engine.inspectLayer(i, 'json' | 'text', context?) -> string
//   engine.createExecutionContext() -> ExecutionContext
//   engine.dispose()
#include <napi.h>

#if TN_HAVE_TENSORRT
#include <cstring>
#include <utility>

#include "compat.h"
#include "cuda.h"
#include "engine.h"

namespace tn::trt::run {

namespace {

const napi_type_tag kEngineInitTag = {0x7e9c4f1a2b3d4c5eULL, 0x91a2b3c4d5e6f708ULL};

struct EngineInit {
  std::unique_ptr<EngineState> state;
};

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  explicit Engine(const Napi::CallbackInfo& info);
  ~Engine() override { Release(Env()); }

  const std::shared_ptr<EngineState>& state() const { return state_; }
  void CheckAlive(Napi::Env env) const {
    if (!state_) ThrowDisposedObject(env, "Engine");
  }

  Napi::Value IOTensors(const Napi::CallbackInfo& info);
  Napi::Value GetNumOptimizationProfiles(const Napi::CallbackInfo& info);
  Napi::Value GetNumLayers(const Napi::CallbackInfo& info);
  Napi::Value GetNumIOTensors(const Napi::CallbackInfo& info);
  Napi::Value GetDeviceMemorySize(const Napi::CallbackInfo& info);
  Napi::Value DeviceMemorySizeForProfile(const Napi::CallbackInfo& info);
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetNumAuxStreams(const Napi::CallbackInfo& info);
  Napi::Value GetProfilingVerbosity(const Napi::CallbackInfo& info);
  Napi::Value GetHardwareCompatibilityLevel(const Napi::CallbackInfo& info);
  Napi::Value GetRefittable(const Napi::CallbackInfo& info);
  Napi::Value GetStreamableWeightsSize(const Napi::CallbackInfo& info);
  template <compat::WeightStreamingQuery q>
  Napi::Value GetWeightStreaming(const Napi::CallbackInfo& info);
  Napi::Value SetWeightStreamingBudget(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetSerializedSize(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }
  Napi::Value Serialize(const Napi::CallbackInfo& info);
  Napi::Value Inspect(const Napi::CallbackInfo& info);
  Napi::Value InspectLayer(const Napi::CallbackInfo& info);
  Napi::Value CreateExecutionContext(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

 private:
  void Release(napi_env env);
  nvinfer1::ICudaEngine& engine() const { return *state_->engine; }

  std::shared_ptr<EngineState> state_;  // null once disposed
  int64_t reported_ = 0;
};

Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[0].As<Napi::External<EngineInit>>().CheckTypeTag(&kEngineInitTag)) {
    ThrowInvalidArg(env, "Engine objects are created by Runtime.deserialize() / Engine.load()");
  }
  EngineInit* init = info[0].As<Napi::External<EngineInit>>().Data();
  if (!init->state) ThrowInvalidArg(env, "Engine: state already taken");
  state_ = std::move(init->state);
  reported_ = static_cast<int64_t>(state_->hostBytes);
  if (reported_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, reported_);
}

void Engine::Release(napi_env env) {
  if (reported_ > 0) {
    int64_t unused;
    napi_adjust_external_memory(env, -reported_, &unused);
  }
  reported_ = 0;
  state_.reset();  // the ICudaEngine goes once its execution contexts are gone too (~EngineState selects its device)
}

Napi::Value Engine::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Array ShapeRanges(Napi::Env env, const nvinfer1::ICudaEngine& e, const char* name, int32_t profiles) {
  Napi::Array arr = Napi::Array::New(env, profiles);
  for (int32_t p = 0; p < profiles; ++p) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("min", DimsToArray(env, e.getProfileShape(name, p, nvinfer1::OptProfileSelector::kMIN)));
    r.Set("opt", DimsToArray(env, e.getProfileShape(name, p, nvinfer1::OptProfileSelector::kOPT)));
    r.Set("max", DimsToArray(env, e.getProfileShape(name, p, nvinfer1::OptProfileSelector::kMAX)));
    arr.Set(static_cast<uint32_t>(p), r);
  }
  return arr;
}

// Profile values of a shape-tensor input, or undefined when the TensorRT version / engine does not provide them.
Napi::Value ShapeValueRanges(Napi::Env env, const nvinfer1::ICudaEngine& e, const char* name, int32_t profiles) {
  int64_t n = Volume(e.getTensorShape(name));
  if (n < 0 || n > 4096) return env.Undefined();
  Napi::Array arr = Napi::Array::New(env, profiles);
  std::vector<int64_t> buf(static_cast<size_t>(n));
  const nvinfer1::OptProfileSelector sel[3] = {nvinfer1::OptProfileSelector::kMIN, nvinfer1::OptProfileSelector::kOPT,
                                               nvinfer1::OptProfileSelector::kMAX};
  const char* keys[3] = {"min", "opt", "max"};
  for (int32_t p = 0; p < profiles; ++p) {
    Napi::Object r = Napi::Object::New(env);
    for (int k = 0; k < 3; ++k) {
      if (!compat::ProfileTensorValues(e, name, p, sel[k], buf.data(), n)) return env.Undefined();
      Napi::Array vals = Napi::Array::New(env, static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) vals.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(buf[i])));
      r.Set(keys[k], vals);
    }
    arr.Set(static_cast<uint32_t>(p), r);
  }
  return arr;
}

Napi::Value Engine::IOTensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  const nvinfer1::ICudaEngine& e = engine();
  int32_t n = e.getNbIOTensors();
  int32_t profiles = e.getNbOptimizationProfiles();
  Napi::Array arr = Napi::Array::New(env, static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    const char* name = e.getIOTensorName(i);
    if (!name) continue;
    Napi::Object t = Napi::Object::New(env);
    bool input = e.getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
    t.Set("name", Napi::String::New(env, name));
    t.Set("mode", Napi::String::New(env, input ? "input" : "output"));
    t.Set("dtype", Napi::String::New(env, DataTypeName(e.getTensorDataType(name))));
    t.Set("shape", DimsToArray(env, e.getTensorShape(name)));
    const char* desc = e.getTensorFormatDesc(name);
    t.Set("format", Napi::String::New(env, desc ? desc : ""));
    t.Set("tensorFormat", Napi::String::New(env, TensorFormatName(e.getTensorFormat(name))));
    t.Set("vectorizedDim", Napi::Number::New(env, e.getTensorVectorizedDim(name)));
    t.Set("componentsPerElement", Napi::Number::New(env, e.getTensorComponentsPerElement(name)));
    t.Set("bytesPerComponent", Napi::Number::New(env, e.getTensorBytesPerComponent(name)));
    bool host = e.getTensorLocation(name) == nvinfer1::TensorLocation::kHOST;
    t.Set("location", Napi::String::New(env, host ? "host" : "device"));
    bool shapeIO = e.isShapeInferenceIO(name);
    t.Set("isShapeInferenceIO", Napi::Boolean::New(env, shapeIO));
    if (input && profiles > 0) {
      t.Set("profiles", ShapeRanges(env, e, name, profiles));
      if (shapeIO) {
        Napi::Value v = ShapeValueRanges(env, e, name, profiles);
        if (!v.IsUndefined()) t.Set("profileValues", v);
      }
    }
    arr.Set(static_cast<uint32_t>(i), t);
  }
  return arr;
}

Napi::Value Engine::GetNumOptimizationProfiles(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), engine().getNbOptimizationProfiles());
}

Napi::Value Engine::GetNumLayers(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), engine().getNbLayers());
}

Napi::Value Engine::GetNumIOTensors(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), engine().getNbIOTensors());
}

Napi::Value Engine::GetDeviceMemorySize(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(compat::EngineDeviceMemorySize(engine())));
}

Napi::Value Engine::DeviceMemorySizeForProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  int32_t profiles = engine().getNbOptimizationProfiles();
  if (!info[0].IsNumber()) ThrowInvalidArg(env, "profile index must be an integer");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < profiles) || d != static_cast<double>(static_cast<int32_t>(d))) {
    ThrowInvalidArg(env, "profile index must be an integer in [0, " + std::to_string(profiles) + ")");
  }
  return Napi::Number::New(
      env, static_cast<double>(compat::EngineDeviceMemorySizeForProfile(engine(), static_cast<int32_t>(d))));
}

Napi::Value Engine::GetName(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  const char* n = engine().getName();
  return Napi::String::New(info.Env(), n ? n : "");
}

Napi::Value Engine::GetNumAuxStreams(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), engine().getNbAuxStreams());
}

Napi::Value Engine::GetProfilingVerbosity(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  const char* s = "unknown";
  switch (engine().getProfilingVerbosity()) {
    case nvinfer1::ProfilingVerbosity::kLAYER_NAMES_ONLY: s = "layerNamesOnly"; break;
    case nvinfer1::ProfilingVerbosity::kNONE: s = "none"; break;
    case nvinfer1::ProfilingVerbosity::kDETAILED: s = "detailed"; break;
    default: break;
  }
  return Napi::String::New(info.Env(), s);
}

Napi::Value Engine::GetHardwareCompatibilityLevel(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  int v = static_cast<int>(engine().getHardwareCompatibilityLevel());
  int n = 0;
  const compat::EnumName* t = compat::HardwareCompatibilityLevels(&n);
  for (int i = 0; i < n; ++i) {
    if (t[i].value == v) return Napi::String::New(info.Env(), t[i].name);
  }
  return Napi::String::New(info.Env(), "unknown");
}

// ---- weight streaming (review 2, #12): the V2 budget API of TensorRT 10.1+ -------------------------------------

Napi::Value Engine::GetStreamableWeightsSize(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(compat::StreamableWeightsSize(engine())));
}

// weightStreamingBudget / weightStreamingAutomaticBudget / weightStreamingScratchMemorySize: bytes; undefined
// where the compiled TensorRT has no V2 weight-streaming API (8.6, 10.0).
template <compat::WeightStreamingQuery q>
Napi::Value Engine::GetWeightStreaming(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  if (!compat::HasWeightStreamingBudgetV2()) return info.Env().Undefined();
  DeviceScope scope(state_->device);
  return Napi::Number::New(info.Env(), static_cast<double>(compat::WeightStreamingV2(engine(), q)));
}

// setWeightStreamingBudget(bytes): setWeightStreamingBudgetV2. The header: the engine must have been built with
// BuilderFlag::kWEIGHT_STREAMING, and the budget "cannot be modified while there are active IExecutionContexts".
Napi::Value Engine::SetWeightStreamingBudget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  if (!compat::HasWeightStreamingBudgetV2()) {
    Throw(env, "UNSUPPORTED",
          "setWeightStreamingBudget needs TensorRT 10.1 or newer (setWeightStreamingBudgetV2); compiled against "
          "TensorRT " TN_TRT_VERSION_STRING);
  }
  if (!info[0].IsNumber()) ThrowInvalidArg(env, "setWeightStreamingBudget: bytes must be a non-negative integer");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<int64_t>(d)) || d > 9007199254740991.0) {
    ThrowInvalidArg(env, "setWeightStreamingBudget: bytes must be a non-negative integer");
  }
  int64_t streamable = compat::StreamableWeightsSize(engine());
  if (streamable <= 0) {
    ThrowInvalidArg(env, "setWeightStreamingBudget: this engine has no streamable weights (build it with the "
                         "'weightStreaming' builder flag)");
  }
  // Every live ExecutionContext (and a released one still draining) holds a share of the state.
  if (state_.use_count() > 1) {
    ThrowInvalidArg(env, "setWeightStreamingBudget: the budget cannot change while the engine has execution "
                         "contexts (TensorRT); dispose them first");
  }
  Guard(env, [&] {
    DeviceScope scope(state_->device);
    state_->recorder.Take();
    if (!compat::SetWeightStreamingBudgetV2(*state_->engine, static_cast<int64_t>(d))) {
      throw NativeError("INVALID_ARGUMENT", TrtMessage("setWeightStreamingBudgetV2(" +
                                                           std::to_string(static_cast<long long>(d)) + ") was refused",
                                                       &state_->recorder, ""));
    }
  });
  return env.Undefined();
}

Napi::Value Engine::GetRefittable(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Boolean::New(info.Env(), engine().isRefittable());
}

Napi::Value Engine::GetDevice(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), state_->device);
}

Napi::Value Engine::GetSerializedSize(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(state_->hostBytes));
}

// serialize() -> Buffer (a copy of the plan, which can be written to a .engine file and deserialized again)
Napi::Value Engine::Serialize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    state_->recorder.Take();
    Ptr<nvinfer1::IHostMemory> mem(engine().serialize());
    if (!mem || (mem->size() > 0 && !mem->data())) {
      throw NativeError("TENSORRT_ERROR", TrtMessage("ICudaEngine::serialize failed", &state_->recorder, ""));
    }
    return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(mem->data()), mem->size());
  });
}

nvinfer1::LayerInformationFormat FormatArg(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined()) return nvinfer1::LayerInformationFormat::kJSON;
  std::string f = StringArg(env, v, "format");
  if (f == "json") return nvinfer1::LayerInformationFormat::kJSON;
  if (f == "text" || f == "oneline") return nvinfer1::LayerInformationFormat::kONELINE;
  ThrowInvalidArg(env, "format must be 'json' or 'text'; got '" + f + "'");
}

struct Inspection {
  Ptr<nvinfer1::IEngineInspector> inspector;
};

Inspection MakeInspector(Napi::Env env, EngineState& st, Napi::Value contextArg) {
  const nvinfer1::IExecutionContext* ctx = nullptr;
  if (!contextArg.IsUndefined() && !contextArg.IsNull()) {
    ctx = ExecutionContextFromValue(env, contextArg);
    if (!ctx) ThrowInvalidArg(env, "context must be an ExecutionContext of this engine");
    if (&ctx->getEngine() != st.engine.get()) ThrowInvalidArg(env, "context belongs to another engine");
  }
  st.recorder.Take();
  Inspection in;
  in.inspector.reset(st.engine->createEngineInspector());
  if (!in.inspector) throw NativeError("TENSORRT_ERROR", TrtMessage("createEngineInspector failed", &st.recorder, ""));
  if (ctx && !in.inspector->setExecutionContext(ctx)) {
    throw NativeError("TENSORRT_ERROR", TrtMessage("IEngineInspector::setExecutionContext failed", &st.recorder, ""));
  }
  return in;
}

// inspect(format = 'json', context?) -> string: IEngineInspector::getEngineInformation. How much it says depends on
// the engine's profilingVerbosity at build time ('detailed' gives every layer's parameters).
Napi::Value Engine::Inspect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  nvinfer1::LayerInformationFormat fmt = FormatArg(env, info[0]);
  return Guard(env, [&]() -> Napi::Value {
    Inspection in = MakeInspector(env, *state_, info[1]);
    const char* s = in.inspector->getEngineInformation(fmt);
    if (!s) throw NativeError("TENSORRT_ERROR", TrtMessage("getEngineInformation failed", &state_->recorder, ""));
    return Napi::String::New(env, s);
  });
}

// inspectLayer(index, format = 'json', context?) -> string
Napi::Value Engine::InspectLayer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  int32_t layers = engine().getNbLayers();
  if (!info[0].IsNumber()) ThrowInvalidArg(env, "layer index must be an integer");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < layers) || d != static_cast<double>(static_cast<int32_t>(d))) {
    ThrowInvalidArg(env, "layer index must be an integer in [0, " + std::to_string(layers) + ")");
  }
  nvinfer1::LayerInformationFormat fmt = FormatArg(env, info[1]);
  return Guard(env, [&]() -> Napi::Value {
    Inspection in = MakeInspector(env, *state_, info[2]);
    const char* s = in.inspector->getLayerInformation(static_cast<int32_t>(d), fmt);
    if (!s) throw NativeError("TENSORRT_ERROR", TrtMessage("getLayerInformation failed", &state_->recorder, ""));
    return Napi::String::New(env, s);
  });
}

Napi::Value Engine::CreateExecutionContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return NewExecutionContextObject(env, info.This().As<Napi::Object>(), state_);
}

}  // namespace

Napi::Object NewEngineObject(Napi::Env env, std::unique_ptr<EngineState> state) {
  RuntimeCtors* c = GetRuntimeCtors(env);
  if (!c) throw NativeError("INTERNAL", "Engine class is not registered in this environment");
  EngineInit init{std::move(state)};
  Napi::External<EngineInit> ext = Napi::External<EngineInit>::New(env, &init);
  ext.TypeTag(&kEngineInitTag);
  return c->engine.New({ext});  // on failure `init` still owns (and frees) the state
}

std::shared_ptr<EngineState> EngineStateFromValue(Napi::Env env, Napi::Value v) {
  RuntimeCtors* c = GetRuntimeCtors(env);
  if (!c || !v.IsObject() || !v.As<Napi::Object>().InstanceOf(c->engine.Value())) return nullptr;
  Engine* e = Napi::ObjectWrap<Engine>::Unwrap(v.As<Napi::Object>());
  e->CheckAlive(env);
  return e->state();
}

Napi::Function InitEngineClass(Napi::Env env) {
  return Engine::DefineClass(
      env, "Engine",
      {
          Engine::InstanceMethod<&Engine::IOTensors>("ioTensors"),
          Engine::InstanceAccessor<&Engine::GetNumOptimizationProfiles>("numOptimizationProfiles"),
          Engine::InstanceAccessor<&Engine::GetNumLayers>("numLayers"),
          Engine::InstanceAccessor<&Engine::GetNumIOTensors>("numIOTensors"),
          Engine::InstanceAccessor<&Engine::GetDeviceMemorySize>("deviceMemorySize"),
          Engine::InstanceMethod<&Engine::DeviceMemorySizeForProfile>("deviceMemorySizeForProfile"),
          Engine::InstanceAccessor<&Engine::GetName>("name"),
          Engine::InstanceAccessor<&Engine::GetNumAuxStreams>("numAuxStreams"),
          Engine::InstanceAccessor<&Engine::GetProfilingVerbosity>("profilingVerbosity"),
          Engine::InstanceAccessor<&Engine::GetHardwareCompatibilityLevel>("hardwareCompatibilityLevel"),
          Engine::InstanceAccessor<&Engine::GetRefittable>("refittable"),
          Engine::InstanceAccessor<&Engine::GetStreamableWeightsSize>("streamableWeightsSize"),
          Engine::InstanceAccessor<&Engine::GetWeightStreaming<compat::WeightStreamingQuery::kBudget>>(
              "weightStreamingBudget"),
          Engine::InstanceAccessor<&Engine::GetWeightStreaming<compat::WeightStreamingQuery::kAutomaticBudget>>(
              "weightStreamingAutomaticBudget"),
          Engine::InstanceAccessor<&Engine::GetWeightStreaming<compat::WeightStreamingQuery::kScratchMemorySize>>(
              "weightStreamingScratchMemorySize"),
          Engine::InstanceMethod<&Engine::SetWeightStreamingBudget>("setWeightStreamingBudget"),
          Engine::InstanceAccessor<&Engine::GetDevice>("device"),
          Engine::InstanceAccessor<&Engine::GetSerializedSize>("serializedSize"),
          Engine::InstanceAccessor<&Engine::GetDisposed>("disposed"),
          Engine::InstanceMethod<&Engine::Serialize>("serialize"),
          Engine::InstanceMethod<&Engine::Inspect>("inspect"),
          Engine::InstanceMethod<&Engine::InspectLayer>("inspectLayer"),
          Engine::InstanceMethod<&Engine::CreateExecutionContext>("createExecutionContext"),
          Engine::InstanceMethod<&Engine::Dispose>("dispose"),
      });
}

}  // namespace tn::trt::run
#endif
