// The process-wide TensorRT logger (see logger.h).
//
// TensorRT logs from whatever thread it runs on (the JS thread, a build worker, its own threads). log() never
// blocks on JS: with a callback set, each message is queued to the JS thread through a ThreadSafeFunction
// (NonBlockingCall, unbounded queue); without one, it is written to stderr. The ThreadSafeFunction is unref'd so
// that a registered callback never keeps the process alive.
#include "logger.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "modules.h"

namespace tn {

namespace trt {

namespace {

// TensorRT's ILogger::Severity values: kINTERNAL_ERROR 0, kERROR 1, kWARNING 2, kINFO 3, kVERBOSE 4.
constexpr const char* kSeverityNames[] = {"internalError", "error", "warning", "info", "verbose"};
constexpr const char* kSeverityLabels[] = {"INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"};

std::atomic<int> g_minSeverity{2};

struct Message {
  int severity;
  std::string text;
};

// The JS callback (one per process; owned by the env that set it). `active` turns false when the callback is
// replaced or when Node finalizes the ThreadSafeFunction (environment teardown), so that log() never touches a
// finalized one.
std::mutex g_cbMutex;
Napi::ThreadSafeFunction g_tsfn;
bool g_tsfnActive = false;
uint64_t g_tsfnGeneration = 0;

thread_local LogCapture* t_capture = nullptr;

// Captures that also take messages from threads without a capture of their own (see LogCapture::kWithUnattributed).
std::mutex& WideMutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::vector<LogCapture*>& WideCaptures() {
  static auto* v = new std::vector<LogCapture*>();
  return *v;
}

void CallJs(Napi::Env env, Napi::Function fn, Message* m) {
  if (!m) return;
  if (env != nullptr && fn != nullptr) {
    try {
      fn.Call({Napi::String::New(env, kSeverityNames[m->severity]), Napi::String::New(env, m->text)});
    } catch (const Napi::Error& e) {
      // A throwing listener must not take the process down; report it like Node does for warnings.
      std::fprintf(stderr, "tensorrt-node: TensorRT log callback threw: %s\n", e.Message().c_str());
    }
  }
  delete m;
}

void ReleaseCallbackLocked() {
  if (g_tsfnActive) {
    g_tsfnActive = false;
    g_tsfn.Release();
  }
}

[[maybe_unused]] void Emit(int severity, const char* msg) {
  if (severity < 0) severity = 0;
  if (severity > 4) severity = 4;
  if (severity <= 1) {
    if (t_capture) {
      t_capture->Add(msg ? msg : "");
    } else {
      // a thread of TensorRT's own (no capture): every build capture that asked for them gets the message
      std::lock_guard<std::mutex> lock(WideMutex());
      for (LogCapture* c : WideCaptures()) c->Add(msg ? msg : "");
    }
  }
  if (severity > g_minSeverity.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard<std::mutex> lock(g_cbMutex);
    if (g_tsfnActive) {
      auto* m = new Message{severity, msg ? msg : ""};
      if (g_tsfn.NonBlockingCall(m, CallJs) == napi_ok) return;
      delete m;  // queue closing: fall through to stderr
    }
  }
  std::fprintf(stderr, "[TensorRT] %s: %s\n", kSeverityLabels[severity], msg ? msg : "");
}

int SeverityFromName(const std::string& s) {
  for (int i = 0; i < 5; ++i) {
    if (s == kSeverityNames[i]) return i;
  }
  return -1;
}

Napi::Value SetLogSeverity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sev = info[0].IsString() ? SeverityFromName(info[0].As<Napi::String>().Utf8Value()) : -1;
  if (sev < 0) {
    Throw(env, "INVALID_ARGUMENT",
          "log severity must be one of internalError, error, warning, info, verbose");
  }
  g_minSeverity.store(sev);
  return env.Undefined();
}

Napi::Value SetLogCallback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  if (!v.IsFunction() && !v.IsNull() && !v.IsUndefined()) {
    Throw(env, "INVALID_ARGUMENT", "setLogCallback expects a function (severity, message) => void or null");
  }
  std::lock_guard<std::mutex> lock(g_cbMutex);
  ReleaseCallbackLocked();
  if (v.IsFunction()) {
    uint64_t generation = ++g_tsfnGeneration;
    g_tsfn = Napi::ThreadSafeFunction::New(env, v.As<Napi::Function>(), "tensorrt-node:log", 0, 1,
                                           [generation](Napi::Env) {
                                             std::lock_guard<std::mutex> lock2(g_cbMutex);
                                             if (g_tsfnGeneration == generation) g_tsfnActive = false;
                                           });
    g_tsfn.Unref(env);
    g_tsfnActive = true;
  }
  return env.Undefined();
}

}  // namespace

LogCapture::LogCapture(Scope scope) : prev_(t_capture), wide_(scope == kWithUnattributed) {
  t_capture = this;
  if (wide_) {
    std::lock_guard<std::mutex> lock(WideMutex());
    WideCaptures().push_back(this);
  }
}

LogCapture::~LogCapture() {
  t_capture = prev_;
  if (wide_) {
    std::lock_guard<std::mutex> lock(WideMutex());
    auto& v = WideCaptures();
    v.erase(std::remove(v.begin(), v.end(), this), v.end());
  }
}

void LogCapture::Add(const char* msg) {
  {
    std::lock_guard<std::mutex> lock(m_);
    if (!text_.empty()) text_ += "; ";
    text_ += msg;
  }
  if (prev_) prev_->Add(msg);
}

std::string LogCapture::Take() {
  std::lock_guard<std::mutex> lock(m_);
  std::string s;
  s.swap(text_);
  return s;
}

#if TN_HAVE_TENSORRT
namespace {
class JsLogger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override {
    try {
      Emit(static_cast<int>(severity), msg);
    } catch (...) {
      // never let an exception escape into TensorRT
    }
  }
};
}  // namespace

nvinfer1::ILogger& Logger() {
  static JsLogger* logger = new JsLogger();  // never destroyed: TensorRT keeps the pointer
  return *logger;
}
#endif

}  // namespace trt

void InitLogger(Napi::Env env, Napi::Object exports) {
  exports.Set("setLogSeverity", Napi::Function::New<trt::SetLogSeverity>(env, "setLogSeverity"));
  exports.Set("setLogCallback", Napi::Function::New<trt::SetLogCallback>(env, "setLogCallback"));
}

}  // namespace tn
