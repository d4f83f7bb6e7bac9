// Helpers shared by the TensorRT classes (see trt_common.h).
#include "trt_common.h"

#if TN_HAVE_TENSORRT

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "compat.h"

namespace tn::trt {

int32_t ErrorRecorder::getNbErrors() const noexcept {
  std::lock_guard<std::mutex> lock(m_);
  return static_cast<int32_t>(errors_.size());
}

nvinfer1::ErrorCode ErrorRecorder::getErrorCode(int32_t i) const noexcept {
  std::lock_guard<std::mutex> lock(m_);
  // The header's contract (NvInferRuntimeBase.h, 8.6 to 11): kUNSPECIFIED_ERROR for an index out of range.
  if (i < 0 || static_cast<size_t>(i) >= errors_.size()) return nvinfer1::ErrorCode::kUNSPECIFIED_ERROR;
  return errors_[static_cast<size_t>(i)].first;
}

ErrorRecorder::ErrorDesc ErrorRecorder::getErrorDesc(int32_t i) const noexcept {
  std::lock_guard<std::mutex> lock(m_);
  if (i < 0 || static_cast<size_t>(i) >= errors_.size()) return "";  // the header: an empty string out of range
  // The string lives until clear() / Take(), as TensorRT's contract requires.
  return errors_[static_cast<size_t>(i)].second.c_str();
}

bool ErrorRecorder::hasOverflowed() const noexcept { return overflowed_.load(); }

void ErrorRecorder::clear() noexcept {
  std::lock_guard<std::mutex> lock(m_);
  errors_.clear();
  overflowed_ = false;
}

bool ErrorRecorder::reportError(nvinfer1::ErrorCode val, ErrorDesc desc) noexcept {
  try {
    std::lock_guard<std::mutex> lock(m_);
    const char* text = desc ? desc : "";
    if (errors_.size() < kMaxErrors) {
      errors_.emplace_back(val, text);
    } else {
      overflowed_ = true;  // dropped: TensorRT's contract wants hasOverflowed() to say so
    }
    // The operations in progress (see Scope): the reporting thread's innermost synchronous scope alone, else every
    // build / parse scope.
    auto keep = [&](Scope* s) {
      if (s->messages_.size() < kMaxErrors) {
        s->messages_.emplace_back(text);
      } else {
        s->overflowed_ = true;
      }
    };
    std::thread::id self = std::this_thread::get_id();
    Scope* mine = nullptr;
    for (auto it = scopes_.rbegin(); it != scopes_.rend() && !mine; ++it) {
      if ((*it)->kind_ == Scope::kThisThread && (*it)->thread_ == self) mine = *it;
    }
    if (mine) {
      keep(mine);
    } else {
      for (Scope* s : scopes_) {
        if (s->kind_ == Scope::kAnyThread) keep(s);
      }
    }
  } catch (...) {
    overflowed_ = true;  // out of memory while recording: the message is dropped
  }
  // false: TensorRT should not treat the error as fatal beyond its own handling.
  return false;
}

ErrorRecorder::RefCount ErrorRecorder::incRefCount() noexcept { return ++refs_; }

ErrorRecorder::RefCount ErrorRecorder::decRefCount() noexcept { return --refs_; }

ErrorRecorder::Scope::Scope(ErrorRecorder& recorder, Kind kind)
    : r_(recorder), kind_(kind), thread_(std::this_thread::get_id()) {
  std::lock_guard<std::mutex> lock(r_.m_);
  r_.scopes_.push_back(this);
}

ErrorRecorder::Scope::~Scope() {
  std::lock_guard<std::mutex> lock(r_.m_);
  r_.scopes_.erase(std::remove(r_.scopes_.begin(), r_.scopes_.end(), this), r_.scopes_.end());
}

std::string ErrorRecorder::Scope::Take() {
  std::lock_guard<std::mutex> lock(r_.m_);
  std::string s;
  for (const auto& m : messages_) {
    if (m.empty() || s.find(m) != std::string::npos) continue;
    if (!s.empty()) s += "; ";
    s += m;
  }
  if (overflowed_) s += (s.empty() ? "" : "; ") + std::string("(more errors were reported and dropped)");
  messages_.clear();
  overflowed_ = false;
  return s;
}

std::string ErrorRecorder::Take() {
  std::lock_guard<std::mutex> lock(m_);
  std::string s;
  for (const auto& e : errors_) {
    if (e.second.empty()) continue;
    // Avoid repeating the same message (TensorRT sometimes reports an error at several levels).
    if (s.find(e.second) != std::string::npos) continue;
    if (!s.empty()) s += "; ";
    s += e.second;
  }
  if (overflowed_.load()) s += (s.empty() ? "" : "; ") + std::string("(more errors were reported and dropped)");
  errors_.clear();
  overflowed_ = false;
  return s;
}

void ThrowTrt(const char* code, const std::string& what, ErrorRecorder* recorder) {
  std::string details = recorder ? recorder->Take() : std::string();
  throw NativeError(code, what + ": " + (details.empty() ? std::string("no details from TensorRT") : details));
}

void ThrowTrt(const char* code, const std::string& what, ErrorRecorder::Scope* scope) {
  std::string details = scope ? scope->Take() : std::string();
  throw NativeError(code, what + ": " + (details.empty() ? std::string("no details from TensorRT") : details));
}

// ---- DataType ------------------------------------------------------------------------------------------------

namespace {
struct DtName {
  int value;
  const char* name;
  size_t size;
};

const DtName* DataTypes(int* n) {
  static const DtName table[] = {
      {static_cast<int>(nvinfer1::DataType::kFLOAT), "float32", 4},
      {static_cast<int>(nvinfer1::DataType::kHALF), "float16", 2},
      {compat::DataType_kBF16(), "bfloat16", 2},
      {static_cast<int>(nvinfer1::DataType::kINT8), "int8", 1},
      {static_cast<int>(nvinfer1::DataType::kUINT8), "uint8", 1},
      {static_cast<int>(nvinfer1::DataType::kINT32), "int32", 4},
      {compat::DataType_kINT64(), "int64", 8},
      {static_cast<int>(nvinfer1::DataType::kBOOL), "bool", 1},
      {compat::DataType_kFP8(), "fp8", 1},
      {compat::DataType_kINT4(), "int4", 0},
      {compat::DataType_kFP4(), "fp4", 0},
  };
  *n = static_cast<int>(sizeof(table) / sizeof(table[0]));
  return table;
}
}  // namespace

const char* DataTypeName(nvinfer1::DataType t) {
  int n = 0;
  const DtName* table = DataTypes(&n);
  for (int i = 0; i < n; ++i) {
    if (table[i].value >= 0 && table[i].value == static_cast<int>(t)) return table[i].name;
  }
  // kE8M0 and anything newer than this file: no lib/dtypes.ts name yet.
  return "unknown";
}

bool DataTypeFromName(const std::string& name, nvinfer1::DataType* out) {
  int n = 0;
  const DtName* table = DataTypes(&n);
  for (int i = 0; i < n; ++i) {
    if (table[i].value >= 0 && name == table[i].name) {
      *out = static_cast<nvinfer1::DataType>(table[i].value);
      return true;
    }
  }
  return false;
}

size_t DataTypeSize(nvinfer1::DataType t) {
  int n = 0;
  const DtName* table = DataTypes(&n);
  for (int i = 0; i < n; ++i) {
    if (table[i].value >= 0 && table[i].value == static_cast<int>(t)) return table[i].size;
  }
  return 0;
}

// ---- Dims ----------------------------------------------------------------------------------------------------

Napi::Array DimsToArray(Napi::Env env, const nvinfer1::Dims& d) {
  int32_t n = d.nbDims < 0 ? 0 : d.nbDims;
  if (n > nvinfer1::Dims::MAX_DIMS) n = nvinfer1::Dims::MAX_DIMS;
  Napi::Array a = Napi::Array::New(env, static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(d.d[i])));
  return a;
}

nvinfer1::Dims DimsFromArray(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) Throw(env, "INVALID_ARGUMENT", std::string(what) + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  if (n > static_cast<uint32_t>(nvinfer1::Dims::MAX_DIMS)) {
    Throw(env, "INVALID_ARGUMENT", std::string(what) + " has " + std::to_string(n) + " dimensions; TensorRT allows at most " +
                                       std::to_string(nvinfer1::Dims::MAX_DIMS));
  }
  nvinfer1::Dims d{};
  d.nbDims = static_cast<int32_t>(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) Throw(env, "INVALID_ARGUMENT", std::string(what) + "[" + std::to_string(i) + "] must be an integer");
    double x = e.As<Napi::Number>().DoubleValue();
    // Dims elements are int32 before TensorRT 10: a larger double would not convert (undefined behaviour).
    constexpr double kMax =
        std::min(9007199254740991.0, static_cast<double>(std::numeric_limits<decltype(d.d[0] + 0)>::max()));
    if (!std::isfinite(x) || x != std::floor(x) || x < -1 || x > kMax) {
      Throw(env, "INVALID_ARGUMENT", std::string(what) + "[" + std::to_string(i) + "] must be an integer >= -1");
    }
    d.d[i] = static_cast<decltype(d.d[0] + 0)>(x);
  }
  return d;
}

}  // namespace tn::trt

#endif  // TN_HAVE_TENSORRT
