// tensorrt_node addon entry point.
#include <napi.h>

#include "loader.h"
#include "modules.h"

// Weak fallbacks so that the addon links (CUDA part only) while the TensorRT files are absent. The real
// definitions in native/trt.cc and native/loader.cc (strong symbols) replace these at link time.
namespace tn {
__attribute__((weak)) void InitTrt(Napi::Env, Napi::Object) {}
namespace trt {
__attribute__((weak)) Probe ProbeTensorRT() {
  Probe p;
  p.available = false;
  p.reason = "tensorrt-node was built without its TensorRT loader (native/loader.cc missing)";
  return p;
}
__attribute__((weak)) const char* CompiledVersion() { return nullptr; }
}  // namespace trt
}  // namespace tn

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tn::InitCuda(env, exports);
  tn::InitInfo(env, exports);
  tn::InitTrt(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorrt_node, Init)
