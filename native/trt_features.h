// runtimeInfo().features: what the compiled TensorRT version supports (native/trt.cc; all false without TensorRT).
#pragma once

#include <napi.h>

namespace tn::trt {

// { implicitInt8, fp16Flag, int8Flag, bf16, fp8, int4, fp4, stronglyTyped, progressMonitor, uff,
//   versionCompatible, weightStreaming, ... }: booleans only.
Napi::Object FeaturesObject(Napi::Env env);

// { builderFlags, memoryPools, hardwareCompatibilityLevels }: the camelCase names present in the compiled version
// (empty arrays without TensorRT).
Napi::Object EnumsObject(Napi::Env env);

}  // namespace tn::trt
