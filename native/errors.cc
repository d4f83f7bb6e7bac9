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

PromiseWorker::PromiseWorker(Napi::Env env)
    : Napi::AsyncWorker(env, "tensorrt-node"), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise PromiseWorker::Promise() { return deferred_.Promise(); }

void PromiseWorker::Execute() {
  try {
    Run();
  } catch (const NativeError& e) {
    failed_ = true;
    code_ = e.code;
    cudaError_ = e.cudaError;
    message_ = e.what();
  } catch (const std::exception& e) {
    failed_ = true;
    code_ = "INTERNAL";
    message_ = e.what();
  } catch (...) {
    failed_ = true;
    code_ = "INTERNAL";
    message_ = "unknown native exception";
  }
  if (failed_) SetError(message_);
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  try {
    try {
      deferred_.Resolve(Result(env));
      return;
    } catch (const Napi::Error& e) {
      Napi::Value v = e.Value();
      if (v.IsObject()) DecorateError(env, v.As<Napi::Object>());
      deferred_.Reject(v);
    } catch (const std::exception& e) {
      Napi::Error err = ToJsError(env, e);
      DecorateError(env, err.Value());
      deferred_.Reject(err.Value());
    }
  } catch (const Napi::Error&) {
    // JS can no longer run (environment teardown): see OnError.
  }
}

void PromiseWorker::OnError(const Napi::Error& /*e*/) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  try {
    Napi::Error err = ToJsError(env, NativeError(code_.empty() ? "INTERNAL" : code_, message_, cudaError_));
    DecorateError(env, err.Value());
    deferred_.Reject(err.Value());
  } catch (const Napi::Error&) {
    // JS can no longer run (environment teardown: worker.terminate(), a build cancelled by it): nobody awaits the
    // promise, and a Napi::Error escaping here would reach std::terminate through node-addon-api's AsyncWorker.
  }
}

}  // namespace tn
