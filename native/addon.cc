// tensorrt_node addon entry point: registers every module, nothing else.
#include <napi.h>

#include "modules.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tn::InitCuda(env, exports);
  tn::InitInfo(env, exports);
  tn::InitLogger(env, exports);
  tn::InitTrt(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorrt_node, Init)
