// Pageable host memory for asynchronous copies (see cuda_internal.h): staging blocks, the staged host->device
// blocks, the parallel memcpy (CopyPool) and the chunked pipeline of large copies.
//
// Host->device up to kDriverPageableH2D bytes goes through CUDA's own pageable path (cudaMemcpyAsync stages the
// bytes before returning, without waiting for the stream); up to kStagedH2D bytes it is copied (parallel memcpy)
// into a pinned staging block on the calling thread, then moved by an asynchronous DMA (the block is returned as
// soon as the DMA is done); in both cases the source is read during the call, as cudaMemcpyAsync from pageable
// memory does. Device->host up to kSmallPageable bytes goes through a pinned staging block emptied on the JS thread
// once the copy has finished. Larger copies (and smaller ones when staging is exhausted) are cut into kChunk pieces
// that cycle through kSlots pinned slots; the host side of each piece (a parallel memcpy to or from the slot) runs
// as a CUDA host function on a per-device side stream, ordered against the DMA on the caller's stream with events,
// so host copies overlap DMAs, the caller's stream order is kept, and neither the JS thread nor any pool blocks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "cuda_internal.h"

namespace tn::cuda {

namespace {
constexpr size_t kMinStaging = size_t(4) << 10;
constexpr size_t kMaxCachedStaging = size_t(64) << 20;  // also the most staging memory in use at once
}  // namespace

// ---- small staging blocks for pageable copies up to kSmallPageable bytes
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
// the copy engine moves, so a piece is split over the calling thread and a few helpers (min(2, cores / 4);
// none on small machines: plain memcpy). Callers are serialised; parts are claimed through a (generation, index)
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
    helpers_ = def;
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
  DeviceGuard guard(device);
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

void TryParallelCopy(void* dst, const void* src, size_t n) { CopyPool::Get().TryCopy(dst, src, n); }

}  // namespace tn::cuda
