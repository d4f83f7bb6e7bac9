#include "errors.h"

#include <utility>

namespace tn {

NativeError::NativeError(std::string c, std::string msg, std::string cudaErr)
    : std::runtime_error(std::move(msg)), code(std::move(c)), cudaError(std::move(cudaErr)) {}

const char* CudaErrorCode(cudaError_t e) {
  switch (e) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInitializationError:
    case cudaErrorStubLibrary:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorSystemNotReady:
      return "CUDA_UNAVAILABLE";
    case cudaErrorMemoryAllocation:
      return "OUT_OF_MEMORY";
    default:
      return "CUDA_ERROR";
  }
}

void ThrowCuda(cudaError_t e, const char* what) {
  const char* name = cudaGetErrorName(e);
  const char* desc = cudaGetErrorString(e);
  std::string n = name ? name : "cudaErrorUnknown";
  std::string msg = std::string(what) + ": " + (desc ? desc : "unknown CUDA error") + " (" + n + ")";
  throw NativeError(CudaErrorCode(e), msg, n);
}

Napi::Error ToJsError(Napi::Env env, const NativeError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code));
  if (!e.cudaError.empty()) err.Set("cudaError", Napi::String::New(env, e.cudaError));
  return err;
}

Napi::Error ToJsError(Napi::Env env, const std::exception& e) {
  if (auto* ne = dynamic_cast<const NativeError*>(&e)) return ToJsError(env, *ne);
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, "INTERNAL"));
  return err;
}

void Throw(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error err = Napi::Error::New(env, msg);
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

}  // namespace tn
