// TensorRT part of the addon: registers the builder and runtime classes when compiled with TensorRT headers,
// and exports `features` / `trtEnums` (what the compiled version supports) in every build.
#include <napi.h>

#include "compat.h"
#include "trt_features.h"
#include "modules.h"

namespace tn {

namespace trt {

Napi::Object FeaturesObject(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* name, bool v) { o.Set(name, Napi::Boolean::New(env, v)); };
#if TN_HAVE_TENSORRT
  set("onnxParser", true);
  set("implicitInt8", TN_HAS_IMPLICIT_INT8);
  set("fp16Flag", compat::BuilderFlag_kFP16() >= 0);
  set("int8Flag", compat::BuilderFlag_kINT8() >= 0);
  set("tf32Flag", compat::BuilderFlag_kTF32() >= 0);
  set("bf16", compat::DataType_kBF16() >= 0);
  set("bf16Flag", compat::BuilderFlag_kBF16() >= 0);
  set("fp8", compat::DataType_kFP8() >= 0);
  set("fp8Flag", compat::BuilderFlag_kFP8() >= 0);
  set("int4", compat::DataType_kINT4() >= 0);
  set("int4Flag", compat::BuilderFlag_kINT4() >= 0);
  set("fp4", compat::DataType_kFP4() >= 0);
  set("fp4Flag", compat::BuilderFlag_kFP4() >= 0);
  set("int64", compat::DataType_kINT64() >= 0);
  set("stronglyTyped", TN_HAS_STRONGLY_TYPED);
  set("alwaysStronglyTyped", TN_ALWAYS_STRONGLY_TYPED);
  set("progressMonitor", TN_HAS_PROGRESS_MONITOR);
  set("uff", TN_HAS_UFF);
  set("platformCapabilities", TN_HAS_PLATFORM_CAPS);
  set("builderOptimizationLevel", TN_HAS_OPTIMIZATION_LEVEL);
  set("hardwareCompatibility", compat::HardwareCompatibilityLevel_kAMPERE_PLUS() >= 0);
  set("sameComputeCapability", compat::HardwareCompatibilityLevel_kSAME_COMPUTE_CAPABILITY() >= 0);
  set("maxAuxStreams", TN_HAS_OPTIMIZATION_LEVEL);
  set("versionCompatible", compat::BuilderFlag_kVERSION_COMPATIBLE() >= 0);
  set("weightStreaming", compat::BuilderFlag_kWEIGHT_STREAMING() >= 0);
  set("stripPlan", compat::BuilderFlag_kSTRIP_PLAN() >= 0);
  set("tacticSharedMemory", compat::MemoryPoolType_kTACTIC_SHARED_MEMORY() >= 0);
  set("timingCache", true);
#else
  for (const char* name : {"onnxParser", "implicitInt8", "fp16Flag", "int8Flag", "tf32Flag", "bf16", "bf16Flag", "fp8",
                           "fp8Flag", "int4", "int4Flag", "fp4", "fp4Flag", "int64", "stronglyTyped",
                           "alwaysStronglyTyped", "progressMonitor", "uff", "platformCapabilities",
                           "builderOptimizationLevel", "hardwareCompatibility", "sameComputeCapability",
                           "maxAuxStreams", "versionCompatible", "weightStreaming", "stripPlan",
                           "tacticSharedMemory", "timingCache"}) {
    set(name, false);
  }
#endif
  return o;
}

Napi::Object EnumsObject(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#if TN_HAVE_TENSORRT
  auto list = [&](const compat::EnumName* t, int n) {
    Napi::Array a = Napi::Array::New(env);
    uint32_t k = 0;
    for (int i = 0; i < n; ++i) {
      if (t[i].value >= 0) a.Set(k++, Napi::String::New(env, t[i].name));
    }
    return a;
  };
  int n = 0;
  const compat::EnumName* t = compat::BuilderFlags(&n);
  o.Set("builderFlags", list(t, n));
  t = compat::MemoryPools(&n);
  o.Set("memoryPools", list(t, n));
  t = compat::HardwareCompatibilityLevels(&n);
  o.Set("hardwareCompatibilityLevels", list(t, n));
#else
  o.Set("builderFlags", Napi::Array::New(env));
  o.Set("memoryPools", Napi::Array::New(env));
  o.Set("hardwareCompatibilityLevels", Napi::Array::New(env));
#endif
  return o;
}

}  // namespace trt

void InitTrt(Napi::Env env, Napi::Object exports) {
  exports.Set("features", trt::FeaturesObject(env));
  exports.Set("trtEnums", trt::EnumsObject(env));
#if TN_HAVE_TENSORRT
  InitBuilderClasses(env, exports);
  InitRuntimeClasses(env, exports);
#endif
}

}  // namespace tn
