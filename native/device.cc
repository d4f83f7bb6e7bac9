// Devices: the CUDA probe, device queries and selection, and the CUDA module's initialisation (InitCuda).
#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <string>

#include "cuda_internal.h"
#include "modules.h"
#include "per_env.h"

namespace tn::cuda {

Constructors* Ctors(Napi::Env env) { return PerEnvTable<Constructors>().Find(env); }

bool InstanceOf(Napi::Value v, Napi::FunctionReference& ctor) {
  if (!v.IsObject() || ctor.IsEmpty()) return false;
  return v.As<Napi::Object>().InstanceOf(ctor.Value());
}

void ThrowInvalid(Napi::Env env, const std::string& msg) { Throw(env, "INVALID_ARGUMENT", msg); }

void ThrowDisposed(Napi::Env env, const char* what) {
  Throw(env, "DISPOSED", std::string(what) + " has been disposed");
}

// A non-negative integer that fits size_t (doubles above 2^53 are refused).
size_t SizeArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* name, bool optional, size_t def) {
  Napi::Value v = info[i];
  if (optional && (v.IsUndefined() || v.IsNull())) return def;
  double d;
  if (v.IsNumber()) {
    d = v.As<Napi::Number>().DoubleValue();
  } else if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowInvalid(env, std::string(name) + " is out of range");
    return static_cast<size_t>(u);
  } else {
    ThrowInvalid(env, std::string(name) + " must be a non-negative integer");
  }
  if (!(d >= 0) || d != static_cast<double>(static_cast<uint64_t>(d)) || d > 9007199254740991.0) {
    ThrowInvalid(env, std::string(name) + " must be a non-negative integer");
  }
  return static_cast<size_t>(d);
}

int IntArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) ThrowInvalid(env, std::string(name) + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int>(d))) ThrowInvalid(env, std::string(name) + " must be an integer");
  return static_cast<int>(d);
}

Napi::BigInt PtrToBigInt(Napi::Env env, const void* p) {
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

namespace {

// Cached result of the first CUDA probe.
std::once_flag g_probeOnce;
cudaError_t g_probeError = cudaSuccess;

}  // namespace

void EnsureCuda() {
  std::call_once(g_probeOnce, [] {
    int n = 0;
    g_probeError = cudaGetDeviceCount(&n);
    if (g_probeError == cudaSuccess && n == 0) g_probeError = cudaErrorNoDevice;
  });
  if (g_probeError != cudaSuccess) ThrowCuda(g_probeError, "CUDA is not available");
}

namespace {

// cudaDeviceSynchronize on a work thread of the addon (a device-wide barrier: rare).
class DeviceSyncWorker : public PromiseWorker {
 public:
  DeviceSyncWorker(Napi::Env env, int device) : PromiseWorker(env) { UseDevice(device); }

 protected:
  void Run() override {
    TN_CUDA_CHECK(cudaSetDevice(device));
    TN_CUDA_CHECK(cudaDeviceSynchronize());
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Module functions

namespace {

int DeviceArg(Napi::Env env, Napi::Value v) {
  int d = IntArg(env, v, "device");
  if (d < 0) ThrowInvalid(env, "device must be >= 0");
  return d;
}

Napi::Value GetDeviceCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    int n = 0;
    TN_CUDA_CHECK(cudaGetDeviceCount(&n));
    return Napi::Number::New(env, n);
  });
}

std::string UuidString(const cudaUUID_t& u) {
  static const char* hex = "0123456789abcdef";
  std::string s = "GPU-";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    auto b = static_cast<unsigned char>(u.bytes[i]);
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

}  // namespace

Napi::Object DevicePropertiesObject(Napi::Env env, int device) {
  cudaDeviceProp p;
  std::memset(&p, 0, sizeof p);
  TN_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
  auto boolean = [&](const char* k, int v) { o.Set(k, Napi::Boolean::New(env, v != 0)); };
  o.Set("index", Napi::Number::New(env, device));
  o.Set("name", Napi::String::New(env, p.name));
  o.Set("uuid", Napi::String::New(env, UuidString(p.uuid)));
  o.Set("computeCapability", Napi::String::New(env, std::to_string(p.major) + "." + std::to_string(p.minor)));
  num("major", p.major);
  num("minor", p.minor);
  num("totalMemory", static_cast<double>(p.totalGlobalMem));
  num("multiProcessorCount", p.multiProcessorCount);
  num("maxThreadsPerBlock", p.maxThreadsPerBlock);
  num("maxThreadsPerMultiProcessor", p.maxThreadsPerMultiProcessor);
  num("warpSize", p.warpSize);
  num("sharedMemPerBlock", static_cast<double>(p.sharedMemPerBlock));
  num("sharedMemPerMultiprocessor", static_cast<double>(p.sharedMemPerMultiprocessor));
  num("totalConstMem", static_cast<double>(p.totalConstMem));
  num("l2CacheSize", p.l2CacheSize);
  num("memoryBusWidth", p.memoryBusWidth);
  num("asyncEngineCount", p.asyncEngineCount);
  num("pciBusId", p.pciBusID);
  num("pciDeviceId", p.pciDeviceID);
  num("pciDomainId", p.pciDomainID);
  boolean("integrated", p.integrated);
  boolean("concurrentKernels", p.concurrentKernels);
  boolean("eccEnabled", p.ECCEnabled);
  boolean("unifiedAddressing", p.unifiedAddressing);
  boolean("managedMemory", p.managedMemory);
  boolean("streamPrioritiesSupported", p.streamPrioritiesSupported);
  return o;
}

namespace {

Napi::Value GetDeviceProperties(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int d = DeviceArg(env, info[0]);
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    return DevicePropertiesObject(env, d);
  });
}

Napi::Value MemGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    size_t freeB = 0, totalB = 0;  // of the current device
    TN_CUDA_CHECK(cudaMemGetInfo(&freeB, &totalB));
    Napi::Object o = Napi::Object::New(env);
    o.Set("free", Napi::Number::New(env, static_cast<double>(freeB)));
    o.Set("total", Napi::Number::New(env, static_cast<double>(totalB)));
    return o;
  });
}

Napi::Value SetDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int d = DeviceArg(env, info[0]);
  Guard(env, [&] {
    EnsureCuda();
    TN_CUDA_CHECK(cudaSetDevice(d));
  });
  return env.Undefined();
}

Napi::Value GetDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    int d = 0;
    TN_CUDA_CHECK(cudaGetDevice(&d));
    return Napi::Number::New(env, d);
  });
}

Napi::Value DeviceSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    EnsureCuda();
    int d = 0;
    TN_CUDA_CHECK(cudaGetDevice(&d));
    auto* w = new DeviceSyncWorker(env, d);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  });
}

Napi::Value EventElapsedTime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Event* a = Event::Unwrap(info[0]);
  Event* b = Event::Unwrap(info[1]);
  if (!a || !b) ThrowInvalid(env, "start and end must be Events");
  a->CheckAlive(env);
  b->CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    float ms = 0;
    DeviceGuard guard(a->device());
    TN_CUDA_CHECK(cudaEventElapsedTime(&ms, a->handle(), b->handle()));
    return Napi::Number::New(env, ms);
  });
}

}  // namespace

// The addon keeps process-wide threads (the completion and work threads, CopyPool) and CUDA host functions whose code lives in this
// library; node dlclose()s an addon with the last env (worker thread) that loaded it, so pin it in memory.
static void PinAddon() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinAddon), &info) != 0 && info.dli_fname != nullptr) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // the extra reference is never dropped
    }
  });
}
}  // namespace tn::cuda

namespace tn {

void InitCuda(Napi::Env env, Napi::Object exports) {
  using namespace tn::cuda;
  PinAddon();
  InitCompletion(env);
  auto* c = new Constructors();
  PerEnvTable<Constructors>().Set(env, c);
  Napi::Function db = DeviceBuffer::Init(env);
  Napi::Function hb = HostBuffer::Init(env);
  Napi::Function st = Stream::Init(env);
  Napi::Function ev = Event::Init(env);
  c->deviceBuffer = Napi::Persistent(db);
  c->hostBuffer = Napi::Persistent(hb);
  c->stream = Napi::Persistent(st);
  c->event = Napi::Persistent(ev);
  exports.Set("DeviceBuffer", db);
  exports.Set("HostBuffer", hb);
  exports.Set("Stream", st);
  exports.Set("Event", ev);
  exports.Set("getDeviceCount", Napi::Function::New<GetDeviceCount>(env, "getDeviceCount"));
  exports.Set("getDeviceProperties", Napi::Function::New<GetDeviceProperties>(env, "getDeviceProperties"));
  exports.Set("memGetInfo", Napi::Function::New<MemGetInfo>(env, "memGetInfo"));
  exports.Set("setDevice", Napi::Function::New<SetDevice>(env, "setDevice"));
  exports.Set("getDevice", Napi::Function::New<GetDevice>(env, "getDevice"));
  exports.Set("deviceSynchronize", Napi::Function::New<DeviceSynchronize>(env, "deviceSynchronize"));
  exports.Set("eventElapsedTime", Napi::Function::New<EventElapsedTime>(env, "eventElapsedTime"));
}

}  // namespace tn
