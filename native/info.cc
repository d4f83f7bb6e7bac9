// runtimeInfo(): what was compiled in, whether TensorRT can be loaded and which CUDA devices exist.
// Never throws: every failure becomes `available: false` plus a `reason`.
#include <napi.h>
#include <cuda_runtime_api.h>

#include <dlfcn.h>

#include <cstdlib>
#include <exception>
#include <string>

#include "cuda.h"
#include "errors.h"
#include "trt_features.h"
#include "loader.h"
#include "modules.h"

namespace tn {

namespace {

std::string CudaVersionString(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string CudaErrorText(cudaError_t e) {
  const char* name = cudaGetErrorName(e);
  const char* desc = cudaGetErrorString(e);
  return std::string(desc ? desc : "unknown CUDA error") + " (" + (name ? name : "cudaErrorUnknown") + ")";
}

// Why the driver could not be used: libcuda.so.1 missing (with where the dynamic loader looked) or too old.
std::string DriverDiagnosis(int driverVersion) {
  if (driverVersion > 0) {
    if (driverVersion < CUDART_VERSION) {
      return "; the NVIDIA driver supports CUDA " + CudaVersionString(driverVersion) + " but tensorrt-node was built with CUDA " +
             CudaVersionString(CUDART_VERSION) + ": update the driver";
    }
    return "";
  }
  void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (h) {
    dlclose(h);
    return "; libcuda.so.1 loads but reports no driver (is the NVIDIA kernel module loaded? is /dev/nvidia* accessible?)";
  }
  const char* err = dlerror();
  const char* ldPath = std::getenv("LD_LIBRARY_PATH");
  return std::string("; no NVIDIA driver found: dlopen(libcuda.so.1) failed: ") + (err ? err : "not found") +
         " (searched LD_LIBRARY_PATH=" + (ldPath && *ldPath ? ldPath : "<unset>") +
         ", the ld.so cache and the default directories /lib, /usr/lib, /lib64, /usr/lib64)";
}

Napi::Object CompiledWith(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  const char* trt = trt::CompiledVersion();
  o.Set("tensorrt", trt ? Napi::Value(Napi::String::New(env, trt)) : env.Null());
  o.Set("cuda", Napi::String::New(env, CudaVersionString(CUDART_VERSION)));
  o.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return o;
}

Napi::Object ProbeObject(Napi::Env env, const trt::Probe& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", Napi::Boolean::New(env, p.available));
  o.Set("flavor", Napi::String::New(env, p.flavor.empty() ? "full" : p.flavor));
  if (!p.selectedBecause.empty()) o.Set("selectedBecause", Napi::String::New(env, p.selectedBecause));
  if (!p.version.empty()) o.Set("version", Napi::String::New(env, p.version));
  if (!p.buildVersion.empty()) o.Set("buildVersion", Napi::String::New(env, p.buildVersion));
  if (!p.libraryPath.empty()) o.Set("libraryPath", Napi::String::New(env, p.libraryPath));
  if (!p.onnxParserPath.empty()) o.Set("onnxParserPath", Napi::String::New(env, p.onnxParserPath));
  if (!p.pluginPath.empty()) o.Set("pluginPath", Napi::String::New(env, p.pluginPath));
  Napi::Array cannot = Napi::Array::New(env);
  for (uint32_t i = 0; i < p.cannot.size(); ++i) cannot.Set(i, Napi::String::New(env, p.cannot[i]));
  o.Set("cannot", cannot);
  if (!p.available || !p.reason.empty()) {
    o.Set("reason", Napi::String::New(env, p.reason.empty() ? "TensorRT is not available" : p.reason));
  }
  return o;
}

Napi::Object TensorRTInfo(Napi::Env env) {
  try {
    return ProbeObject(env, trt::ProbeTensorRT());
  } catch (const std::exception& e) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", Napi::Boolean::New(env, false));
    o.Set("reason", Napi::String::New(env, std::string("probing TensorRT failed: ") + e.what()));
    return o;
  }
}

// probeTensorRT(flavor: 'full' | 'lean' | 'dispatch'): that library's probe (opened if not yet), whatever the
// process's selection. Throws INVALID_ARGUMENT for another name; never for a missing library.
Napi::Value ProbeTensorRTFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  trt::Flavor f = trt::Flavor::kFull;
  if (!info[0].IsString() || !trt::ParseFlavor(info[0].As<Napi::String>().Utf8Value(), &f)) {
    Throw(env, "INVALID_ARGUMENT", "probeTensorRT expects 'full', 'lean' or 'dispatch'");
  }
  try {
    return ProbeObject(env, trt::ProbeFlavor(f));
  } catch (const std::exception& e) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", Napi::Boolean::New(env, false));
    o.Set("flavor", Napi::String::New(env, trt::FlavorName(f)));
    o.Set("reason", Napi::String::New(env, std::string("probing TensorRT failed: ") + e.what()));
    return o;
  }
}

Napi::Object CudaInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env);
  o.Set("available", Napi::Boolean::New(env, false));
  o.Set("runtimeVersion", Napi::String::New(env, CudaVersionString(CUDART_VERSION)));
  int driver = 0;
  cudaError_t de = cudaDriverGetVersion(&driver);
  if (de == cudaSuccess && driver > 0) {
    o.Set("driverVersion", Napi::Number::New(env, driver));
    o.Set("driverCudaVersion", Napi::String::New(env, CudaVersionString(driver)));
  }
  o.Set("devices", devices);
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    const char* name = cudaGetErrorName(e);
    o.Set("cudaError", Napi::String::New(env, name ? name : "cudaErrorUnknown"));
    std::string reason = "CUDA is not usable: cudaGetDeviceCount failed: " + CudaErrorText(e);
    reason += DriverDiagnosis(driver);
    o.Set("reason", Napi::String::New(env, reason));
    return o;
  }
  if (n == 0) {
    o.Set("cudaError", Napi::String::New(env, "cudaErrorNoDevice"));
    o.Set("reason", Napi::String::New(env, "no CUDA device found (cudaGetDeviceCount returned 0)"));
    return o;
  }
  uint32_t k = 0;
  std::string failures;
  for (int i = 0; i < n; ++i) {
    try {
      devices.Set(k++, cuda::DevicePropertiesObject(env, i));
    } catch (const NativeError& err) {
      --k;
      failures += (failures.empty() ? "" : "; ") + std::string("device ") + std::to_string(i) + ": " + err.what();
    }
  }
  o.Set("available", Napi::Boolean::New(env, k > 0));
  if (!failures.empty()) o.Set("reason", Napi::String::New(env, failures));
  return o;
}

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  try {
    o.Set("compiledWith", CompiledWith(env));
  } catch (const std::exception& e) {
    o.Set("compiledWith", Napi::Object::New(env));
  }
  try {
    o.Set("tensorrt", TensorRTInfo(env));
  } catch (const std::exception& e) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("available", Napi::Boolean::New(env, false));
    t.Set("reason", Napi::String::New(env, e.what()));
    o.Set("tensorrt", t);
  }
  try {
    o.Set("features", trt::FeaturesObject(env));
  } catch (const std::exception& e) {
    o.Set("features", Napi::Object::New(env));
  }
  try {
    o.Set("cuda", CudaInfo(env));
  } catch (const std::exception& e) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("available", Napi::Boolean::New(env, false));
    c.Set("devices", Napi::Array::New(env));
    c.Set("reason", Napi::String::New(env, e.what()));
    o.Set("cuda", c);
  }
  return o;
}

Napi::Value CompiledWithFn(const Napi::CallbackInfo& info) { return CompiledWith(info.Env()); }

}  // namespace

void InitInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("runtimeInfo", Napi::Function::New<RuntimeInfo>(env, "runtimeInfo"));
  exports.Set("compiledWith", Napi::Function::New<CompiledWithFn>(env, "compiledWith"));
  exports.Set("probeTensorRT", Napi::Function::New<ProbeTensorRTFn>(env, "probeTensorRT"));
}

}  // namespace tn
