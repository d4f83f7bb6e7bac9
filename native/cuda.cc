// CUDA surface: see cuda.h.
#include "cuda.h"

#include <dlfcn.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <uv.h>

#include "errors.h"
#include "per_env.h"
#include "modules.h"

namespace tn::cuda {

// cudaEvent_t shared between an Event object and workers waiting on it.
struct EventHandle {
  cudaEvent_t ev = nullptr;
  ~EventHandle() {
    if (ev) cudaEventDestroy(ev);
  }
};

namespace {

// ---------------------------------------------------------------------------------------------------------
// Per-env constructors (the addon may be loaded in several worker_threads).
struct Port;

struct Constructors {
  Napi::FunctionReference deviceBuffer, hostBuffer, stream, event;
  std::shared_ptr<Port> port;  // delivery of finished asynchronous work to this env
};

Constructors* Ctors(Napi::Env env) { return PerEnvTable<Constructors>().Find(env); }

void RegisterCtors(Napi::Env env, Constructors* c) { PerEnvTable<Constructors>().Set(env, c); }

bool InstanceOf(Napi::Value v, Napi::FunctionReference& ctor) {
  if (!v.IsObject() || ctor.IsEmpty()) return false;
  return v.As<Napi::Object>().InstanceOf(ctor.Value());
}

[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string& msg) { Throw(env, "INVALID_ARGUMENT", msg); }

[[noreturn]] void ThrowDisposed(Napi::Env env, const char* what) {
  Throw(env, "DISPOSED", std::string(what) + " has been disposed");
}

// A non-negative integer that fits size_t (doubles above 2^53 are refused).
size_t SizeArg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const char* name, bool optional = false,
               size_t def = 0) {
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

// ---------------------------------------------------------------------------------------------------------
// Registry of live pinned allocations (so that TypedArray views of a HostBuffer take the pinned path).
std::mutex g_pinnedMutex;
std::map<uintptr_t, std::weak_ptr<Pinned>>& PinnedRegistry() {
  static auto* m = new std::map<uintptr_t, std::weak_ptr<Pinned>>();
  return *m;
}

// ---------------------------------------------------------------------------------------------------------
// Asynchronous completion.
//
// Every asynchronous call (copies, fill, Stream/Event.synchronize) enqueues its work on a CUDA stream, records a
// pooled event after it and hands a Completion to one process-wide poller thread. The poller watches the head
// of each stream's FIFO with cudaEventQuery (busy for 200 us after activity, yielding up to 10 ms, then every
// 50 us, asleep once nothing is in flight) and queues finished items on their env's Port, whose uv_async
// callback settles them on the JS thread (pageable D2H tail copy, releases, Promise) in small batches, each
// followed by the promise continuations it resumed, for about 0.5 ms per loop iteration all told, so timers and
// I/O keep their turn under load. Nothing blocks the JS thread or a libuv pool thread while the GPU works.
// TN_CUDA_COMPLETION=worker switches to waiting in cudaEventSynchronize on a libuv pool thread (kept for
// comparison: scripts/bench/roundtrip.js measures both).
//
// Pageable host memory: host->device up to kDriverPageableH2D bytes goes through CUDA's own pageable path
// (cudaMemcpyAsync stages the bytes before returning, without waiting for the stream; ~20 us on the JS thread
// at most); host->device up to kStagedH2D bytes is copied (parallel memcpy) into a pinned staging block on the
// calling thread, like CUDA's own path but faster, then moved by an asynchronous DMA (the poller returns the
// block as soon as the DMA is done); in both cases the source is read during the call, as cudaMemcpyAsync
// from pageable memory does. Device->host up to kSmallPageable bytes goes through a pinned staging block
// emptied on the JS thread once the copy has finished. Larger copies (and smaller ones when kMaxCachedStaging of
// staging, or every staged host->device block, is in use) are cut into kChunk pieces that cycle through kSlots pinned slots; the host side of each
// piece (a parallel memcpy to or from the slot: CopyPool) runs as a host function on a per-device side stream,
// ordered against the DMA on the caller's stream with events, so host copies overlap DMAs, the caller's stream
// order is kept (the stream also waits for the last host copy of a device->host copy), and neither the JS
// thread nor the pool blocks.

struct Port;

struct Staging {
  void* ptr = nullptr;
  size_t cap = 0;
};

struct Completion {
  std::shared_ptr<Port> port;
  napi_deferred deferred = nullptr;
  napi_ref keep = nullptr;  // the JS object owning host memory used by the copy
  cudaStream_t stream = nullptr;
  bool streamOrdered = true;  // false: Event.synchronize (no FIFO ordering with other items)
  int device = 0;
  cudaEvent_t ev = nullptr;  // pooled (returned after completion)
  std::shared_ptr<EventHandle> shared;
  Staging staging;
  void* stagedH2D = nullptr;  // a staged host->device block: the poller returns it as soon as the DMA is done
  void* d2hDst = nullptr;
  size_t d2hLen = 0;
  std::shared_ptr<Pinned> pinned;
  const char* what = "asynchronous CUDA work";
  cudaError_t status = cudaSuccess;
  cudaEvent_t Event() const { return shared ? shared->ev : ev; }
};

// Per-env delivery of finished Completions to the JS thread.
// Finished items wait in `ready` until the env's loop runs the uv_async callback, which settles them (and runs
// the JavaScript they resume) for about kDeliveryBudgetNs at a time, then yields to timers and I/O and continues on
// the next loop iteration.
struct Port {
  std::mutex m;
  bool closed = false;            // env torn down: drop items without touching JS
  std::deque<Completion*> ready;  // guarded by m
  uv_async_t* async = nullptr;    // guarded by m once created (uv_async_send from the poller)
  napi_env env = nullptr;
  napi_async_context asyncContext = nullptr;
  napi_ref deliver = nullptr;  // JS function wrapping Deliver (entered through napi_make_callback)
  size_t pending = 0;  // JS thread only: items not yet finished (the async handle is ref'd while > 0)
  // JS thread only: how many items one Deliver call settles (adapted so that a batch, the promise
  // continuations it triggers included, takes about kBatchTarget), and the current call's limit
  double costPerItemUs = 10.0;
  unsigned batchLimit = 8;
  // JS thread only: delivery statistics for the benchmarks (deliveryStats()): batches, the longest batch (its
  // settling in Deliver and the continuations after it), and the batches longer than 1 ms, as uv_hrtime spans.
  struct LongBatch {
    uint64_t startNs, endNs, settleNs;
    unsigned items;
  };
  uint64_t batches = 0, maxBatchNs = 0, maxSettleNs = 0;
  std::vector<LongBatch> longBatches;  // at most kMaxLongBatches kept
  uint64_t settleNs = 0;               // set by Deliver for the batch in progress
};
constexpr size_t kMaxLongBatches = 1024;
// Per loop iteration, the settling of finished items AND the JavaScript their promises resume (the microtasks
// run at the end of each napi_make_callback) stop after about kDeliveryBudgetNs; the rest waits for the next loop
// iteration, after timers and I/O.
constexpr uint64_t kDeliveryBudgetNs = 500000;  // 0.5 ms
constexpr double kBatchTargetUs = 100.0;
constexpr unsigned kBatchMax = 64;

bool UseWorkerCompletion() {
  static const bool worker = [] {
    const char* v = std::getenv("TN_CUDA_COMPLETION");
    return v && std::string(v) == "worker";
  }();
  return worker;
}

// ---- pooled completion events, per device
std::mutex g_eventPoolMutex;
std::map<int, std::vector<cudaEvent_t>>& EventPool() {
  static auto* m = new std::map<int, std::vector<cudaEvent_t>>();
  return *m;
}

cudaEvent_t AcquireEvent(int device) {
  {
    std::lock_guard<std::mutex> lock(g_eventPoolMutex);
    auto& v = EventPool()[device];
    if (!v.empty()) {
      cudaEvent_t e = v.back();
      v.pop_back();
      return e;
    }
  }
  cudaEvent_t ev = nullptr;
  // blocking-sync only where a thread sleeps in cudaEventSynchronize (worker mode); the poller only queries
  unsigned flags = cudaEventDisableTiming | (UseWorkerCompletion() ? cudaEventBlockingSync : 0u);
  TN_CUDA_CHECK(cudaEventCreateWithFlags(&ev, flags));
  return ev;
}

void ReleaseEvent(int device, cudaEvent_t ev) {
  if (!ev) return;
  std::lock_guard<std::mutex> lock(g_eventPoolMutex);
  auto& v = EventPool()[device];
  if (v.size() < 4096) {
    v.push_back(ev);
    return;
  }
  cudaEventDestroy(ev);
}

// ---- small staging blocks for pageable copies up to kSmallPageable bytes
constexpr size_t kSmallPageable = size_t(256) << 10;     // device->host through one staging block
constexpr size_t kDriverPageableH2D = size_t(256) << 10;  // host->device through CUDA's own pageable path
constexpr size_t kStagedH2D = size_t(2) << 20;  // host->device up to this: memcpy to a staging block, then the DMA
constexpr size_t kMinStaging = size_t(4) << 10;
constexpr size_t kMaxCachedStaging = size_t(64) << 20;  // also the most staging memory in use at once
std::mutex g_stagingMutex;
std::multimap<size_t, void*>& StagingPool() {
  static auto* m = new std::multimap<size_t, void*>();
  return *m;
}
size_t g_stagingCached = 0;

size_t g_stagingInUse = 0;

// A staging block of at least n bytes, or an empty one when blocks in use would pass kMaxCachedStaging (the
// caller then takes the piecewise pipeline, whose memory is bounded).
Staging AcquireStaging(size_t n) {
  if (n == 0) return {};
  size_t cap = kMinStaging;
  while (cap < n) cap <<= 1;
  {
    std::lock_guard<std::mutex> lock(g_stagingMutex);
    if (g_stagingInUse + cap > kMaxCachedStaging) return {};
    g_stagingInUse += cap;
    auto it = StagingPool().find(cap);
    if (it != StagingPool().end()) {
      Staging s{it->second, cap};
      StagingPool().erase(it);
      g_stagingCached -= cap;
      return s;
    }
  }
  void* p = nullptr;
  cudaError_t e = cudaHostAlloc(&p, cap, cudaHostAllocPortable);
  if (e != cudaSuccess) {
    std::lock_guard<std::mutex> lock(g_stagingMutex);
    g_stagingInUse -= cap;
    ThrowCuda(e, "cudaHostAlloc (staging)");
  }
  return {p, cap};
}

void ReleaseStaging(Staging s) {
  if (!s.ptr) return;
  {
    std::lock_guard<std::mutex> lock(g_stagingMutex);
    g_stagingInUse -= s.cap;
    if (g_stagingCached + s.cap <= kMaxCachedStaging) {
      StagingPool().emplace(s.cap, s.ptr);
      g_stagingCached += s.cap;
      return;
    }
  }
  cudaFreeHost(s.ptr);
}

// ---- staged host->device blocks: kStagedBlocks blocks of kStagedH2D bytes (allocated on first use, kept, shared
// by all devices: portable), handed out in turn; when all are in flight the copy takes the piecewise pipeline.
// Separate from the staging pool above, whose mixed sizes would make these allocate and free a block per call.
constexpr int kStagedBlocks = 8;
std::mutex g_stagedMutex;
std::vector<void*>& StagedFree() {
  static auto* v = new std::vector<void*>();
  return *v;
}
int g_stagedAllocated = 0;

void* AcquireStagedH2D() {
  {
    std::lock_guard<std::mutex> lock(g_stagedMutex);
    if (!StagedFree().empty()) {
      void* p = StagedFree().back();
      StagedFree().pop_back();
      return p;
    }
    if (g_stagedAllocated >= kStagedBlocks) return nullptr;
    ++g_stagedAllocated;
  }
  void* p = nullptr;
  if (cudaHostAlloc(&p, kStagedH2D, cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();  // not sticky: the pipeline takes this copy
    std::lock_guard<std::mutex> lock(g_stagedMutex);
    --g_stagedAllocated;
    return nullptr;
  }
  return p;
}

void ReleaseStagedH2D(void* p) {
  std::lock_guard<std::mutex> lock(g_stagedMutex);
  StagedFree().push_back(p);
}

// ---- chunked pipeline for large pageable copies (one per device, created on first use, kept)
constexpr size_t kChunk = size_t(8) << 20;
constexpr int kSlots = 4;

struct HostCopy {
  void* dst;
  const void* src;
  size_t n;
};

// Parallel memcpy for the host side of large pageable copies: one memcpy thread reaches about a fifth of what
// the copy engine moves, so a piece is split over the calling thread and a few helpers (TN_COPY_THREADS, default
// min(2, cores / 4); 0 = plain memcpy). Callers are serialised; parts are claimed through a (generation, index)
// word so that a late helper never applies an index to the wrong copy.
class CopyPool {
 public:
  static CopyPool& Get() {
    static CopyPool* p = new CopyPool();  // never destroyed (helpers live as long as the process)
    return *p;
  }

  void Copy(void* dst, const void* src, size_t n) {
    if (helpers_ == 0 || n < kMinParallel) {
      std::memcpy(dst, src, n);
      return;
    }
    std::lock_guard<std::mutex> callers(callMutex_);
    CopyLocked(dst, src, n);
  }

  // For the JS thread: the parallel copy when the helpers are free, else a plain memcpy (never waits for
  // another caller's copy, e.g. a piece of a large pageable copy).
  void TryCopy(void* dst, const void* src, size_t n) {
    std::unique_lock<std::mutex> callers(callMutex_, std::try_to_lock);
    if (helpers_ == 0 || n < kMinParallel || !callers.owns_lock()) {
      std::memcpy(dst, src, n);
      return;
    }
    CopyLocked(dst, src, n);
  }

 private:
  static constexpr size_t kMinParallel = size_t(1) << 20;

  // Caller holds callMutex_.
  void CopyLocked(void* dst, const void* src, size_t n) {
    size_t parts = std::min<size_t>(helpers_ + 1, n / (size_t(256) << 10));
    size_t per = (n / parts + 4095) & ~size_t(4095);
    parts = (n + per - 1) / per;
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = {static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), n, per, parts};
      gen = ++gen_;
      remaining_.store(parts, std::memory_order_relaxed);
      claim_.store(gen << 32, std::memory_order_release);
    }
    // Announced to the watching helpers only once m_ is free again: a helper that saw the new generation while
    // this thread still held m_ would block on it, and a blocked thread needs a futex wake-up (tens of
    // microseconds or more in a VM) to resume, by which time the caller may have copied its part alone.
    genSeen_.store(gen, std::memory_order_release);
    cv_.notify_all();
    Work(job_, gen);
    while (remaining_.load(std::memory_order_acquire) != 0) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  struct Job {
    uint8_t* dst = nullptr;
    const uint8_t* src = nullptr;
    size_t n = 0, per = 0, parts = 0;
  };

  CopyPool() {
    unsigned hw = std::thread::hardware_concurrency();
    // Two helpers, not four: on the 16-vCPU GPU host (a shared VM) every extra helper spinning beside the copy
    // made 1-2 MiB copies slower and far less steady (a 1 MiB device->host piece: 4-9 GB/s from trial to trial
    // with four helpers, 9-10 GB/s with two; host->device 1 MiB: 3-6 points better with two), and the large
    // pageable copies stay well above CUDA's own pageable path with three threads.
    size_t def = std::min<size_t>(2, hw / 4);
    const char* v = std::getenv("TN_COPY_THREADS");
    helpers_ = v ? static_cast<size_t>(std::strtoul(v, nullptr, 10)) : def;
    helpers_ = std::min<size_t>(helpers_, 16);
    for (size_t i = 0; i < helpers_; ++i) std::thread([this] { Helper(); }).detach();
  }

  // Claims and copies parts of job `gen` until none is left.
  void Work(const Job& job, uint64_t gen) {
    for (;;) {
      uint64_t v = claim_.load(std::memory_order_acquire);
      if ((v >> 32) != gen) return;
      uint64_t idx = v & 0xffffffffu;
      if (idx >= job.parts) return;
      if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
      size_t off = idx * job.per;
      std::memcpy(job.dst + off, job.src + off, std::min(job.per, job.n - off));
      remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void Helper() {
    uint64_t seen = 0;
    for (;;) {
      // Pieces of one large copy follow each other every few tens of microseconds: watch for the next one
      // for a short while before sleeping (waking a sleeping thread costs tens of microseconds in a VM).
      auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
      while (genSeen_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      Job job;
      uint64_t gen;
      if (genSeen_.load(std::memory_order_acquire) != seen) {
        // a new copy while watching: take m_ without sleeping (held for a few stores at a time, and other
        // helpers want it at the same moment; see CopyLocked)
        while (!m_.try_lock()) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        }
        std::lock_guard<std::mutex> lock(m_, std::adopt_lock);
        seen = gen = gen_;
        job = job_;
      } else {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return gen_ != seen; });
        seen = gen = gen_;
        job = job_;
      }
      Work(job, gen);
    }
  }

  size_t helpers_ = 0;
  std::mutex callMutex_;
  std::mutex m_;
  std::condition_variable cv_;
  Job job_;
  uint64_t gen_ = 0;
  std::atomic<uint64_t> claim_{0};
  std::atomic<uint64_t> genSeen_{0};  // gen_, readable without m_ (the helpers' short watch)
  std::atomic<size_t> remaining_{0};
};

void CUDART_CB RunHostCopy(void* data) {
  auto* c = static_cast<HostCopy*>(data);
  CopyPool::Get().Copy(c->dst, c->src, c->n);
  delete c;
}

struct PageablePipe {
  cudaStream_t side = nullptr;
  void* slot[kSlots] = {};
  cudaEvent_t freeEv[kSlots] = {};   // slot may be overwritten once this has completed
  cudaEvent_t readyEv[kSlots] = {};  // slot holds the piece for the next stage
  int next = 0;
};

std::mutex g_pipeMutex;  // pipes, and enqueueing through them (keeps slot order across envs)
std::map<int, PageablePipe*>& Pipes() {
  static auto* m = new std::map<int, PageablePipe*>();
  return *m;
}

// Caller holds g_pipeMutex.
PageablePipe* GetPipe(int device) {
  PageablePipe*& p = Pipes()[device];
  if (p) return p;
  auto* np = new PageablePipe();
  try {
    TN_CUDA_CHECK(cudaStreamCreateWithFlags(&np->side, cudaStreamNonBlocking));
    for (int i = 0; i < kSlots; ++i) {
      TN_CUDA_CHECK(cudaHostAlloc(&np->slot[i], kChunk, cudaHostAllocPortable));
      TN_CUDA_CHECK(cudaEventCreateWithFlags(&np->freeEv[i], cudaEventDisableTiming));
      TN_CUDA_CHECK(cudaEventCreateWithFlags(&np->readyEv[i], cudaEventDisableTiming));
    }
  } catch (...) {
    for (int i = 0; i < kSlots; ++i) {
      if (np->slot[i]) cudaFreeHost(np->slot[i]);
      if (np->freeEv[i]) cudaEventDestroy(np->freeEv[i]);
      if (np->readyEv[i]) cudaEventDestroy(np->readyEv[i]);
    }
    if (np->side) cudaStreamDestroy(np->side);
    delete np;
    throw;
  }
  p = np;
  return p;
}

// Host -> device from pageable memory, in pieces; returns after enqueueing.
void EnqueuePageableH2D(int device, cudaStream_t stream, uint8_t* dst, const uint8_t* src, size_t n) {
  std::lock_guard<std::mutex> lock(g_pipeMutex);
  PageablePipe* p = GetPipe(device);
  for (size_t off = 0; off < n; off += kChunk) {
    size_t len = std::min(kChunk, n - off);
    int k = p->next;
    p->next = (k + 1) % kSlots;
    TN_CUDA_CHECK(cudaStreamWaitEvent(p->side, p->freeEv[k], 0));
    auto* hc = new HostCopy{p->slot[k], src + off, len};
    cudaError_t e = cudaLaunchHostFunc(p->side, RunHostCopy, hc);
    if (e != cudaSuccess) {
      delete hc;
      ThrowCuda(e, "cudaLaunchHostFunc");
    }
    TN_CUDA_CHECK(cudaEventRecord(p->readyEv[k], p->side));
    TN_CUDA_CHECK(cudaStreamWaitEvent(stream, p->readyEv[k], 0));
    TN_CUDA_CHECK(cudaMemcpyAsync(dst + off, p->slot[k], len, cudaMemcpyHostToDevice, stream));
    TN_CUDA_CHECK(cudaEventRecord(p->freeEv[k], stream));
  }
}

// Device -> pageable host memory, in pieces; `stream` then waits for the last host copy.
void EnqueuePageableD2H(int device, cudaStream_t stream, uint8_t* dst, const uint8_t* src, size_t n) {
  std::lock_guard<std::mutex> lock(g_pipeMutex);
  PageablePipe* p = GetPipe(device);
  int last = -1;
  for (size_t off = 0; off < n; off += kChunk) {
    size_t len = std::min(kChunk, n - off);
    int k = p->next;
    p->next = (k + 1) % kSlots;
    TN_CUDA_CHECK(cudaStreamWaitEvent(stream, p->freeEv[k], 0));
    TN_CUDA_CHECK(cudaMemcpyAsync(p->slot[k], src + off, len, cudaMemcpyDeviceToHost, stream));
    TN_CUDA_CHECK(cudaEventRecord(p->readyEv[k], stream));
    TN_CUDA_CHECK(cudaStreamWaitEvent(p->side, p->readyEv[k], 0));
    auto* hc = new HostCopy{dst + off, p->slot[k], len};
    cudaError_t e = cudaLaunchHostFunc(p->side, RunHostCopy, hc);
    if (e != cudaSuccess) {
      delete hc;
      ThrowCuda(e, "cudaLaunchHostFunc");
    }
    TN_CUDA_CHECK(cudaEventRecord(p->freeEv[k], p->side));
    last = k;
  }
  if (last >= 0) TN_CUDA_CHECK(cudaStreamWaitEvent(stream, p->freeEv[last], 0));
}

// ---- the poller thread
class Poller {
 public:
  static Poller& Get() {
    static Poller* p = new Poller();  // never destroyed: the thread lives as long as the process
    return *p;
  }

  void Add(Completion* c) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(m_);
      incoming_.push_back(c);
      wake = sleeping_;
    }
    incomingCount_.fetch_add(1, std::memory_order_release);
    if (wake) cv_.notify_one();
  }

 private:
  Poller() {
    std::thread t([this] { Loop(); });
    t.detach();
  }

  // Moves new items into the per-stream FIFOs. Returns whether there were any.
  bool Take(bool block, std::chrono::microseconds wait) {
    std::vector<Completion*> got;
    {
      std::unique_lock<std::mutex> lock(m_);
      if (incoming_.empty() && (block || wait.count() > 0)) {
        sleeping_ = true;
        if (block) {
          cv_.wait(lock, [&] { return !incoming_.empty(); });
        } else {
          cv_.wait_for(lock, wait, [&] { return !incoming_.empty(); });
        }
        sleeping_ = false;
      }
      got.swap(incoming_);
      incomingCount_.store(0, std::memory_order_relaxed);
    }
    for (Completion* c : got) {
      if (c->streamOrdered) {
        fifo_[c->stream].push_back(c);
      } else {
        loose_.push_back(c);
      }
      ++active_;
    }
    return !got.empty();
  }

  void Done(Completion* c, cudaError_t e) {
    c->status = e;
    --active_;
    if (c->stagedH2D) {  // the DMA has read it: reusable before the JS thread gets to the item
      ReleaseStagedH2D(c->stagedH2D);
      c->stagedH2D = nullptr;
    }
    Post(c);
  }

  static void Post(Completion* c);

  bool Sweep() {
    bool progress = false;
    for (auto it = fifo_.begin(); it != fifo_.end();) {
      auto& q = it->second;
      while (!q.empty()) {
        cudaError_t e = cudaEventQuery(q.front()->Event());
        if (e == cudaErrorNotReady) break;
        Completion* c = q.front();
        q.pop_front();
        Done(c, e);
        progress = true;
      }
      it = q.empty() ? fifo_.erase(it) : std::next(it);
    }
    for (size_t i = 0; i < loose_.size();) {
      cudaError_t e = cudaEventQuery(loose_[i]->Event());
      if (e == cudaErrorNotReady) {
        ++i;
        continue;
      }
      Completion* c = loose_[i];
      loose_.erase(loose_.begin() + static_cast<std::ptrdiff_t>(i));
      Done(c, e);
      progress = true;
    }
    return progress;
  }

  void Loop() {
#ifdef PR_SET_TIMERSLACK
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // precise 50 us naps
#endif
    using Clock = std::chrono::steady_clock;
    constexpr auto kSpin = std::chrono::microseconds(200);  // nothing in flight: keep watching this long
    // work in flight: poll (yielding the core to any other runnable thread) this long after the last
    // completion, then nap. 10 ms covers a single copy of ~512 MiB, whose completion a 50 us nap would see
    // ~100 us late in a VM (2% of it); CUDA's own default wait (cudaDeviceScheduleAuto with spare cores) spins
    // for as long as it waits. TN_POLL_YIELD_US (internal, for the benchmarks) overrides it.
    static const auto kYield = [] {
      const char* v = std::getenv("TN_POLL_YIELD_US");
      long us = v && *v ? std::strtol(v, nullptr, 10) : 10000;
      return std::chrono::microseconds(std::max(us, 200L));  // never shorter than kSpin
    }();
    constexpr auto kNap = std::chrono::microseconds(50);      // then look every 50 us
    auto lastActivity = Clock::now();
    for (;;) {
      bool idle = active_ == 0;
      bool fresh = false;
      auto quiet = Clock::now() - lastActivity;
      if (idle && quiet > kSpin) {
        fresh = Take(true, {});  // nothing in flight: sleep until work arrives
      } else if (incomingCount_.load(std::memory_order_acquire) > 0) {
        fresh = Take(false, {});
      } else if (!idle && quiet > kYield) {
        fresh = Take(false, kNap);  // long-running work: look every 50 us (woken early by new work)
      } else if (!idle && quiet > kSpin) {
        std::this_thread::yield();
      }
      if (fresh) lastActivity = Clock::now();
      if (active_ > 0 && Sweep()) {
        lastActivity = Clock::now();
        continue;
      }
      // ~1 us between sweeps: the threads submitting work share CUDA's locks with cudaEventQuery
      auto until = Clock::now() + std::chrono::nanoseconds(1000);
      while (Clock::now() < until && incomingCount_.load(std::memory_order_relaxed) == 0) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::vector<Completion*> incoming_;
  std::atomic<size_t> incomingCount_{0};
  bool sleeping_ = false;
  // poller thread only
  std::map<cudaStream_t, std::deque<Completion*>> fifo_;
  std::vector<Completion*> loose_;
  size_t active_ = 0;
};

// Releases what a Completion holds without touching JS (env gone, or after FinishOne released the JS parts).
void ReleaseNative(Completion* c) {
  ReleaseEvent(c->device, c->ev);
  c->ev = nullptr;
  ReleaseStaging(c->staging);
  c->staging = {};
  if (c->stagedH2D) ReleaseStagedH2D(c->stagedH2D);
  c->stagedH2D = nullptr;
  c->shared.reset();
  c->pinned.reset();
}

// JS thread, inside a handle scope (and a callback scope): completes the copy's host side, settles the
// promise and frees the item.
void FinishOne(napi_env env, Completion* c) {
  Port* port = c->port.get();
  if (c->status == cudaSuccess && c->d2hDst && c->d2hLen) std::memcpy(c->d2hDst, c->staging.ptr, c->d2hLen);
  ReleaseNative(c);
  if (c->keep) napi_delete_reference(env, c->keep);
  c->keep = nullptr;
  if (c->status == cudaSuccess) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, c->deferred, undef);
  } else {
    try {
      ThrowCuda(c->status, c->what);
    } catch (const NativeError& e) {
      try {
        napi_reject_deferred(env, c->deferred, ToJsError(Napi::Env{env}, e).Value());
      } catch (...) {
        // the env refuses to run JS (shutting down): nothing to settle
      }
    }
  }
  c->deferred = nullptr;
  if (port->pending > 0 && --port->pending == 0 && port->async) uv_unref(reinterpret_cast<uv_handle_t*>(port->async));
  delete c;
}

void Discard(Completion* c) {
  // The env is gone: its promise and references went with it. A pinned HostBuffer allocation is left alone
  // (freeing it would report to the dead env); everything else is released.
  if (c->pinned) new std::shared_ptr<Pinned>(std::move(c->pinned));  // deliberately leaked
  ReleaseNative(c);
  delete c;
}

// Runs as a JS function called through napi_make_callback (so node has entered the env's context and opened a
// callback scope: worker threads have no context entered in raw libuv callbacks); settles up to
// port->batchLimit finished items. The promise continuations run right after it returns (the microtask
// checkpoint that closes the outermost callback scope), inside the time OnReady accounts for.
napi_value Deliver(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  auto* port = static_cast<Port*>(data);
  const uint64_t s0 = uv_hrtime();
  struct SettleTime {  // records the settling time however the loop ends
    Port* port;
    uint64_t s0;
    ~SettleTime() { port->settleNs = uv_hrtime() - s0; }
  } settleTime{port, s0};
  for (unsigned i = 0; i < port->batchLimit; ++i) {
    Completion* c = nullptr;
    {
      std::lock_guard<std::mutex> lock(port->m);
      if (port->ready.empty() || port->closed) break;
      c = port->ready.front();
      port->ready.pop_front();
    }
    try {
      FinishOne(env, c);
    } catch (...) {
      // never let a C++ exception cross into N-API
    }
  }
  return nullptr;
}

// uv_async callback on the env's loop: settles finished items in batches, each batch one napi_make_callback
// followed by the microtasks it queued (the awaiting JavaScript), until kDeliveryBudgetNs is spent; the rest is
// left to the next loop iteration (uv_async_send), so that a backlog of thousands of completions and their
// continuations never holds the loop longer than about the budget plus one batch.
void OnReady(uv_async_t* handle) {
  auto* port = static_cast<Port*>(handle->data);
  if (!port || !port->deliver) return;
  napi_env env = port->env;
  const uint64_t start = uv_hrtime();
  for (;;) {
    size_t waiting;
    {
      std::lock_guard<std::mutex> lock(port->m);
      if (port->closed) return;
      waiting = port->ready.size();
    }
    if (waiting == 0) return;
    unsigned target = static_cast<unsigned>(kBatchTargetUs / std::max(port->costPerItemUs, 0.5));
    unsigned limit = std::max(1u, std::min(target, kBatchMax));
    port->batchLimit = waiting < limit ? static_cast<unsigned>(waiting) : limit;
    const uint64_t h0 = uv_hrtime();
    port->settleNs = 0;
    napi_handle_scope hs;
    if (napi_open_handle_scope(env, &hs) != napi_ok) return;
    napi_value fn = nullptr;
    bool ok = napi_get_reference_value(env, port->deliver, &fn) == napi_ok && fn &&
              napi_make_callback(env, port->asyncContext, fn, fn, 0, nullptr, nullptr) == napi_ok;
    if (!ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    napi_close_handle_scope(env, hs);
    if (!ok || handle->data != port) return;  // the env is stopping
    const uint64_t h1 = uv_hrtime();
    // statistics for deliveryStats()
    port->batches++;
    port->maxBatchNs = std::max(port->maxBatchNs, h1 - h0);
    port->maxSettleNs = std::max(port->maxSettleNs, port->settleNs);
    if (h1 - h0 > 1000000 && port->longBatches.size() < kMaxLongBatches) {
      port->longBatches.push_back({h0, h1, port->settleNs, port->batchLimit});
    }
    double us = static_cast<double>(h1 - h0) / 1e3;
    // moving average of the cost of one item, its continuations included
    port->costPerItemUs = 0.75 * port->costPerItemUs + 0.25 * (us / port->batchLimit);
    if (h1 - start >= kDeliveryBudgetNs) {
      std::lock_guard<std::mutex> lock(port->m);
      if (!port->closed && !port->ready.empty() && port->async) uv_async_send(port->async);  // after timers and I/O
      return;
    }
  }
}

void Poller::Post(Completion* c) {
  Port* port = c->port.get();
  std::lock_guard<std::mutex> lock(port->m);
  if (port->closed || !port->async) {
    Discard(c);
    return;
  }
  port->ready.push_back(c);
  uv_async_send(port->async);  // coalesced by libuv while one is pending
}

// TN_CUDA_COMPLETION=worker: waits in cudaEventSynchronize on a libuv pool thread.
class WaitWorker : public Napi::AsyncWorker {
 public:
  WaitWorker(Napi::Env env, Completion* c) : Napi::AsyncWorker(env, "tensorrt-node"), c_(c) {}
  ~WaitWorker() override {
    if (c_) Discard(c_);
  }
  void Execute() override { c_->status = cudaEventSynchronize(c_->Event()); }
  void OnOK() override {
    Completion* c = c_;
    c_ = nullptr;
    Napi::HandleScope scope(Env());
    FinishOne(Env(), c);
  }

 private:
  Completion* c_;
};

std::shared_ptr<Port> NewPort(Napi::Env env) {
  auto port = std::make_shared<Port>();
  port->env = env;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop) {
    auto* h = new uv_async_t();
    if (uv_async_init(loop, h, OnReady) == 0) {
      h->data = port.get();
      uv_unref(reinterpret_cast<uv_handle_t*>(h));
      port->async = h;
    } else {
      delete h;
    }
  }
  napi_value name;
  napi_create_string_utf8(env, "tensorrt-node:cuda", NAPI_AUTO_LENGTH, &name);
  napi_value fn;
  if (napi_create_function(env, "tensorrtNodeDeliver", NAPI_AUTO_LENGTH, Deliver, port.get(), &fn) != napi_ok ||
      napi_create_reference(env, fn, 1, &port->deliver) != napi_ok) {
    port->deliver = nullptr;
  }
  napi_value resource;
  napi_create_object(env, &resource);
  napi_ref resourceRef;  // held for the env's lifetime (the async context's resource must stay alive)
  if (napi_create_reference(env, resource, 1, &resourceRef) != napi_ok ||
      napi_async_init(env, resource, name, &port->asyncContext) != napi_ok) {
    port->asyncContext = nullptr;
  }
  std::weak_ptr<Port> weak = port;
  env.AddCleanupHook([weak] {
    auto p = weak.lock();
    if (!p) return;
    if (p->pending > 0) {
      // Copies of this env are still in flight and may write into its ArrayBuffers (host functions of the
      // pageable pipeline): wait for the GPU before the env frees them.
      int current = 0;
      if (cudaGetDevice(&current) == cudaSuccess) {
        std::vector<int> devices{current};
        {
          std::lock_guard<std::mutex> lock(g_pipeMutex);
          for (auto& kv : Pipes()) {
            if (kv.first != current) devices.push_back(kv.first);
          }
        }
        for (int d : devices) {
          if (cudaSetDevice(d) == cudaSuccess) cudaDeviceSynchronize();
        }
        cudaSetDevice(current);
      }
    }
    std::deque<Completion*> left;
    {
      std::lock_guard<std::mutex> lock(p->m);
      p->closed = true;
      left.swap(p->ready);
      if (p->async) {
        p->async->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(p->async), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
        p->async = nullptr;
      }
    }
    for (Completion* c : left) Discard(c);
  });
  return port;
}

std::shared_ptr<Port> PortOf(Napi::Env env) {
  Constructors* c = Ctors(env);
  return c ? c->port : nullptr;
}

// deliveryStats(reset?) -> { batches, maxBatchMs, maxSettleMs, longBatches: [[startMs, endMs, settleMs, items]] }
// (times on uv_hrtime's clock, as process.hrtime.bigint() / 1e6). For benchmarks: which loop turns the delivery
// of finished work (settling and the continuations it runs) held the JS thread for more than 1 ms.
Napi::Value DeliveryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Port> port = PortOf(env);
  if (!port) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  o.Set("batches", Napi::Number::New(env, static_cast<double>(port->batches)));
  o.Set("maxBatchMs", Napi::Number::New(env, ms(port->maxBatchNs)));
  o.Set("maxSettleMs", Napi::Number::New(env, ms(port->maxSettleNs)));
  Napi::Array list = Napi::Array::New(env, port->longBatches.size());
  for (size_t i = 0; i < port->longBatches.size(); ++i) {
    const Port::LongBatch& b = port->longBatches[i];
    Napi::Array e = Napi::Array::New(env, 4);
    e.Set(0u, Napi::Number::New(env, ms(b.startNs)));
    e.Set(1u, Napi::Number::New(env, ms(b.endNs)));
    e.Set(2u, Napi::Number::New(env, ms(b.settleNs)));
    e.Set(3u, Napi::Number::New(env, b.items));
    list.Set(static_cast<uint32_t>(i), e);
  }
  o.Set("longBatches", list);
  if (info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value()) {
    port->batches = port->maxBatchNs = port->maxSettleNs = 0;
    port->longBatches.clear();
  }
  return o;
}

// A Completion for work just enqueued (or to be enqueued) on `stream` of the current device.
std::unique_ptr<Completion> NewCompletion(Napi::Env env, cudaStream_t stream, const char* what) {
  auto c = std::make_unique<Completion>();
  c->port = PortOf(env);
  if (!c->port) throw NativeError("INTERNAL", "the CUDA module of tensorrt-node is not initialised in this thread");
  c->stream = stream;
  c->what = what;
  TN_CUDA_CHECK(cudaGetDevice(&c->device));
  return c;
}

// Records the completion event on c->stream (unless it waits on a shared event), creates the promise and
// hands the item to the poller (or a pool worker). Returns the promise.
Napi::Value Submit(Napi::Env env, std::unique_ptr<Completion> c, Napi::Value keep) {
  if (!c->shared) {
    c->ev = AcquireEvent(c->device);
    cudaError_t e = cudaEventRecord(c->ev, c->stream);
    if (e != cudaSuccess) {
      ReleaseNative(c.get());
      ThrowCuda(e, "cudaEventRecord");
    }
  }
  napi_value promise;
  if (napi_create_promise(env, &c->deferred, &promise) != napi_ok) {
    ReleaseNative(c.get());
    throw NativeError("INTERNAL", "napi_create_promise failed");
  }
  // The JS object owning the host memory is kept alive until the work is done, except for page-locked memory of
  // ours, which c->pinned already keeps, and a source already copied into staging (no persistent handle then).
  if (!c->pinned && !c->stagedH2D && !keep.IsEmpty() && keep.IsObject()) napi_create_reference(env, keep, 1, &c->keep);
  if (UseWorkerCompletion() || !c->port->async || !c->port->deliver) {
    auto* w = new WaitWorker(env, c.release());
    w->Queue();
  } else {
    Port* port = c->port.get();
    if (port->pending++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(port->async));
    Poller::Get().Add(c.release());
  }
  return Napi::Value(env, promise);
}

// cudaDeviceSynchronize on a pool thread (rare; a device-wide barrier).
class DeviceSyncWorker : public PromiseWorker {
 public:
  DeviceSyncWorker(Napi::Env env, int device) : PromiseWorker(env), device_(device) {}

 protected:
  void Run() override {
    TN_CUDA_CHECK(cudaSetDevice(device_));
    TN_CUDA_CHECK(cudaDeviceSynchronize());
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  int device_;
};

// Host memory named by a JS value: HostBuffer, ArrayBuffer, TypedArray or DataView.
struct HostSpan {
  uint8_t* data = nullptr;
  size_t length = 0;
  std::shared_ptr<Pinned> pinned;  // set when the memory is page-locked (ours)
  Napi::Object keep;               // the JS object that owns the memory
};

HostSpan HostSpanFrom(Napi::Env env, Napi::Value v, const char* name) {
  HostSpan s;
  if (HostBuffer* hb = HostBuffer::Unwrap(v)) {
    hb->CheckAlive(env);
    s.pinned = hb->pinned();
    s.data = static_cast<uint8_t*>(s.pinned->ptr);
    s.length = s.pinned->size;
    s.keep = v.As<Napi::Object>();
    return s;
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    s.data = static_cast<uint8_t*>(ab.Data());
    s.length = ab.ByteLength();
    s.keep = ab;
  } else if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    Napi::ArrayBuffer ab = ta.ArrayBuffer();
    s.data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
    s.length = ta.ByteLength();
    s.keep = ab;
  } else if (v.IsDataView()) {
    auto dv = v.As<Napi::DataView>();
    Napi::ArrayBuffer ab = dv.ArrayBuffer();
    s.data = static_cast<uint8_t*>(ab.Data()) + dv.ByteOffset();
    s.length = dv.ByteLength();
    s.keep = ab;
  } else {
    ThrowInvalid(env, std::string(name) + " must be a HostBuffer, ArrayBuffer or TypedArray");
  }
  if (s.length > 0 && s.data == nullptr) ThrowInvalid(env, std::string(name) + " is detached");
  if (s.length > 0) s.pinned = FindPinned(s.data, s.length);
  return s;
}

void CheckRange(Napi::Env env, size_t offset, size_t len, size_t total, const char* what) {
  if (offset > total || len > total - offset) {
    ThrowInvalid(env, std::string(what) + ": range [" + std::to_string(offset) + ", " + std::to_string(offset) + "+" +
                          std::to_string(len) + ") exceeds " + std::to_string(total) + " bytes");
  }
}

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

// ---------------------------------------------------------------------------------------------------------
// Pinned

Pinned::Pinned(napi_env e, size_t n) : env(e), size(n) {
  EnsureCuda();
  if (n > 0) {
    TN_CUDA_CHECK(cudaHostAlloc(&ptr, n, cudaHostAllocPortable));
    int64_t unused;
    napi_adjust_external_memory(env, static_cast<int64_t>(n), &unused);
  }
}

Pinned::~Pinned() { Free(); }

void Pinned::Free() {
  if (!ptr) return;
  {
    std::lock_guard<std::mutex> lock(g_pinnedMutex);
    PinnedRegistry().erase(reinterpret_cast<uintptr_t>(ptr));
  }
  cudaFreeHost(ptr);
  ptr = nullptr;
  int64_t unused;
  napi_adjust_external_memory(env, -static_cast<int64_t>(size), &unused);
}

std::shared_ptr<Pinned> FindPinned(const void* p, size_t n) {
  std::lock_guard<std::mutex> lock(g_pinnedMutex);
  auto& reg = PinnedRegistry();
  auto addr = reinterpret_cast<uintptr_t>(p);
  auto it = reg.upper_bound(addr);
  if (it == reg.begin()) return nullptr;
  --it;
  auto sp = it->second.lock();
  if (!sp || !sp->ptr) return nullptr;
  auto base = reinterpret_cast<uintptr_t>(sp->ptr);
  if (addr >= base && addr + n <= base + sp->size) return sp;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------------------
// DeviceBuffer

Napi::Function DeviceBuffer::Init(Napi::Env env) {
  return DefineClass(env, "DeviceBuffer",
                     {
                         InstanceAccessor<&DeviceBuffer::GetByteLength>("byteLength"),
                         InstanceAccessor<&DeviceBuffer::GetAddress>("address"),
                         InstanceAccessor<&DeviceBuffer::GetDisposed>("disposed"),
                         InstanceAccessor<&DeviceBuffer::GetDevice>("device"),
                         InstanceMethod<&DeviceBuffer::CopyFromHost>("copyFromHost"),
                         InstanceMethod<&DeviceBuffer::CopyToHost>("copyToHost"),
                         InstanceMethod<&DeviceBuffer::CopyFromDevice>("copyFromDevice"),
                         InstanceMethod<&DeviceBuffer::Fill>("fill"),
                         InstanceMethod<&DeviceBuffer::Dispose>("dispose"),
                     });
}

bool DeviceBuffer::IsInstance(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  return c && InstanceOf(v, c->deviceBuffer);
}

DeviceBuffer* DeviceBuffer::Unwrap(Napi::Value v) {
  if (!IsInstance(v)) return nullptr;
  return Napi::ObjectWrap<DeviceBuffer>::Unwrap(v.As<Napi::Object>());
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  Napi::Env env = info.Env();
  size_t n = SizeArg(env, info, 0, "byteLength");
  Guard(env, [&] {
    EnsureCuda();
    TN_CUDA_CHECK(cudaGetDevice(&device_));
    if (n > 0) TN_CUDA_CHECK(cudaMalloc(&ptr_, n));
  });
  size_ = n;
  if (n > 0) Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(n));
}

DeviceBuffer::~DeviceBuffer() { Free(Env()); }

void DeviceBuffer::Free(napi_env env) {
  disposed_ = true;
  if (!ptr_) return;
  cudaFree(ptr_);
  ptr_ = nullptr;
  int64_t unused;
  napi_adjust_external_memory(env, -static_cast<int64_t>(size_), &unused);
}

void DeviceBuffer::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "DeviceBuffer");
}

Napi::Value DeviceBuffer::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value DeviceBuffer::GetAddress(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return PtrToBigInt(info.Env(), ptr_);
}

Napi::Value DeviceBuffer::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value DeviceBuffer::GetDevice(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

// copyFromHost(src, srcOffset, byteLength, dstOffset, stream?) -> Promise<void>
Napi::Value DeviceBuffer::CopyFromHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  HostSpan src = HostSpanFrom(env, info[0], "src");
  size_t srcOff = SizeArg(env, info, 1, "srcOffset", true, 0);
  size_t n = SizeArg(env, info, 2, "byteLength", true, src.length >= srcOff ? src.length - srcOff : 0);
  size_t dstOff = SizeArg(env, info, 3, "dstOffset", true, 0);
  CheckRange(env, srcOff, n, src.length, "source");
  CheckRange(env, dstOff, n, size_, "destination DeviceBuffer");
  cudaStream_t stream = StreamFromValue(env, info[4]);
  return Guard(env, [&]() -> Napi::Value {
    auto c = NewCompletion(env, stream, "copy from host to device");
    uint8_t* dst = static_cast<uint8_t*>(ptr_) + dstOff;
    const uint8_t* from = src.data + srcOff;
    if (n > 0) {
      if (src.pinned) {
        TN_CUDA_CHECK(cudaMemcpyAsync(dst, from, n, cudaMemcpyHostToDevice, stream));
        c->pinned = src.pinned;
      } else if (n <= kDriverPageableH2D) {
        // CUDA copies pageable host->device memory into its own staging before returning (no wait on the
        // stream), which for small sizes is cheaper than anything done here
        TN_CUDA_CHECK(cudaMemcpyAsync(dst, from, n, cudaMemcpyHostToDevice, stream));
      } else if (n <= kStagedH2D && (c->stagedH2D = AcquireStagedH2D()) != nullptr) {
        // one piece: copied into a pinned staging block right here (parallel memcpy, tens of microseconds),
        // then an asynchronous DMA; the poller returns the block once the DMA is done. Cheaper than the
        // pipeline's host function and cross-stream events for a single piece.
        CopyPool::Get().TryCopy(c->stagedH2D, from, n);
        cudaError_t e = cudaMemcpyAsync(dst, c->stagedH2D, n, cudaMemcpyHostToDevice, stream);
        if (e != cudaSuccess) {
          ReleaseStagedH2D(c->stagedH2D);
          c->stagedH2D = nullptr;
          ThrowCuda(e, "cudaMemcpyAsync");
        }
      } else {
        EnqueuePageableH2D(c->device, stream, dst, from, n);
      }
    }
    return Submit(env, std::move(c), src.keep);
  });
}

// copyToHost(dst, dstOffset, byteLength, srcOffset, stream?) -> Promise<void>
Napi::Value DeviceBuffer::CopyToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  HostSpan dst = HostSpanFrom(env, info[0], "dst");
  size_t dstOff = SizeArg(env, info, 1, "dstOffset", true, 0);
  size_t srcOff = SizeArg(env, info, 3, "srcOffset", true, 0);
  size_t defLen = std::min(dst.length >= dstOff ? dst.length - dstOff : 0, size_ >= srcOff ? size_ - srcOff : 0);
  size_t n = SizeArg(env, info, 2, "byteLength", true, defLen);
  CheckRange(env, dstOff, n, dst.length, "destination");
  CheckRange(env, srcOff, n, size_, "source DeviceBuffer");
  cudaStream_t stream = StreamFromValue(env, info[4]);
  return Guard(env, [&]() -> Napi::Value {
    auto c = NewCompletion(env, stream, "copy from device to host");
    const uint8_t* src = static_cast<const uint8_t*>(ptr_) + srcOff;
    uint8_t* to = dst.data + dstOff;
    if (n > 0) {
      if (dst.pinned) {
        TN_CUDA_CHECK(cudaMemcpyAsync(to, src, n, cudaMemcpyDeviceToHost, stream));
        c->pinned = dst.pinned;
      } else if (n <= kSmallPageable && (c->staging = AcquireStaging(n)).ptr) {
        cudaError_t e = cudaMemcpyAsync(c->staging.ptr, src, n, cudaMemcpyDeviceToHost, stream);
        if (e != cudaSuccess) {
          ReleaseStaging(c->staging);
          ThrowCuda(e, "cudaMemcpyAsync");
        }
        c->d2hDst = to;
        c->d2hLen = n;
      } else {
        EnqueuePageableD2H(c->device, stream, to, src, n);
      }
    }
    return Submit(env, std::move(c), dst.keep);
  });
}

// copyFromDevice(src: DeviceBuffer, srcOffset, byteLength, dstOffset, stream?) -> Promise<void>
Napi::Value DeviceBuffer::CopyFromDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  DeviceBuffer* src = Unwrap(info[0]);
  if (!src) ThrowInvalid(env, "src must be a DeviceBuffer");
  src->CheckAlive(env);
  size_t srcOff = SizeArg(env, info, 1, "srcOffset", true, 0);
  size_t defLen = std::min(src->size_ >= srcOff ? src->size_ - srcOff : 0, size_);
  size_t n = SizeArg(env, info, 2, "byteLength", true, defLen);
  size_t dstOff = SizeArg(env, info, 3, "dstOffset", true, 0);
  CheckRange(env, srcOff, n, src->size_, "source DeviceBuffer");
  CheckRange(env, dstOff, n, size_, "destination DeviceBuffer");
  cudaStream_t stream = StreamFromValue(env, info[4]);
  return Guard(env, [&]() -> Napi::Value {
    auto c = NewCompletion(env, stream, "copy from device to device");
    if (n > 0) {
      TN_CUDA_CHECK(cudaMemcpyAsync(static_cast<uint8_t*>(ptr_) + dstOff, static_cast<uint8_t*>(src->ptr_) + srcOff, n,
                                    cudaMemcpyDeviceToDevice, stream));
    }
    return Submit(env, std::move(c), Napi::Value());
  });
}

// fill(byteValue, offset, byteLength, stream?) -> Promise<void>
Napi::Value DeviceBuffer::Fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  int value = IntArg(env, info[0], "value");
  if (value < 0 || value > 255) ThrowInvalid(env, "value must be a byte (0..255)");
  size_t off = SizeArg(env, info, 1, "offset", true, 0);
  size_t n = SizeArg(env, info, 2, "byteLength", true, size_ >= off ? size_ - off : 0);
  CheckRange(env, off, n, size_, "DeviceBuffer");
  cudaStream_t stream = StreamFromValue(env, info[3]);
  return Guard(env, [&]() -> Napi::Value {
    auto c = NewCompletion(env, stream, "fill");
    if (n > 0) TN_CUDA_CHECK(cudaMemsetAsync(static_cast<uint8_t*>(ptr_) + off, value, n, stream));
    return Submit(env, std::move(c), Napi::Value());
  });
}

Napi::Value DeviceBuffer::Dispose(const Napi::CallbackInfo& info) {
  Free(info.Env());
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------------------
// HostBuffer

Napi::Function HostBuffer::Init(Napi::Env env) {
  return DefineClass(env, "HostBuffer",
                     {
                         InstanceAccessor<&HostBuffer::GetByteLength>("byteLength"),
                         InstanceAccessor<&HostBuffer::GetBuffer>("buffer"),
                         InstanceAccessor<&HostBuffer::GetAddress>("address"),
                         InstanceAccessor<&HostBuffer::GetDisposed>("disposed"),
                         InstanceMethod<&HostBuffer::Dispose>("dispose"),
                     });
}

HostBuffer* HostBuffer::Unwrap(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  if (!c || !InstanceOf(v, c->hostBuffer)) return nullptr;
  return Napi::ObjectWrap<HostBuffer>::Unwrap(v.As<Napi::Object>());
}

HostBuffer::HostBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostBuffer>(info) {
  Napi::Env env = info.Env();
  size_t n = SizeArg(env, info, 0, "byteLength");
  Guard(env, [&] {
    pinned_ = std::make_shared<Pinned>(env, n);
    if (n > 0) {
      std::lock_guard<std::mutex> lock(g_pinnedMutex);
      PinnedRegistry()[reinterpret_cast<uintptr_t>(pinned_->ptr)] = pinned_;
    }
  });
  size_ = n;
  Napi::ArrayBuffer ab;
  if (n > 0) {
    abHolder_ = new std::shared_ptr<Pinned>(pinned_);
    ab = Napi::ArrayBuffer::New(
        env, pinned_->ptr, n, [](Napi::Env, void*, std::shared_ptr<Pinned>* holder) { delete holder; }, abHolder_);
  } else {
    ab = Napi::ArrayBuffer::New(env, 0);
  }
  arrayBuffer_ = Napi::Persistent(ab.As<Napi::Object>());
}

HostBuffer::~HostBuffer() = default;  // the pinned memory goes when the ArrayBuffer and any copy let go

void HostBuffer::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "HostBuffer");
}

Napi::Value HostBuffer::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value HostBuffer::GetBuffer(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return arrayBuffer_.Value();
}

Napi::Value HostBuffer::GetAddress(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return PtrToBigInt(info.Env(), pinned_ ? pinned_->ptr : nullptr);
}

Napi::Value HostBuffer::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value HostBuffer::Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_) return env.Undefined();
  disposed_ = true;
  bool detached = true;
  if (!arrayBuffer_.IsEmpty()) {
    Napi::ArrayBuffer ab = arrayBuffer_.Value().As<Napi::ArrayBuffer>();
    if (size_ > 0 && !ab.IsDetached()) {
      try {
        ab.Detach();  // JS can no longer reach the memory
      } catch (const Napi::Error&) {
        detached = false;  // not detachable: the ArrayBuffer keeps the memory until it is collected
      }
    }
    arrayBuffer_.Reset();
  }
  if (abHolder_ && detached) {
    abHolder_->reset();  // the ArrayBuffer's share (its finalizer deletes the empty holder later)
  }
  abHolder_ = nullptr;
  pinned_.reset();  // freed now unless a copy is still in flight (then when it completes)
  return env.Undefined();
}

// ---------------------------------------------------------------------------------------------------------
// Stream

Napi::Function Stream::Init(Napi::Env env) {
  return DefineClass(env, "Stream",
                     {
                         InstanceAccessor<&Stream::GetHandle>("handle"),
                         InstanceAccessor<&Stream::GetDisposed>("disposed"),
                         InstanceAccessor<&Stream::GetPriority>("priority"),
                         InstanceMethod<&Stream::Synchronize>("synchronize"),
                         InstanceMethod<&Stream::Query>("query"),
                         InstanceMethod<&Stream::WaitEvent>("waitEvent"),
                         InstanceMethod<&Stream::Dispose>("dispose"),
                     });
}

Stream* Stream::Unwrap(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  if (!c || !InstanceOf(v, c->stream)) return nullptr;
  return Napi::ObjectWrap<Stream>::Unwrap(v.As<Napi::Object>());
}

// new Stream(nonBlocking = false, priority = 0)
Stream::Stream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Stream>(info) {
  Napi::Env env = info.Env();
  bool nonBlocking = false;
  if (!info[0].IsUndefined() && !info[0].IsNull()) {
    if (!info[0].IsBoolean()) ThrowInvalid(env, "nonBlocking must be a boolean");
    nonBlocking = info[0].As<Napi::Boolean>().Value();
  }
  int priority = 0;
  if (!info[1].IsUndefined() && !info[1].IsNull()) priority = IntArg(env, info[1], "priority");
  Guard(env, [&] {
    EnsureCuda();
    TN_CUDA_CHECK(cudaStreamCreateWithPriority(&stream_, nonBlocking ? cudaStreamNonBlocking : cudaStreamDefault, priority));
    TN_CUDA_CHECK(cudaStreamGetPriority(stream_, &priority_));
  });
}

Stream::~Stream() { Destroy(); }

void Stream::Destroy() {
  disposed_ = true;
  if (stream_) cudaStreamDestroy(stream_);  // returns at once; pending work completes first
  stream_ = nullptr;
}

void Stream::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "Stream");
}

Napi::Value Stream::GetHandle(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return PtrToBigInt(info.Env(), stream_);
}

Napi::Value Stream::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value Stream::GetPriority(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), priority_); }

Napi::Value Stream::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    auto c = NewCompletion(env, stream_, "Stream.synchronize");
    return Submit(env, std::move(c), Napi::Value());
  });
}

Napi::Value Stream::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    cudaError_t e = cudaStreamQuery(stream_);
    if (e == cudaErrorNotReady) return Napi::Boolean::New(env, false);
    TN_CUDA_CHECK(e);
    return Napi::Boolean::New(env, true);
  });
}

Napi::Value Stream::WaitEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  Event* ev = Event::Unwrap(info[0]);
  if (!ev) ThrowInvalid(env, "event must be an Event");
  ev->CheckAlive(env);
  Guard(env, [&] { TN_CUDA_CHECK(cudaStreamWaitEvent(stream_, ev->handle(), 0)); });
  return env.Undefined();
}

Napi::Value Stream::Dispose(const Napi::CallbackInfo& info) {
  Destroy();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------------------
// Event (the cudaEvent_t lives in a shared EventHandle so that synchronize() survives dispose())

Napi::Function Event::Init(Napi::Env env) {
  return DefineClass(env, "Event",
                     {
                         InstanceAccessor<&Event::GetDisposed>("disposed"),
                         InstanceAccessor<&Event::GetTiming>("timing"),
                         InstanceMethod<&Event::Record>("record"),
                         InstanceMethod<&Event::Synchronize>("synchronize"),
                         InstanceMethod<&Event::Query>("query"),
                         InstanceMethod<&Event::Dispose>("dispose"),
                     });
}

Event* Event::Unwrap(Napi::Value v) {
  Constructors* c = Ctors(v.Env());
  if (!c || !InstanceOf(v, c->event)) return nullptr;
  return Napi::ObjectWrap<Event>::Unwrap(v.As<Napi::Object>());
}

// new Event(timing = true)
Event::Event(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Event>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsUndefined() && !info[0].IsNull()) {
    if (!info[0].IsBoolean()) ThrowInvalid(env, "timing must be a boolean");
    timing_ = info[0].As<Napi::Boolean>().Value();
  }
  Guard(env, [&] {
    EnsureCuda();
    auto h = std::make_shared<EventHandle>();
    unsigned flags = cudaEventBlockingSync | (timing_ ? 0u : static_cast<unsigned>(cudaEventDisableTiming));
    TN_CUDA_CHECK(cudaEventCreateWithFlags(&h->ev, flags));
    event_ = h->ev;
    handle_ = std::move(h);
  });
}

Event::~Event() { Destroy(); }

void Event::Destroy() {
  disposed_ = true;
  event_ = nullptr;
  handle_.reset();  // destroyed now unless a synchronize() is waiting on it
}

void Event::CheckAlive(Napi::Env env) const {
  if (disposed_) ThrowDisposed(env, "Event");
}

Napi::Value Event::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value Event::GetTiming(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), timing_); }

Napi::Value Event::Record(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  cudaStream_t s = StreamFromValue(env, info[0]);
  Guard(env, [&] { TN_CUDA_CHECK(cudaEventRecord(event_, s)); });
  return env.Undefined();
}

Napi::Value Event::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    auto c = NewCompletion(env, nullptr, "Event.synchronize");
    c->streamOrdered = false;
    c->shared = handle_;
    return Submit(env, std::move(c), Napi::Value());
  });
}

Napi::Value Event::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  return Guard(env, [&]() -> Napi::Value {
    cudaError_t e = cudaEventQuery(event_);
    if (e == cudaErrorNotReady) return Napi::Boolean::New(env, false);
    TN_CUDA_CHECK(e);
    return Napi::Boolean::New(env, true);
  });
}

Napi::Value Event::Dispose(const Napi::CallbackInfo& info) {
  Destroy();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------------------
// Value helpers for other native files

cudaStream_t StreamFromValue(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (Stream* s = Stream::Unwrap(v)) {
    s->CheckAlive(env);
    return s->handle();
  }
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowInvalid(env, "stream handle out of range");
    return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(u));
  }
  ThrowInvalid(env, "stream must be a Stream");
}

void* DevicePointerFromValue(Napi::Env env, Napi::Value v) {
  if (DeviceBuffer* b = DeviceBuffer::Unwrap(v)) {
    b->CheckAlive(env);
    return b->data();
  }
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowInvalid(env, "device address out of range");
    return reinterpret_cast<void*>(static_cast<uintptr_t>(u));
  }
  ThrowInvalid(env, "expected a DeviceBuffer or a bigint device address");
}

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
    size_t freeB = 0, totalB = 0;
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
    TN_CUDA_CHECK(cudaEventElapsedTime(&ms, a->handle(), b->handle()));
    return Napi::Number::New(env, ms);
  });
}

}  // namespace

// The addon keeps process-wide threads (the poller, CopyPool) and CUDA host functions whose code lives in this
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
  auto* c = new Constructors();
  RegisterCtors(env, c);
  c->port = NewPort(env);
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
  exports.Set("deliveryStats", Napi::Function::New<DeliveryStats>(env, "deliveryStats"));
}

}  // namespace tn
