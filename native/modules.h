// Module initialisers registered by addon.cc. Each adds its functions / classes to `exports`.
#pragma once

#include <napi.h>

namespace tn {

void InitCuda(Napi::Env env, Napi::Object exports);    // native/device.cc
void InitInfo(Napi::Env env, Napi::Object exports);    // native/info.cc: runtimeInfo, compiledWith
void InitLogger(Napi::Env env, Napi::Object exports);  // native/logger.cc: setLogSeverity, setLogCallback
// native/trt.cc: every TensorRT class when compiled with TensorRT headers; without them, nothing (lib/ then
// reports TENSORRT_UNAVAILABLE "built without TensorRT headers"). Calls the two below.
void InitTrt(Napi::Env env, Napi::Object exports);
void InitBuilderClasses(Napi::Env env, Napi::Object exports);  // builder.cc network.cc parser.cc config.cc calibrator.cc
void InitRuntimeClasses(Napi::Env env, Napi::Object exports);  // runtime.cc engine.cc context.cc

}  // namespace tn
