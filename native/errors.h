// Error handling shared by every native file of tensorrt-node.
//
// Native code throws tn::NativeError (C++), which the JS glue turns into a JS Error carrying `.code`
// (a lib/errors.ts ErrorCode) and, for CUDA failures, `.cudaError` (the cudaError_t enum name).
#pragma once

#include <napi.h>
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace tn {

struct NativeError : std::runtime_error {
  std::string code;
  std::string cudaError;
  NativeError(std::string code, std::string msg, std::string cudaError = "");
};

// Throws NativeError for a failed CUDA runtime call: code CUDA_UNAVAILABLE when there is no driver / no
// device, OUT_OF_MEMORY for cudaErrorMemoryAllocation, else CUDA_ERROR. Message:
// "<what>: <cudaGetErrorString> (<cudaGetErrorName>)".
[[noreturn]] void ThrowCuda(cudaError_t e, const char* what);

// Classification used by ThrowCuda (exposed for runtimeInfo and tests).
const char* CudaErrorCode(cudaError_t e);

// The JS Error object for a NativeError (with .code and, when set, .cudaError).
Napi::Error ToJsError(Napi::Env env, const NativeError& e);

// The JS Error for any std::exception (NativeError keeps its code; anything else is INTERNAL).
Napi::Error ToJsError(Napi::Env env, const std::exception& e);

// Throws a Napi::Error (a JS exception) with `.code` set.
[[noreturn]] void Throw(Napi::Env env, const char* code, const std::string& msg);

// Runs `fn` on the JS thread, converting NativeError / std::exception into JS errors with codes.
// Napi::Error passes through unchanged. Use in every native entry point that calls code that may throw.
template <typename F>
auto Guard(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const NativeError& e) {
    throw ToJsError(env, e);
  } catch (const std::exception& e) {
    throw ToJsError(env, e);
  }
}

}  // namespace tn

// PromiseWorker (asynchronous work settling a Promise) is part of the one completion mechanism: completion.h.
#include "completion.h"  // NOLINT(build/include_order): needs NativeError above

#define TN_CUDA_CHECK(expr)                              \
  do {                                                   \
    cudaError_t tn_cuda_err_ = (expr);                   \
    if (tn_cuda_err_ != cudaSuccess) {                   \
      ::tn::ThrowCuda(tn_cuda_err_, #expr);              \
    }                                                    \
  } while (0)
