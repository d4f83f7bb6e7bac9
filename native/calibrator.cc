// Implicit-INT8 calibration bridge (TensorRT 10; IInt8Calibrator does not exist in 11).
//
// TensorRT calls getBatch / readCalibrationCache / writeCalibrationCache on the build's thread. Each call is
// forwarded to the JS adapter (lib/config.ts) through a ThreadSafeFunction; the JS side answers with a Promise,
// whose settlement fulfils a std::promise the build thread waits on. Batches are copied into buffers owned by the
// bridge, on the bridge's device (selected on the build thread; freed there too).
//
// Failures (defect #1): a throw or rejection of getBatch / readCache / writeCache, a batch of the wrong size (a
// short last batch included: refused, never padded or truncated), a failed copy. TensorRT reads getBatch's
// `false` as "no more batches" and would go on to build an engine from partial calibration, so the bridge records
// the first failure, raises the build's stop flag (its progress monitor then stops the build) and the build
// rejects CALIBRATION_ERROR with that message and, as `cause`, the JS value thrown (DecorateError).
// Teardown (defect #3): when a call into JS fails because JS can no longer run, or a Promise will never settle
// because the environment is going away (found by a probe queued while waiting), the build is cancelled.
#include "build_classes.h"

#if TN_HAVE_TENSORRT
#include "compat.h"
#include "errors.h"

#if TN_HAS_IMPLICIT_INT8
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#endif

namespace tn::trt {

namespace {
napi_value Noop(napi_env, napi_callback_info) { return nullptr; }
}  // namespace

// (build_classes.h) When the environment is being torn down, Node answers every call into JS with a pending
// exception (napi_cannot_run_js with Node-API 10+), before and after the call: a no-op call tells it apart from a
// JS function that threw.
bool JsCanRun(napi_env env) {
  if (env == nullptr) return false;
  napi_value fn = nullptr, global = nullptr, result = nullptr;
  if (napi_create_function(env, "tensorrt-node:probe", NAPI_AUTO_LENGTH, Noop, nullptr, &fn) != napi_ok) return false;
  if (napi_get_global(env, &global) != napi_ok) return false;
  if (napi_call_function(env, global, fn, 0, nullptr, &result) == napi_ok) return true;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value ignored = nullptr;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  return false;
}


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
  bool ok = false;         // false: the call failed (error says why)
  bool cancelled = false;  // the build was cancelled (or JS can no longer run) while waiting: not a failure
  bool isNull = true;      // getBatch: end of data; readCache: no cache
  std::string error;
  std::map<std::string, std::vector<uint8_t>> tensors;  // getBatch
  std::vector<uint8_t> bytes;                            // readCache
};

enum class Op { kGetBatch, kReadCache, kWriteCache };

struct Request {
  uint64_t id = 0;
  Op op;
  std::vector<std::string> names;                  // getBatch
  std::vector<std::vector<int64_t>> shapes;        // getBatch: what TensorRT reads, per name (empty: unknown)
  std::vector<uint8_t> bytes;                      // writeCache
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
  void Cancel(const std::string& why) {
    Answer a;
    a.ok = false;
    a.cancelled = true;
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

const char kJsGone[] = "the JavaScript environment is shutting down (the build is cancelled)";

// State shared by the bridge (JS and build threads), the ThreadSafeFunction (its context, for its finalizer), each
// queued call and the JS callbacks of a Promise the adapter returned. Each holds a shared_ptr, so it lives as long
// as the last of them: a call still queued (or a Promise settling) after the bridge is gone finds it alive (defect
// #4: the context used to be a member of the bridge). Its napi references are only touched, and it is only
// destroyed, on the JS thread (the bridge is destroyed there; the finalizer, the deliveries and the callbacks run
// there; a call the queue refuses is dropped on the build thread while the bridge still holds its own reference).
struct Shared {
  Napi::Reference<Napi::Object> adapter;
  // JS values the calls failed with, by request id (only failures; read by DecorateError). Each value is kept in a
  // holder object ({ value }) so that primitives thrown (`throw 'x'`) can be referenced too.
  std::map<uint64_t, Napi::Reference<Napi::Object>> failures;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  // Whether the ThreadSafeFunction still exists. At environment teardown Node finalizes (and frees) it even while
  // the build thread runs; calls into it then would touch freed memory, so every call and the release happen under
  // this mutex, and the finalizer clears `tsfnAlive` (and cancels the build) under it.
  std::mutex tsfnMutex;
  bool tsfnAlive = true;

  void KeepFailure(Napi::Env env, uint64_t id, Napi::Value v) {
    try {
      Napi::Object holder = Napi::Object::New(env);
      holder.Set("value", v);
      failures[id] = Napi::Persistent(holder);
    } catch (...) {
      // cannot keep it: the error then has no cause, only the message
    }
  }
};

// Where batches are copied to: device memory on the bridge's device (release), or host memory (contract tests).
class BatchMemory {
 public:
  virtual ~BatchMemory() = default;
  // Each returns "" or what failed.
  virtual std::string Select(int device) = 0;
  virtual std::string Alloc(void** p, size_t n) = 0;
  virtual std::string CopyIn(void* dst, const void* src, size_t n) = 0;
  virtual void Free(void* p) = 0;
  // The calling thread's current device, -1 when unknown.
  virtual int Current() = 0;
};

class CudaMemory final : public BatchMemory {
 public:
  std::string Select(int device) override {
    cudaError_t e = cudaSetDevice(device);
    return e == cudaSuccess ? "" : std::string("cudaSetDevice(") + std::to_string(device) + ") failed: " + cudaGetErrorString(e);
  }
  std::string Alloc(void** p, size_t n) override {
    cudaError_t e = cudaMalloc(p, n);
    return e == cudaSuccess ? "" : std::string("cudaMalloc(") + std::to_string(n) + ") failed: " + cudaGetErrorString(e);
  }
  std::string CopyIn(void* dst, const void* src, size_t n) override {
    cudaError_t e = cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? "" : std::string("cudaMemcpy failed: ") + cudaGetErrorString(e);
  }
  void Free(void* p) override { cudaFree(p); }
  int Current() override {
    int d = -1;
    return cudaGetDevice(&d) == cudaSuccess ? d : -1;
  }
};

#if TN_CONTRACT_TESTS
// TEST DOUBLE (contract-test addon only): host memory, and a log of what happened where.
class HostMemory final : public BatchMemory {
 public:
  explicit HostMemory(std::shared_ptr<ContractMemoryLog> log) : log_(std::move(log)) {}
  std::string Select(int device) override {
    ++log_->selects;
    log_->lastDevice = device;
    t_device = device;
    std::lock_guard<std::mutex> lock(m_);
    selectThread_ = std::this_thread::get_id();
    return "";
  }
  std::string Alloc(void** p, size_t n) override {
    if (t_device < 0) log_->wrongDevice = true;
    *p = std::malloc(n);
    if (!*p) return "malloc failed";
    ++log_->allocs;
    return "";
  }
  std::string CopyIn(void* dst, const void* src, size_t n) override {
    std::memcpy(dst, src, n);
    return "";
  }
  void Free(void* p) override {
    if (t_device != log_->lastDevice.load()) log_->wrongDevice = true;
    {
      std::lock_guard<std::mutex> lock(m_);
      if (std::this_thread::get_id() != selectThread_) ++log_->freesOffBuilderThread;
    }
    std::free(p);
    ++log_->frees;
  }
  int Current() override { return t_device; }

 private:
  static thread_local int t_device;
  std::shared_ptr<ContractMemoryLog> log_;
  std::mutex m_;
  std::thread::id selectThread_;
};
thread_local int HostMemory::t_device = -1;
#endif

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

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

class BridgeCore {
 public:
  BridgeCore(Napi::Env env, Napi::Object adapter, int device) : device_(device), memory_(new CudaMemory()) {
    batchSize_ = adapter.Get("batchSize").ToNumber().Int32Value();
    Napi::Value q = adapter.Get("quantile");
    quantile_ = q.IsNumber() ? q.As<Napi::Number>().DoubleValue() : 0.9999;
    Napi::Value rc = adapter.Get("regressionCutoff");
    regressionCutoff_ = rc.IsNumber() ? rc.As<Napi::Number>().DoubleValue() : 1.0;
    std::string algo = adapter.Get("algorithm").ToString().Utf8Value();
    algorithm_ = algo;
    shared_ = std::make_shared<Shared>();
    shared_->adapter = Napi::Persistent(adapter);
    auto* context = new std::shared_ptr<Shared>(shared_);
    tsfn_ = Tsfn::New(env, "tensorrt-node:calibrator", 0, 1, context, [](Napi::Env, void*, std::shared_ptr<Shared>* c) {
      {
        std::lock_guard<std::mutex> lock((*c)->tsfnMutex);
        (*c)->tsfnAlive = false;
      }
      (*c)->cancelled->store(true);  // nothing will answer any more
      delete c;
    });
    stop_ = std::make_shared<std::atomic<bool>>(false);
  }

  // JS thread.
  ~BridgeCore() {
    {
      // calls still queued are delivered (or dropped) later: they only touch `Shared`
      std::lock_guard<std::mutex> lock(shared_->tsfnMutex);
      if (shared_->tsfnAlive) tsfn_.Release();
    }
    if (!buffers_.empty()) {
      // Not freed on the build thread (the build never ran): free them on the bridge's device, then give the
      // JS thread its device back.
      int prev = memory_->Current();
      memory_->Select(device_);
      for (auto& b : buffers_) memory_->Free(b.second.ptr);
      buffers_.clear();
      if (prev >= 0 && prev != device_) memory_->Select(prev);
    }
  }

  const std::string& algorithm() const { return algorithm_; }
  int32_t batchSize() const { return batchSize_; }
  double quantile() const { return quantile_; }
  double regressionCutoff() const { return regressionCutoff_; }

  std::string Error() const {
    std::lock_guard<std::mutex> lock(m_);
    return error_;
  }

  void ExpectInputs(std::map<std::string, CalibrationInput> inputs) { expected_ = std::move(inputs); }

  void SetFlags(std::shared_ptr<std::atomic<bool>> cancelled, std::shared_ptr<std::atomic<bool>> stop) {
    if (cancelled) shared_->cancelled = std::move(cancelled);  // before the build starts: no race
    if (stop) stop_ = std::move(stop);
  }

#if TN_CONTRACT_TESTS
  void UseHostMemory(std::shared_ptr<ContractMemoryLog> log) { memory_.reset(new HostMemory(std::move(log))); }
#endif

  // Build thread.
  void ReleaseBuffers() {
    if (buffers_.empty()) return;
    memory_->Select(device_);
    for (auto& b : buffers_) memory_->Free(b.second.ptr);
    buffers_.clear();
  }

  // JS thread.
  void DecorateError(Napi::Env env, Napi::Object error) {
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(m_);
      id = errorRequest_;
    }
    auto it = id ? shared_->failures.find(id) : shared_->failures.end();
    if (it == shared_->failures.end()) return;
    Napi::HandleScope scope(env);
    error.Set("cause", it->second.Value().Get("value"));
  }

  // Build thread.
  bool GetBatch(void* bindings[], char const* names[], int32_t nbBindings) {
    if (!Error().empty() || shared_->cancelled->load()) return false;
    auto req = NewRequest(Op::kGetBatch);
    for (int32_t i = 0; i < nbBindings; ++i) {
      req->names.emplace_back(names[i] ? names[i] : "");
      auto it = expected_.find(req->names.back());
      req->shapes.push_back(it == expected_.end() ? std::vector<int64_t>() : it->second.shape);
    }
    Answer a = Call(req);
    if (a.cancelled) return false;  // the build reports the cancellation
    if (!a.ok) return Failed(req->id, std::string("calibrator getBatch failed: ") + a.error);
    if (a.isNull) return false;  // end of the calibration data
    ++batches_;
    std::string e = memory_->Select(device_);
    if (!e.empty()) return Failed(0, "calibrator: " + e);
    for (int32_t i = 0; i < nbBindings; ++i) {
      const std::string& name = req->names[static_cast<size_t>(i)];
      const std::vector<uint8_t>& host = a.tensors[name];
      if (host.empty()) return Failed(0, "calibrator getBatch: batch " + std::to_string(batches_) + " for input '" + name + "' is empty");
      auto expected = expected_.find(name);
      if (expected != expected_.end() && expected->second.bytes != host.size()) {
        // A short last batch lands here too: TensorRT reads exactly batchSize samples per batch, so a smaller one
        // would be read out of bounds and a larger one silently truncated. Refused (docs/native-contracts.md).
        return Failed(0, "calibrator getBatch: batch " + std::to_string(batches_) + " for input '" + name + "' has " +
                             std::to_string(host.size()) + " bytes; TensorRT reads " +
                             std::to_string(expected->second.bytes) + " (shape " + ShapeText(expected->second.shape) +
                             ": the input's shape, runtime dimensions from the calibration profile's opt shape). "
                             "Every batch must be complete: drop or pad a short last batch");
      }
      Block& blk = buffers_[name];
      if (blk.size < host.size()) {
        if (blk.ptr) memory_->Free(blk.ptr);
        blk.ptr = nullptr;
        blk.size = 0;
        e = memory_->Alloc(&blk.ptr, host.size());
        if (!e.empty()) return Failed(0, "calibrator: allocating " + std::to_string(host.size()) + " bytes for input '" + name + "' failed: " + e);
        blk.size = host.size();
      }
      e = memory_->CopyIn(blk.ptr, host.data(), host.size());
      if (!e.empty()) return Failed(0, "calibrator: copying the batch of '" + name + "' to the device failed: " + e);
      bindings[i] = blk.ptr;
    }
    return true;
  }

  const void* ReadCache(std::size_t& length) {
    length = 0;
    if (!Error().empty() || shared_->cancelled->load()) return nullptr;
    auto req = NewRequest(Op::kReadCache);
    Answer a = Call(req);
    if (a.cancelled) return nullptr;
    if (!a.ok) {
      Failed(req->id, std::string("calibrator readCache failed: ") + a.error);
      return nullptr;
    }
    if (a.isNull || a.bytes.empty()) return nullptr;
    cache_ = std::move(a.bytes);
    length = cache_.size();
    return cache_.data();
  }

  void WriteCache(const void* ptr, std::size_t length) {
    if (shared_->cancelled->load()) return;
    auto req = NewRequest(Op::kWriteCache);
    const uint8_t* p = static_cast<const uint8_t*>(ptr);
    if (p && length) req->bytes.assign(p, p + length);
    Answer a = Call(req);
    if (!a.cancelled && !a.ok) Failed(req->id, std::string("calibrator writeCache failed: ") + a.error);
  }

 private:
  struct Block {
    void* ptr = nullptr;
    size_t size = 0;
  };

  // One queued call (req) or a liveness probe (req null). Each holds `Shared` itself: at environment teardown Node
  // runs the ThreadSafeFunction's finalizer (which deletes its context) BEFORE it hands the calls still queued to
  // Deliver (env null) with that same, by then freed, context pointer; so Deliver never reads the context.
  struct Pending {
    std::shared_ptr<Shared> shared;
    std::shared_ptr<Request> req;
    std::shared_ptr<std::atomic<bool>> probeInFlight;
  };

  std::shared_ptr<Request> NewRequest(Op op) {
    auto r = std::make_shared<Request>();
    r->op = op;
    r->id = ++nextId_;
    return r;
  }

  // JS thread (or env null: the queue is being dropped at teardown).
  static void Deliver(Napi::Env env, Napi::Function, std::shared_ptr<Shared>* /* context: see Pending */,
                      Pending* pending) {
    std::shared_ptr<Shared> shared = std::move(pending->shared);
    std::shared_ptr<Request> req = std::move(pending->req);
    std::shared_ptr<std::atomic<bool>> probe = std::move(pending->probeInFlight);
    delete pending;
    if (!req) {  // liveness probe
      if (shared && !JsCanRun(env)) shared->cancelled->store(true);
      if (probe) probe->store(false);
      return;
    }
    if (env == nullptr || !shared) {
      if (shared) shared->cancelled->store(true);
      req->Cancel(kJsGone);
      return;
    }
    if (req->settled.load()) return;  // abandoned while queued (cancelled build): do not call the calibrator
    try {
      Napi::HandleScope scope(env);
      Napi::Object obj = shared->adapter.Value();
      Napi::Value fnv = obj.Get(OpName(req->op));
      if (!fnv.IsFunction()) return req->Fail(std::string("the calibrator has no ") + OpName(req->op) + "()");
      std::vector<napi_value> args;
      if (req->op == Op::kGetBatch) {
        Napi::Array names = Napi::Array::New(env, req->names.size());
        Napi::Object shapes = Napi::Object::New(env);
        for (size_t i = 0; i < req->names.size(); ++i) {
          names.Set(static_cast<uint32_t>(i), req->names[i]);
          if (req->shapes[i].empty()) continue;
          Napi::Array s = Napi::Array::New(env, req->shapes[i].size());
          for (size_t k = 0; k < req->shapes[i].size(); ++k) {
            s.Set(static_cast<uint32_t>(k), Napi::Number::New(env, static_cast<double>(req->shapes[i][k])));
          }
          shapes.Set(req->names[i], s);
        }
        args.push_back(names);
        args.push_back(shapes);
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
        auto onErr = Napi::Function::New(env, [req, shared](const Napi::CallbackInfo& ci) -> Napi::Value {
          shared->KeepFailure(ci.Env(), req->id, ci[0]);
          req->Fail(ErrorText(ci[0]));
          return ci.Env().Undefined();
        });
        result.As<Napi::Object>().Get("then").As<Napi::Function>().Call(result, {onOk, onErr});
      } else {
        Resolve(req, result);
      }
    } catch (const Napi::Error& e) {
      if (!JsCanRun(env)) {
        shared->cancelled->store(true);
        req->Cancel(kJsGone);
        return;
      }
      shared->KeepFailure(env, req->id, e.Value());
      req->Fail(e.Message());
    } catch (const std::exception& e) {
      req->Fail(e.what());
    }
  }

  using Tsfn = Napi::TypedThreadSafeFunction<std::shared_ptr<Shared>, Pending, &BridgeCore::Deliver>;

  // Build thread: queues the call and waits for its answer. Never waits forever: a cancelled build stops waiting,
  // and while waiting a probe is queued every 100 ms, which finds out when JS can no longer run (a Promise that
  // will never settle because its environment is being torn down) and cancels the build (defect #3).
  Answer Call(const std::shared_ptr<Request>& req) {
    std::future<Answer> f = req->promise.get_future();
    auto* pending = new Pending{shared_, req, nullptr};
    if (!Post(pending)) {
      shared_->cancelled->store(true);
      req->Cancel(kJsGone);
    }
    auto probe = std::make_shared<std::atomic<bool>>(false);
    int ticks = 0;
    while (f.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
      if (shared_->cancelled->load()) {
        req->Cancel("the build was cancelled while the calibrator's answer was pending");
        break;
      }
      if (++ticks % 5 == 0 && !probe->exchange(true)) {
        if (!Post(new Pending{shared_, nullptr, probe})) shared_->cancelled->store(true);
      }
    }
    return f.get();
  }

  // Queues `p` (taking it); false (p deleted) when the queue is closing or gone: JS will not answer.
  bool Post(Pending* p) {
    std::lock_guard<std::mutex> lock(shared_->tsfnMutex);
    if (shared_->tsfnAlive && tsfn_.NonBlockingCall(p) == napi_ok) return true;
    delete p;
    return false;
  }

  bool Failed(uint64_t requestId, const std::string& e) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (error_.empty()) {
        error_ = e;
        errorRequest_ = requestId;
      }
    }
    stop_->store(true);
    return false;
  }

  int device_;
  std::unique_ptr<BatchMemory> memory_;
  std::shared_ptr<Shared> shared_;
  Tsfn tsfn_;
  std::shared_ptr<std::atomic<bool>> stop_;
  std::string algorithm_;
  int32_t batchSize_ = 1;
  double quantile_ = 0.9999, regressionCutoff_ = 1.0;
  mutable std::mutex m_;
  std::string error_;
  uint64_t errorRequest_ = 0;
  uint64_t nextId_ = 0;  // build thread only
  int batches_ = 0;      // build thread only
  std::map<std::string, Block> buffers_;  // build thread (and the destructor, once the build is over)
  std::map<std::string, CalibrationInput> expected_;
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
  void ExpectInputs(std::map<std::string, CalibrationInput> inputs) override { core_.ExpectInputs(std::move(inputs)); }
  void SetFlags(std::shared_ptr<std::atomic<bool>> cancelled, std::shared_ptr<std::atomic<bool>> stop) override {
    core_.SetFlags(std::move(cancelled), std::move(stop));
  }
  void ReleaseBuffers() override { core_.ReleaseBuffers(); }
  void DecorateError(Napi::Env env, Napi::Object error) override { core_.DecorateError(env, error); }
#if TN_CONTRACT_TESTS
  nvinfer1::IInt8Calibrator* CalibratorForContractTests() override { return calibrator_.get(); }
  void UseHostMemoryForContractTests(std::shared_ptr<ContractMemoryLog> log) override {
    core_.UseHostMemory(std::move(log));
  }
#endif

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
