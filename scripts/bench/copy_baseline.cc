// Plain CUDA C++ baseline for scripts/bench: the same copies the binding benchmarks make, done directly with the
// CUDA runtime, so that the binding's figures can be given as a ratio to what the machine does without Node.
//
//   copy_baseline copy      [sizes=4096,...] [kinds=pinned,pageable] [dirs=h2d,d2h]  throughput per size
//   copy_baseline copyev    (same arguments)                                         ... with an event after each copy
//   copy_baseline peak                                                               copy-engine peak (256 MiB, events)
//   copy_baseline roundtrip [iterations=10000] [bytes=4096]                          small copy + event latency
//   copy_baseline streams   [counts=1,2,4,8] [bytes=67108864] [copies=8]              concurrent streams
//   copy_baseline serve                                                              one copy trial per stdin line
//
// serve: for scripts/bench/paired.js, which alternates C++ and binding trials (pairs) at each size. Reads lines
//   `trial <pinned|pageable> <h2d|d2h> <bytes> <reps> <0|1: event after each copy>`: keeps host and device
//   buffers of that kind and size (allocated, touched and warmed up by one copy when the kind or size changes),
//   issues <reps> back-to-back copies on one stream, cudaStreamSynchronize, prints {"gbps":..,"seconds":..};
//   `free` releases the buffers; `quit` or end of input exits.
//
// Output: one JSON object on stdout. Exit status 2 when no CUDA device is usable (the JSON says why).
// Build: g++ -O2 -std=c++17 -I$CUDA/include copy_baseline.cc $CUDA/lib64/libcudart_static.a -ldl -lpthread -lrt
//        (or nvcc -O2 -cudart static copy_baseline.cc)
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(cudaError_t e, const char* what, int line) {
  std::printf("{\"error\":\"%s: %s (%s) at line %d\"}\n", what, cudaGetErrorString(e), cudaGetErrorName(e), line);
  std::exit(1);
}
#define CK(x)                                   \
  do {                                          \
    cudaError_t e_ = (x);                       \
    if (e_ != cudaSuccess) Fail(e_, #x, __LINE__); \
  } while (0)

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::vector<size_t> ParseList(const char* s) {
  std::vector<size_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(static_cast<size_t>(std::strtoull(item.c_str(), nullptr, 10)));
  return v;
}

std::vector<std::string> ParseWords(const char* s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(item);
  return v;
}

// Same rule as scripts/bench/common.js: enough copies for ~1 GiB a trial (at least 3, at most 2000), so that a
// stall of the machine weighs little in any one trial.
int RepsFor(size_t n) {
  double r = std::ceil(double(1u << 30) / double(n));
  return static_cast<int>(std::min(2000.0, std::max(3.0, r)));
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p / 100.0 * double(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

void* HostAlloc(size_t n, bool pinned) {
  void* p = nullptr;
  if (pinned) {
    CK(cudaHostAlloc(&p, n, cudaHostAllocPortable));
  } else {
    p = std::malloc(n);
    if (!p) {
      std::printf("{\"error\":\"malloc(%zu) failed\"}\n", n);
      std::exit(1);
    }
  }
  std::memset(p, 0x5a, n);  // touch every page
  return p;
}

void HostFree(void* p, bool pinned) {
  if (pinned) {
    cudaFreeHost(p);
  } else {
    std::free(p);
  }
}

// copyev: like copy, but with an event recorded after every copy (what an asynchronous binding needs to
// learn when each copy has finished); tells how much of a gap the per-copy completion tracking costs.
int Copy(int argc, char** argv, bool perCopyEvent = false) {
  std::vector<size_t> sizes = ParseList(argc > 2 ? argv[2] : "4096,16384,65536,262144,1048576,4194304,16777216,67108864,268435456,1073741824");
  std::vector<std::string> kinds = ParseWords(argc > 3 ? argv[3] : "pinned,pageable");
  std::vector<std::string> dirs = ParseWords(argc > 4 ? argv[4] : "h2d,d2h");
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::vector<cudaEvent_t> evs;
  if (perCopyEvent) {
    evs.resize(2000);
    for (auto& e : evs) CK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  std::printf("{\"mode\":\"%s\",\"method\":\"reps back-to-back cudaMemcpyAsync on one stream%s, wall clock to cudaStreamSynchronize, median of 5 trials\",\"results\":[",
              perCopyEvent ? "copyev" : "copy", perCopyEvent ? " with cudaEventRecord after each" : "");
  bool first = true;
  for (const std::string& kind : kinds) {
    bool pinned = kind == "pinned";
    for (size_t n : sizes) {
      void* h = HostAlloc(n, pinned);
      void* d = nullptr;
      CK(cudaMalloc(&d, n));
      for (const std::string& dir : dirs) {
        bool h2d = dir == "h2d";
        int reps = RepsFor(n);
        auto once = [&](int r) {
          if (h2d) {
            CK(cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, s));
          } else {
            CK(cudaMemcpyAsync(h, d, n, cudaMemcpyDeviceToHost, s));
          }
          if (perCopyEvent) CK(cudaEventRecord(evs[static_cast<size_t>(r)], s));
        };
        once(0);  // warm-up
        CK(cudaStreamSynchronize(s));
        std::vector<double> gbps;
        for (int t = 0; t < 5; ++t) {
          auto a = Clock::now();
          for (int r = 0; r < reps; ++r) once(r);
          CK(cudaStreamSynchronize(s));
          auto b = Clock::now();
          gbps.push_back(double(n) * reps / Seconds(a, b) / 1e9);
        }
        std::printf("%s{\"kind\":\"%s\",\"dir\":\"%s\",\"bytes\":%zu,\"reps\":%d,\"gbps\":%.4f,\"best\":%.4f,\"trials\":[",
                    first ? "" : ",", kind.c_str(), dir.c_str(), n, reps, Median(gbps), *std::max_element(gbps.begin(), gbps.end()));
        for (size_t t = 0; t < gbps.size(); ++t) std::printf("%s%.4f", t ? "," : "", gbps[t]);
        std::printf("]}");
        first = false;
        std::fflush(stdout);
      }
      CK(cudaFree(d));
      HostFree(h, pinned);
    }
  }
  std::printf("]}\n");
  for (auto& e : evs) CK(cudaEventDestroy(e));
  CK(cudaStreamDestroy(s));
  return 0;
}

int Peak() {
  const size_t n = size_t(256) << 20;
  const int reps = 10;
  void* h = HostAlloc(n, true);
  void* h2 = HostAlloc(n, true);
  void *d = nullptr, *d2 = nullptr;
  CK(cudaMalloc(&d, n));
  CK(cudaMalloc(&d2, n));
  cudaStream_t s1, s2;
  CK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  auto timeDir = [&](cudaMemcpyKind k) {
    double best = 0;
    for (int t = 0; t < 3; ++t) {
      CK(cudaEventRecord(a, s1));
      for (int r = 0; r < reps; ++r) {
        if (k == cudaMemcpyHostToDevice) {
          CK(cudaMemcpyAsync(d, h, n, k, s1));
        } else {
          CK(cudaMemcpyAsync(h, d, n, k, s1));
        }
      }
      CK(cudaEventRecord(b, s1));
      CK(cudaEventSynchronize(b));
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, a, b));
      best = std::max(best, double(n) * reps / (ms / 1e3) / 1e9);
    }
    return best;
  };
  double h2d = timeDir(cudaMemcpyHostToDevice);
  double d2h = timeDir(cudaMemcpyDeviceToHost);
  // both directions at once on two streams (wall clock)
  double bidir = 0;
  for (int t = 0; t < 3; ++t) {
    CK(cudaDeviceSynchronize());
    auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r) {
      CK(cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, s1));
      CK(cudaMemcpyAsync(h2, d2, n, cudaMemcpyDeviceToHost, s2));
    }
    CK(cudaDeviceSynchronize());
    bidir = std::max(bidir, 2.0 * double(n) * reps / Seconds(t0, Clock::now()) / 1e9);
  }
  int dev = 0;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp p;
  CK(cudaGetDeviceProperties(&p, dev));
  std::printf("{\"mode\":\"peak\",\"bytes\":%zu,\"reps\":%d,\"h2dGbps\":%.4f,\"d2hGbps\":%.4f,\"bidirGbps\":%.4f,\"asyncEngineCount\":%d,\"method\":\"pinned, CUDA events, best of 3 (bidirectional: wall clock, two streams)\"}\n",
              n, reps, h2d, d2h, bidir, p.asyncEngineCount);
  CK(cudaFree(d));
  CK(cudaFree(d2));
  HostFree(h, true);
  HostFree(h2, true);
  return 0;
}

void PrintStats(const char* name, std::vector<double> us, bool comma) {
  double mean = 0;
  for (double x : us) mean += x;
  mean /= double(us.size());
  std::printf("%s\"%s\":{\"medianUs\":%.3f,\"p99Us\":%.3f,\"meanUs\":%.3f,\"minUs\":%.3f}", comma ? "," : "", name, Median(us),
              Percentile(us, 99), mean, *std::min_element(us.begin(), us.end()));
}

int RoundTrip(int argc, char** argv) {
  int iters = argc > 2 ? std::atoi(argv[2]) : 10000;
  size_t n = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 4096;
  void* hp = HostAlloc(n, true);
  void* hq = HostAlloc(n, false);
  void* d = nullptr;
  CK(cudaMalloc(&d, n));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaEvent_t spin, blocking;
  CK(cudaEventCreateWithFlags(&spin, cudaEventDisableTiming));
  CK(cudaEventCreateWithFlags(&blocking, cudaEventDisableTiming | cudaEventBlockingSync));
  auto measure = [&](void* host, cudaEvent_t ev) {
    std::vector<double> us;
    us.reserve(static_cast<size_t>(iters));
    for (int i = -1000; i < iters; ++i) {
      auto a = Clock::now();
      CK(cudaMemcpyAsync(d, host, n, cudaMemcpyHostToDevice, s));
      CK(cudaEventRecord(ev, s));
      CK(cudaEventSynchronize(ev));
      auto b = Clock::now();
      if (i >= 0) us.push_back(Seconds(a, b) * 1e6);
    }
    return us;
  };
  std::printf("{\"mode\":\"roundtrip\",\"iterations\":%d,\"bytes\":%zu,\"method\":\"cudaMemcpyAsync H2D + cudaEventRecord + cudaEventSynchronize, one at a time, steady_clock\"", iters, n);
  PrintStats("pinnedSpin", measure(hp, spin), true);
  PrintStats("pinnedBlockingSync", measure(hp, blocking), true);
  PrintStats("pageableSpin", measure(hq, spin), true);
  std::printf("}\n");
  CK(cudaFree(d));
  HostFree(hp, true);
  HostFree(hq, false);
  return 0;
}

int Streams(int argc, char** argv) {
  std::vector<size_t> counts = ParseList(argc > 2 ? argv[2] : "1,2,4,8");
  size_t n = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : (size_t(64) << 20);
  int copies = argc > 4 ? std::atoi(argv[4]) : 8;
  size_t maxc = *std::max_element(counts.begin(), counts.end());
  std::vector<void*> h(maxc), d(maxc);
  std::vector<cudaStream_t> s(maxc);
  for (size_t i = 0; i < maxc; ++i) {
    h[i] = HostAlloc(n, true);
    CK(cudaMalloc(&d[i], n));
    CK(cudaStreamCreateWithFlags(&s[i], cudaStreamNonBlocking));
  }
  std::printf("{\"mode\":\"streams\",\"bytes\":%zu,\"copiesPerStream\":%d,\"method\":\"each stream alternates H2D and D2H copies (pinned); aggregate bytes over wall clock, median of 3\",\"results\":[", n, copies);
  for (size_t ci = 0; ci < counts.size(); ++ci) {
    size_t k = counts[ci];
    auto issue = [&] {
      for (int c = 0; c < copies; ++c) {
        for (size_t i = 0; i < k; ++i) {
          if ((c + static_cast<int>(i)) % 2 == 0) {
            CK(cudaMemcpyAsync(d[i], h[i], n, cudaMemcpyHostToDevice, s[i]));
          } else {
            CK(cudaMemcpyAsync(h[i], d[i], n, cudaMemcpyDeviceToHost, s[i]));
          }
        }
      }
      for (size_t i = 0; i < k; ++i) CK(cudaStreamSynchronize(s[i]));
    };
    issue();
    std::vector<double> g;
    for (int t = 0; t < 3; ++t) {
      auto a = Clock::now();
      issue();
      g.push_back(double(n) * copies * k / Seconds(a, Clock::now()) / 1e9);
    }
    std::printf("%s{\"streams\":%zu,\"gbps\":%.4f}", ci ? "," : "", k, Median(g));
  }
  std::printf("]}\n");
  for (size_t i = 0; i < maxc; ++i) {
    HostFree(h[i], true);
    CK(cudaFree(d[i]));
    CK(cudaStreamDestroy(s[i]));
  }
  return 0;
}

int Serve() {
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::vector<cudaEvent_t> evs(2000);
  for (auto& e : evs) CK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  void* h = nullptr;
  void* d = nullptr;
  size_t have = 0;
  bool havePinned = false;
  auto release = [&] {
    if (d) CK(cudaFree(d));
    if (h) HostFree(h, havePinned);
    h = d = nullptr;
    have = 0;
  };
  std::printf("{\"mode\":\"serve\",\"ready\":true}\n");
  std::fflush(stdout);
  char line[256];
  while (std::fgets(line, sizeof line, stdin)) {
    char cmd[16] = {}, kind[16] = {}, dir[16] = {};
    size_t n = 0;
    int reps = 0, ev = 0;
    int got = std::sscanf(line, "%15s %15s %15s %zu %d %d", cmd, kind, dir, &n, &reps, &ev);
    std::string c = got >= 1 ? cmd : "";
    if (c == "quit") break;
    if (c == "free") {
      release();
      std::printf("{\"ok\":true}\n");
    } else if (c == "trial" && got == 6 && n > 0 && reps >= 1 && reps <= 2000) {
      bool pinned = std::string(kind) == "pinned";
      bool h2d = std::string(dir) == "h2d";
      if (n != have || pinned != havePinned || !h) {
        release();
        h = HostAlloc(n, pinned);
        havePinned = pinned;
        CK(cudaMalloc(&d, n));
        have = n;
        CK(cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, s));  // warm-up, both directions
        CK(cudaMemcpyAsync(h, d, n, cudaMemcpyDeviceToHost, s));
        CK(cudaStreamSynchronize(s));
      }
      auto a = Clock::now();
      for (int r = 0; r < reps; ++r) {
        if (h2d) {
          CK(cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, s));
        } else {
          CK(cudaMemcpyAsync(h, d, n, cudaMemcpyDeviceToHost, s));
        }
        if (ev) CK(cudaEventRecord(evs[static_cast<size_t>(r)], s));
      }
      CK(cudaStreamSynchronize(s));
      double sec = Seconds(a, Clock::now());
      std::printf("{\"gbps\":%.4f,\"seconds\":%.6f}\n", double(n) * reps / sec / 1e9, sec);
    } else {
      std::printf("{\"error\":\"bad command: %.60s\"}\n", line);
    }
    std::fflush(stdout);
  }
  release();
  for (auto& e : evs) CK(cudaEventDestroy(e));
  CK(cudaStreamDestroy(s));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    std::printf("{\"skipped\":\"no usable CUDA device: %s\"}\n", e != cudaSuccess ? cudaGetErrorString(e) : "no device");
    return 2;
  }
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "copy") return Copy(argc, argv);
  if (mode == "copyev") return Copy(argc, argv, true);
  if (mode == "peak") return Peak();
  if (mode == "roundtrip") return RoundTrip(argc, argv);
  if (mode == "streams") return Streams(argc, argv);
  if (mode == "serve") return Serve();
  std::fprintf(stderr, "usage: copy_baseline copy|copyev|peak|roundtrip|streams|serve [args]\n");
  return 64;
}
