// Implicit-INT8 calibration bridge (TensorRT 10; IInt8Calibrator does not exist in 11).
//
// TensorRT calls getBatch / readCalibrationCache / writeCalibrationCache on the build's worker thread. Each call
// is forwarded to the JS adapter (lib/config.ts) through a ThreadSafeFunction; the JS side answers with a
// Promise, whose settlement fulfils a std::promise the worker thread waits on. Batches are copied into device
// buffers owned by the bridge (one per input, reallocated when a batch grows). A failing getBatch (throw or
// rejection, wrong input, wrong type) ends calibration (getBatch returns false) and the build then fails with that
// message (Error()). Nothing blocks the JS thread; if the environment goes away while a call is queued, the call
// fails instead of hanging.
#include "build_classes.h"

#if TN_HAVE_TENSORRT
#include "compat.h"
#include "errors.h"

#if TN_HAS_IMPLICIT_INT8
#include <cuda_runtime_api.h>

#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>
#endif

namespace tn::trt {

#if !TN_HAS_IMPLICIT_INT8

std::unique_ptr<CalibratorBridge> CreateCalibratorBridge(Napi::Env env, Napi::Object, int) {
  Throw(env, "UNSUPPORTED",
        "implicit INT8 calibration (IInt8Calibrator) does not exist in TensorRT " TN_TRT_VERSION_STRING
        ": quantize the model explicitly (Q/DQ nodes) instead");
}

#else

namespace {

// What one JS call answers.
struct Answer {
  bool ok = false;        // false: the call failed (error says why)
  bool isNull = true;     // getBatch: end of data; readCache: no cache
  std::string error;
  std::map<std::string, std::vector<uint8_t>> tensors;  // getBatch
  std::vector<uint8_t> bytes;                            // readCache
};

enum class Op { kGetBatch, kReadCache, kWriteCache };

struct Request {
  Op op;
  std::vector<std::string> names;  // getBatch
  std::vector<uint8_t> bytes;      // writeCache
  std::promise<Answer> promise;
  std::atomic<bool> settled{false};
  void Settle(Answer a) {
    bool expected = false;
    if (settled.compare_exchange_strong(expected, true)) promise.set_value(std::move(a));
  }
  void Fail(const std::string& why) {
    Answer a;
    a.ok = false;
    a.error = why;
    Settle(std::move(a));
  }
};

std::string ErrorText(const Napi::Value& v) {
  if (v.IsObject()) {
    Napi::Value m = v.As<Napi::Object>().Get("message");
    if (m.IsString()) return m.As<Napi::String>().Utf8Value();
  }
  return v.ToString().Utf8Value();
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kGetBatch:
      return "getBatch";
    case Op::kReadCache:
      return "readCache";
    default:
      return "writeCache";
  }
}

// JS thread: the resolved value of the adapter's promise -> Answer.
void Resolve(const std::shared_ptr<Request>& req, Napi::Value v) {
  Answer a;
  a.ok = true;
  try {
    if (v.IsNull() || v.IsUndefined()) {
      a.isNull = true;
      req->Settle(std::move(a));
      return;
    }
    a.isNull = false;
    if (req->op == Op::kReadCache) {
      if (!v.IsTypedArray()) return req->Fail("readCache must resolve a Uint8Array or null");
      Napi::TypedArray ta = v.As<Napi::TypedArray>();
      const uint8_t* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      a.bytes.assign(p, p + ta.ByteLength());
    } else if (req->op == Op::kGetBatch) {
      if (!v.IsObject()) return req->Fail("getBatch must resolve { [inputName]: TypedArray } or null");
      Napi::Object o = v.As<Napi::Object>();
      for (const auto& name : req->names) {
        Napi::Value t = o.Get(name);
        if (!t.IsTypedArray()) {
          return req->Fail("getBatch returned no typed array for calibration input '" + name + "'");
        }
        Napi::TypedArray ta = t.As<Napi::TypedArray>();
        const uint8_t* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
        a.tensors[name].assign(p, p + ta.ByteLength());
      }
    }
    req->Settle(std::move(a));
  } catch (const Napi::Error& e) {
    req->Fail(e.Message());
  } catch (const std::exception& e) {
    req->Fail(e.what());
  }
}

class BridgeCore {
 public:
  BridgeCore(Napi::Env env, Napi::Object adapter, int device) {
    (void)device;  // the build thread already runs on the build's device
    adapter_ = Napi::Persistent(adapter);
    batchSize_ = adapter.Get("batchSize").ToNumber().Int32Value();
    Napi::Value q = adapter.Get("quantile");
    quantile_ = q.IsNumber() ? q.As<Napi::Number>().DoubleValue() : 0.9999;
    Napi::Value rc = adapter.Get("regressionCutoff");
    regressionCutoff_ = rc.IsNumber() ? rc.As<Napi::Number>().DoubleValue() : 1.0;
    std::string algo = adapter.Get("algorithm").ToString().Utf8Value();
    algorithm_ = algo;
    tsfn_ = Tsfn::New(env, "tensorrt-node:calibrator", 0, 1, &adapter_);
  }

  ~BridgeCore() {
    tsfn_.Release();
    for (auto& b : device_buffers_) cudaFree(b.second.ptr);
  }

  const std::string& algorithm() const { return algorithm_; }
  int32_t batchSize() const { return batchSize_; }
  double quantile() const { return quantile_; }
  double regressionCutoff() const { return regressionCutoff_; }

  std::string Error() const {
    std::lock_guard<std::mutex> lock(m_);
    return error_;
  }

  void ExpectSizes(std::map<std::string, size_t> bytes) { expected_ = std::move(bytes); }

  // Builder thread.
  bool GetBatch(void* bindings[], char const* names[], int32_t nbBindings) {
    if (!Error().empty()) return false;
    auto req = std::make_shared<Request>();
    req->op = Op::kGetBatch;
    for (int32_t i = 0; i < nbBindings; ++i) req->names.emplace_back(names[i] ? names[i] : "");
    Answer a = Call(req);
    if (!a.ok) {
      SetError(std::string("calibrator getBatch failed: ") + a.error);
      return false;
    }
    if (a.isNull) return false;  // end of the calibration data
    for (int32_t i = 0; i < nbBindings; ++i) {
      const std::string& name = req->names[static_cast<size_t>(i)];
      const std::vector<uint8_t>& host = a.tensors[name];
      if (host.empty()) {
        SetError("calibrator getBatch: the batch for input '" + name + "' is empty");
        return false;
      }
      auto expected = expected_.find(name);
      if (expected != expected_.end() && expected->second != host.size()) {
        SetError("calibrator getBatch: the batch for input '" + name + "' has " + std::to_string(host.size()) +
                 " bytes; TensorRT reads " + std::to_string(expected->second) +
                 " (the input's shape, dynamic dimensions from the first profile's opt shape, times its element size)");
        return false;
      }
      DeviceBlock& blk = device_buffers_[name];
      if (blk.size < host.size()) {
        if (blk.ptr) cudaFree(blk.ptr);
        blk.ptr = nullptr;
        blk.size = 0;
        cudaError_t e = cudaMalloc(&blk.ptr, host.size());
        if (e != cudaSuccess) {
          SetError("calibrator: cudaMalloc(" + std::to_string(host.size()) + ") for input '" + name +
                   "' failed: " + cudaGetErrorString(e));
          return false;
        }
        blk.size = host.size();
      }
      cudaError_t e = cudaMemcpy(blk.ptr, host.data(), host.size(), cudaMemcpyHostToDevice);
      if (e != cudaSuccess) {
        SetError(std::string("calibrator: copying the batch of '") + name + "' to the device failed: " +
                 cudaGetErrorString(e));
        return false;
      }
      bindings[i] = blk.ptr;
    }
    return true;
  }

  const void* ReadCache(std::size_t& length) {
    length = 0;
    auto req = std::make_shared<Request>();
    req->op = Op::kReadCache;
    Answer a = Call(req);
    if (!a.ok) {
      SetError(std::string("calibrator readCache failed: ") + a.error);
      return nullptr;
    }
    if (a.isNull || a.bytes.empty()) return nullptr;
    cache_ = std::move(a.bytes);
    length = cache_.size();
    return cache_.data();
  }

  void WriteCache(const void* ptr, std::size_t length) {
    auto req = std::make_shared<Request>();
    req->op = Op::kWriteCache;
    const uint8_t* p = static_cast<const uint8_t*>(ptr);
    if (p && length) req->bytes.assign(p, p + length);
    Answer a = Call(req);
    if (!a.ok) SetError(std::string("calibrator writeCache failed: ") + a.error);
  }

 private:
  struct DeviceBlock {
    void* ptr = nullptr;
    size_t size = 0;
  };

  struct Pending {
    std::shared_ptr<Request> req;
  };

  static void Deliver(Napi::Env env, Napi::Function, Napi::Reference<Napi::Object>* adapter, Pending* pending) {
    std::shared_ptr<Request> req = pending->req;
    delete pending;
    if (env == nullptr) {
      req->Fail("the JavaScript environment is shutting down");
      return;
    }
    try {
      Napi::HandleScope scope(env);
      Napi::Object obj = adapter->Value();
      Napi::Value fnv = obj.Get(OpName(req->op));
      if (!fnv.IsFunction()) return req->Fail(std::string("the calibrator has no ") + OpName(req->op) + "()");
      std::vector<napi_value> args;
      if (req->op == Op::kGetBatch) {
        Napi::Array names = Napi::Array::New(env, req->names.size());
        for (size_t i = 0; i < req->names.size(); ++i) names.Set(static_cast<uint32_t>(i), req->names[i]);
        args.push_back(names);
      } else if (req->op == Op::kWriteCache) {
        args.push_back(Napi::Buffer<uint8_t>::Copy(env, req->bytes.data(), req->bytes.size()));
      }
      Napi::Value result = fnv.As<Napi::Function>().Call(obj, args);
      // Promise (or thenable): wait for it; anything else is the answer itself.
      if (result.IsObject() && result.As<Napi::Object>().Get("then").IsFunction()) {
        auto onOk = Napi::Function::New(env, [req](const Napi::CallbackInfo& ci) -> Napi::Value {
          Resolve(req, ci[0]);
          return ci.Env().Undefined();
        });
        auto onErr = Napi::Function::New(env, [req](const Napi::CallbackInfo& ci) -> Napi::Value {
          req->Fail(ErrorText(ci[0]));
          return ci.Env().Undefined();
        });
        result.As<Napi::Object>().Get("then").As<Napi::Function>().Call(result, {onOk, onErr});
      } else {
        Resolve(req, result);
      }
    } catch (const Napi::Error& e) {
      req->Fail(e.Message());
    } catch (const std::exception& e) {
      req->Fail(e.what());
    }
  }

  using Tsfn = Napi::TypedThreadSafeFunction<Napi::Reference<Napi::Object>, Pending, &BridgeCore::Deliver>;

  Answer Call(const std::shared_ptr<Request>& req) {
    std::future<Answer> f = req->promise.get_future();
    auto* pending = new Pending{req};
    napi_status st = tsfn_.NonBlockingCall(pending);
    if (st != napi_ok) {
      delete pending;
      req->Fail("the JavaScript environment is shutting down");
    }
    // Wait for JS; a cancelled build stops waiting (the late answer, if any, is dropped by Request::Settle).
    while (f.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
      if (cancel_ && cancel_->load()) {
        req->Fail("the build was cancelled while the calibrator's answer was pending");
        break;
      }
    }
    return f.get();
  }

 public:
  void SetCancelFlag(std::shared_ptr<std::atomic<bool>> c) { cancel_ = std::move(c); }

 private:
  std::shared_ptr<std::atomic<bool>> cancel_;

  void SetError(const std::string& e) {
    std::lock_guard<std::mutex> lock(m_);
    if (error_.empty()) error_ = e;
  }

  Napi::Reference<Napi::Object> adapter_;
  Tsfn tsfn_;
  std::string algorithm_;
  int32_t batchSize_ = 1;
  double quantile_ = 0.9999, regressionCutoff_ = 1.0;
  mutable std::mutex m_;
  std::string error_;
  std::map<std::string, DeviceBlock> device_buffers_;
  std::map<std::string, size_t> expected_;
  std::vector<uint8_t> cache_;
};

TN_ALLOW_DEPRECATED_BEGIN

// One TensorRT calibrator interface served by a BridgeCore.
template <typename Base>
class Calibrator : public Base {
 public:
  explicit Calibrator(BridgeCore* core) : core_(core) {}
  int32_t getBatchSize() const noexcept override { return core_->batchSize(); }
  bool getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept override {
    try {
      return core_->GetBatch(bindings, names, nbBindings);
    } catch (...) {
      return false;
    }
  }
  void const* readCalibrationCache(std::size_t& length) noexcept override {
    try {
      return core_->ReadCache(length);
    } catch (...) {
      length = 0;
      return nullptr;
    }
  }
  void writeCalibrationCache(void const* ptr, std::size_t length) noexcept override {
    try {
      core_->WriteCache(ptr, length);
    } catch (...) {
    }
  }

 protected:
  BridgeCore* core_;
};

class LegacyCalibrator : public Calibrator<nvinfer1::IInt8LegacyCalibrator> {
 public:
  using Calibrator::Calibrator;
  double getQuantile() const noexcept override { return core_->quantile(); }
  double getRegressionCutoff() const noexcept override { return core_->regressionCutoff(); }
  void const* readHistogramCache(std::size_t& length) noexcept override {
    length = 0;
    return nullptr;
  }
  void writeHistogramCache(void const*, std::size_t) noexcept override {}
};

class Bridge final : public CalibratorBridge {
 public:
  Bridge(Napi::Env env, Napi::Object adapter, int device) : core_(env, adapter, device) {
    const std::string& a = core_.algorithm();
    if (a == "entropy2" || a == "percentile") {
      // 'percentile' is computed in JS (lib/calibration) and handed over as a cache; TensorRT reads it through
      // the entropy-2 interface.
      calibrator_.reset(new Calibrator<nvinfer1::IInt8EntropyCalibrator2>(&core_));
    } else if (a == "entropy") {
      calibrator_.reset(new Calibrator<nvinfer1::IInt8EntropyCalibrator>(&core_));
    } else if (a == "minmax") {
      calibrator_.reset(new Calibrator<nvinfer1::IInt8MinMaxCalibrator>(&core_));
    } else if (a == "legacy") {
      calibrator_.reset(new LegacyCalibrator(&core_));
    } else {
      throw NativeError("INVALID_ARGUMENT", "unknown calibration algorithm '" + a + "'");
    }
  }
  void Attach(nvinfer1::IBuilderConfig& config) override { config.setInt8Calibrator(calibrator_.get()); }
  void Detach(nvinfer1::IBuilderConfig& config) override {
    if (config.getInt8Calibrator() == calibrator_.get()) config.setInt8Calibrator(nullptr);
  }
  std::string Error() const override { return core_.Error(); }
  void ExpectSizes(std::map<std::string, size_t> bytes) override { core_.ExpectSizes(std::move(bytes)); }
  void SetCancelFlag(std::shared_ptr<std::atomic<bool>> c) override { core_.SetCancelFlag(std::move(c)); }

 private:
  BridgeCore core_;
  std::unique_ptr<nvinfer1::IInt8Calibrator> calibrator_;
};

TN_ALLOW_DEPRECATED_END

}  // namespace

std::unique_ptr<CalibratorBridge> CreateCalibratorBridge(Napi::Env env, Napi::Object adapter, int device) {
  return std::unique_ptr<CalibratorBridge>(new Bridge(env, adapter, device));
}

#endif  // TN_HAS_IMPLICIT_INT8

}  // namespace tn::trt

#endif  // TN_HAVE_TENSORRT
