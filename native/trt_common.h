// Helpers shared by the TensorRT classes of the addon. CONTRACT; implemented in native/trt_common.cc.
// Only included where TN_HAVE_TENSORRT is 1.
#pragma once

#if TN_HAVE_TENSORRT
#include <napi.h>
#include <NvInfer.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"

namespace tn::trt {

// unique_ptr that destroys TensorRT objects with `delete` (TensorRT 10+ API).
template <typename T>
using Ptr = std::unique_ptr<T>;

// An IErrorRecorder that keeps every error reported to it (thread-safe); attach one per builder / runtime /
// engine / context with setErrorRecorder. Take() joins what was recorded ("" when nothing).
//
// One Builder's recorder serves its IBuilder and everything made from it (networks, configs, parses, builds). The
// messages of one operation are therefore collected in a Scope (review 2, #10): a copy kept apart from the
// recorder's own list, which neither clear() nor another operation can wipe.
class ErrorRecorder : public nvinfer1::IErrorRecorder {
 public:
  // Open while one operation runs; collects what is reported meanwhile.
  //   kThisThread: a synchronous call (on the JS thread): what is reported on the opening thread while it is open,
  //                and that goes to this scope alone (the innermost one of the thread).
  //   kAnyThread:  a build or a parse on a work thread: what is reported on any thread (TensorRT's own threads
  //                included), except what a kThisThread scope of the reporting thread takes.
  // A scope must not outlive its recorder.
  class Scope {
   public:
    enum Kind { kThisThread, kAnyThread };
    Scope(ErrorRecorder& recorder, Kind kind);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    // What this scope collected, joined with "; " (repeats dropped), then emptied. "" when nothing.
    std::string Take();

   private:
    friend class ErrorRecorder;
    ErrorRecorder& r_;
    Kind kind_;
    std::thread::id thread_;
    std::vector<std::string> messages_;  // guarded by r_.m_
    bool overflowed_ = false;            // guarded by r_.m_
  };

  int32_t getNbErrors() const noexcept override;
  nvinfer1::ErrorCode getErrorCode(int32_t i) const noexcept override;
  ErrorDesc getErrorDesc(int32_t i) const noexcept override;
  bool hasOverflowed() const noexcept override;
  void clear() noexcept override;
  bool reportError(nvinfer1::ErrorCode val, ErrorDesc desc) noexcept override;
  RefCount incRefCount() noexcept override;
  RefCount decRefCount() noexcept override;

  // Everything recorded so far joined with "; ", then cleared. "" when nothing was recorded.
  std::string Take();

 private:
  static constexpr size_t kMaxErrors = 256;
  mutable std::mutex m_;
  std::deque<std::pair<nvinfer1::ErrorCode, std::string>> errors_;  // deque: c_str() pointers stay valid as it grows
  std::atomic<bool> overflowed_{false};  // errors were dropped since the last clear() / Take()
  std::atomic<int32_t> refs_{0};
  std::vector<Scope*> scopes_;  // guarded by m_: open scopes, oldest first
};

// Throws NativeError(code, what + ": " + recorder.Take() (or "no details from TensorRT")).
[[noreturn]] void ThrowTrt(const char* code, const std::string& what, ErrorRecorder* recorder);
// The same with what `scope` collected.
[[noreturn]] void ThrowTrt(const char* code, const std::string& what, ErrorRecorder::Scope* scope);

// DataType <-> the JS names of lib/dtypes.ts ('float32', 'float16', 'bfloat16', 'int8', 'uint8', 'int32',
// 'int64', 'bool', 'fp8', 'int4', 'fp4'; names absent in the compiled version are never produced).
const char* DataTypeName(nvinfer1::DataType t);
bool DataTypeFromName(const std::string& name, nvinfer1::DataType* out);
// Bytes per element (0 for sub-byte types).
size_t DataTypeSize(nvinfer1::DataType t);

// Dims <-> JS number arrays (-1 for dynamic dimensions).
Napi::Array DimsToArray(Napi::Env env, const nvinfer1::Dims& d);
nvinfer1::Dims DimsFromArray(Napi::Env env, Napi::Value v, const char* what);  // throws INVALID_ARGUMENT

}  // namespace tn::trt
#endif
