// NetworkDefinition: inspection (inputs, outputs, layers) and output marking. Created by Builder.createNetwork.
#include "build_classes.h"

#if TN_HAVE_TENSORRT
#include <string>

#include "compat.h"
#include "errors.h"

namespace tn::trt {

namespace {

Napi::Object TensorObject(Napi::Env env, nvinfer1::ITensor* t) {
  Napi::Object o = Napi::Object::New(env);
  const char* name = t->getName();
  o.Set("name", Napi::String::New(env, name ? name : ""));
  o.Set("dtype", Napi::String::New(env, DataTypeName(t->getType())));
  o.Set("shape", DimsToArray(env, t->getDimensions()));
  return o;
}

Napi::Array TensorNames(Napi::Env env, int32_t n, nvinfer1::ITensor* (*get)(nvinfer1::ILayer*, int32_t),
                        nvinfer1::ILayer* layer) {
  Napi::Array a = Napi::Array::New(env);
  uint32_t k = 0;
  for (int32_t i = 0; i < n; ++i) {
    nvinfer1::ITensor* t = get(layer, i);
    // Optional inputs may be absent: reported as null to keep positions.
    a.Set(k++, t ? Napi::Value(Napi::String::New(env, t->getName() ? t->getName() : "")) : env.Null());
  }
  return a;
}

nvinfer1::ITensor* FindTensor(nvinfer1::INetworkDefinition& net, const std::string& name) {
  for (int32_t i = 0; i < net.getNbInputs(); ++i) {
    nvinfer1::ITensor* t = net.getInput(i);
    if (t && t->getName() && name == t->getName()) return t;
  }
  for (int32_t l = 0; l < net.getNbLayers(); ++l) {
    nvinfer1::ILayer* layer = net.getLayer(l);
    for (int32_t j = 0; j < layer->getNbOutputs(); ++j) {
      nvinfer1::ITensor* t = layer->getOutput(j);
      if (t && t->getName() && name == t->getName()) return t;
    }
  }
  return nullptr;
}

std::string StringArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) Throw(env, "INVALID_ARGUMENT", std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Function NetworkDefinition::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NetworkDefinition",
                                 {
                                     InstanceAccessor<&NetworkDefinition::GetInputs>("inputs"),
                                     InstanceAccessor<&NetworkDefinition::GetOutputs>("outputs"),
                                     InstanceAccessor<&NetworkDefinition::GetLayers>("layers"),
                                     InstanceAccessor<&NetworkDefinition::GetNumLayers>("numLayers"),
                                     InstanceAccessor<&NetworkDefinition::GetStronglyTyped>("stronglyTyped"),
                                     InstanceAccessor<&NetworkDefinition::GetName, &NetworkDefinition::SetName>("name"),
                                     InstanceAccessor<&NetworkDefinition::GetDisposed>("disposed"),
                                     InstanceMethod<&NetworkDefinition::MarkOutput>("markOutput"),
                                     InstanceMethod<&NetworkDefinition::UnmarkOutput>("unmarkOutput"),
                                     InstanceMethod<&NetworkDefinition::Dispose>("dispose"),
                                 });
  BuildCtorsFor(env).network = Napi::Persistent(f);
  return f;
}

NetworkDefinition* NetworkDefinition::Unwrap(Napi::Value v) {
  BuildCtors& c = BuildCtorsFor(v.Env());
  if (!v.IsObject() || c.network.IsEmpty() || !v.As<Napi::Object>().InstanceOf(c.network.Value())) return nullptr;
  return Napi::ObjectWrap<NetworkDefinition>::Unwrap(v.As<Napi::Object>());
}

// new NetworkDefinition(builder, stronglyTyped): called by Builder.createNetwork only.
NetworkDefinition::NetworkDefinition(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetworkDefinition>(info) {
  Napi::Env env = info.Env();
  Builder* b = Builder::Unwrap(info[0]);
  if (!b) Throw(env, "INVALID_ARGUMENT", "use Builder.createNetwork() to create a NetworkDefinition");
  // The exported constructor is reachable without createNetwork(): the same checks (disposed, a build or parse in
  // progress on the IBuilder) before touching it (defect #12).
  b->Get(env);
  builder = b->builder;
  building = b->building;
  recorder = b->recorder;
  bool wantStronglyTyped = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
#if !TN_HAS_STRONGLY_TYPED
  if (wantStronglyTyped) Throw(env, "UNSUPPORTED", "strongly typed networks need TensorRT 10 or newer");
#endif
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  nvinfer1::INetworkDefinition* n = builder->createNetworkV2(compat::NetworkCreationFlags(wantStronglyTyped));
  if (!n) Guard(env, [&] { ThrowTrt("TENSORRT_ERROR", "createNetworkV2 failed", &scope); });
  network = Share(n);
#if TN_ALWAYS_STRONGLY_TYPED
  stronglyTyped = true;
#else
  stronglyTyped = wantStronglyTyped;
#endif
}

nvinfer1::INetworkDefinition& NetworkDefinition::Get(Napi::Env env, bool forWrite) const {
  if (!network) ThrowDisposed(env, "NetworkDefinition");
  if (forWrite && busy.load() > 0) {
    Throw(env, "INVALID_ARGUMENT", "the NetworkDefinition is in use by a parse or build in progress");
  }
  return *network;
}

Napi::Value NetworkDefinition::GetInputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::INetworkDefinition& net = Get(env, true);
  Napi::Array a = Napi::Array::New(env);
  for (int32_t i = 0; i < net.getNbInputs(); ++i) a.Set(static_cast<uint32_t>(i), TensorObject(env, net.getInput(i)));
  return a;
}

Napi::Value NetworkDefinition::GetOutputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::INetworkDefinition& net = Get(env, true);
  Napi::Array a = Napi::Array::New(env);
  for (int32_t i = 0; i < net.getNbOutputs(); ++i) a.Set(static_cast<uint32_t>(i), TensorObject(env, net.getOutput(i)));
  return a;
}

Napi::Value NetworkDefinition::GetLayers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nvinfer1::INetworkDefinition& net = Get(env, true);
  int nTypes = 0;
  const compat::EnumName* types = compat::LayerTypes(&nTypes);
  Napi::Array a = Napi::Array::New(env);
  for (int32_t i = 0; i < net.getNbLayers(); ++i) {
    nvinfer1::ILayer* layer = net.getLayer(i);
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", Napi::Number::New(env, i));
    o.Set("name", Napi::String::New(env, layer->getName() ? layer->getName() : ""));
    const char* type = compat::NameOf(types, nTypes, static_cast<int>(layer->getType()));
    o.Set("type", Napi::String::New(env, type ? type : "unknown"));
#if TN_HAS_LAYER_PRECISION
    TN_ALLOW_DEPRECATED_BEGIN
    o.Set("precision", Napi::String::New(env, DataTypeName(layer->getPrecision())));
    o.Set("precisionIsSet", Napi::Boolean::New(env, layer->precisionIsSet()));
    TN_ALLOW_DEPRECATED_END
#else
    // Strongly typed only: a layer computes in the type of its (first) output.
    nvinfer1::ITensor* out0 = layer->getNbOutputs() > 0 ? layer->getOutput(0) : nullptr;
    o.Set("precision", Napi::String::New(env, out0 ? DataTypeName(out0->getType()) : "unknown"));
    o.Set("precisionIsSet", Napi::Boolean::New(env, false));
#endif
    o.Set("inputs", TensorNames(
                        env, layer->getNbInputs(),
                        [](nvinfer1::ILayer* l, int32_t k) { return l->getInput(k); }, layer));
    o.Set("outputs", TensorNames(
                         env, layer->getNbOutputs(),
                         [](nvinfer1::ILayer* l, int32_t k) { return l->getOutput(k); }, layer));
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

Napi::Value NetworkDefinition::GetNumLayers(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(info.Env(), true).getNbLayers());
}

Napi::Value NetworkDefinition::GetStronglyTyped(const Napi::CallbackInfo& info) {
  Get(info.Env());
  return Napi::Boolean::New(info.Env(), stronglyTyped);
}

Napi::Value NetworkDefinition::GetName(const Napi::CallbackInfo& info) {
  const char* n = Get(info.Env(), true).getName();
  return Napi::String::New(info.Env(), n ? n : "");
}

void NetworkDefinition::SetName(const Napi::CallbackInfo& info, const Napi::Value& v) {
  Napi::Env env = info.Env();
  std::string name = StringArg(env, v, "name");
  Get(env, true).setName(name.c_str());
}

Napi::Value NetworkDefinition::MarkOutput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(env, info[0], "markOutput: name");
  nvinfer1::INetworkDefinition& net = Get(env, true);
  nvinfer1::ITensor* t = FindTensor(net, name);
  if (!t) Throw(env, "INVALID_ARGUMENT", "markOutput: the network has no tensor named '" + name + "'");
  if (t->isNetworkOutput()) return env.Undefined();
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  net.markOutput(*t);
  if (!t->isNetworkOutput()) {
    Guard(env, [&] { ThrowTrt("TENSORRT_ERROR", "markOutput('" + name + "') failed", &scope); });
  }
  return env.Undefined();
}

Napi::Value NetworkDefinition::UnmarkOutput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(env, info[0], "unmarkOutput: name");
  nvinfer1::INetworkDefinition& net = Get(env, true);
  for (int32_t i = 0; i < net.getNbOutputs(); ++i) {
    nvinfer1::ITensor* t = net.getOutput(i);
    if (t && t->getName() && name == t->getName()) {
      net.unmarkOutput(*t);
      return env.Undefined();
    }
  }
  Throw(env, "INVALID_ARGUMENT", "unmarkOutput: '" + name + "' is not an output of the network");
}

Napi::Value NetworkDefinition::GetDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !network);
}

Napi::Value NetworkDefinition::Dispose(const Napi::CallbackInfo& info) {
  // A parse or build in flight holds its own reference: the network is freed when it ends.
  parsers.clear();  // before the network they refer to
  network.reset();
  builder.reset();
  return info.Env().Undefined();
}

}  // namespace tn::trt

#endif  // TN_HAVE_TENSORRT
