// TensorRT's ILogger, forwarded to JS. CONTRACT; implemented in native/logger.cc.
// One process-wide logger (TensorRT keeps the pointer given to a factory for the object's lifetime).
// Messages at or above the minimum severity (default kWARNING) go to the JS callback set with
// setLogCallback (through a Napi::ThreadSafeFunction, so any thread may log) or, with no callback, to stderr.
// JS functions (registered by InitLogger): setLogSeverity(name), setLogCallback(fn | null).
#pragma once

#include <napi.h>

#include <mutex>
#include <string>

#if TN_HAVE_TENSORRT
#include <NvInferRuntime.h>
#endif

namespace tn::trt {

#if TN_HAVE_TENSORRT
nvinfer1::ILogger& Logger();
#endif

// Collects the error / internal-error messages TensorRT logs on the current thread while the object lives
// (whatever the minimum severity), so that a failure can report what TensorRT said. Nestable; not copyable.
// kWithUnattributed also collects errors logged on threads that have no capture of their own (TensorRT's internal
// worker threads during a build): while several such captures live, each gets every such message.
class LogCapture {
 public:
  enum Scope { kThisThread, kWithUnattributed };
  explicit LogCapture(Scope scope = kThisThread);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  // Everything captured so far joined with "; ", then cleared ("" when nothing).
  std::string Take();
  void Add(const char* msg);

 private:
  LogCapture* prev_;
  bool wide_;
  std::mutex m_;  // Add may come from another thread (kWithUnattributed)
  std::string text_;
};

}  // namespace tn::trt
