// Module initialisers registered by addon.cc. Each adds its functions / classes to `exports`.
#pragma once

#include <napi.h>

namespace tn {

void InitCuda(Napi::Env env, Napi::Object exports);  // native/cuda.cc (A)
void InitInfo(Napi::Env env, Napi::Object exports);  // native/info.cc (A): runtimeInfo, compiledWith
void InitTrt(Napi::Env env, Napi::Object exports);   // native/trt.cc (B): every TensorRT class (nothing without TRT)

}  // namespace tn
