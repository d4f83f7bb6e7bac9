// Run-time loading of the TensorRT libraries (dlopen). CONTRACT shared by every TensorRT file of the addon;
// implemented in native/loader.cc. Compiles with and without TensorRT headers (TN_HAVE_TENSORRT 0 / 1).
//
// Nothing here links a TensorRT symbol: factories are resolved with dlsym and called with the compiled
// NV_TENSORRT_VERSION (never the inline createInferBuilder() helpers). `nm -D --undefined-only` on the .node
// must show no TensorRT symbol.
#pragma once

#include <string>

#if TN_HAVE_TENSORRT
#include <NvInfer.h>
#include <NvOnnxParser.h>
#endif

namespace tn::trt {

struct Probe {
  bool available = false;
  std::string version;      // e.g. "10.16.0" (of the library found)
  std::string libraryPath;  // the libnvinfer that was opened
  std::string onnxParserPath;  // libnvonnxparser, when found
  std::string pluginPath;      // libnvinfer_plugin, when found (plugins initialised)
  std::string reason;       // why it is not available: what was missing and every path searched
};

// Locates and opens libnvinfer (once; later calls return the cached result). Never throws. Thread-safe.
// A library of another major version, or older (major.minor) than the headers compiled in, is not available
// (reason names both versions). Its companions (parser, plugins) come from $TENSORRT_LIB_DIR or its own folder.
Probe ProbeTensorRT();

// The TensorRT version of the headers compiled in ("10.16.0"), or nullptr when built without TensorRT.
const char* CompiledVersion();

// Names and addresses of every libnvinfer found in the search path, for diagnostics of a CUDA-only build
// ("built without TensorRT headers; libnvinfer.so.10 exists at ..."). Never throws.
std::string DescribeInstalledLibraries();

#if TN_HAVE_TENSORRT
// Each of these opens the library on first use and throws tn::NativeError("TENSORRT_UNAVAILABLE", <probe
// reason>) when it cannot. The returned objects use tn::trt::Logger() (native/logger.h). Thread-safe.
nvinfer1::IBuilder* CreateBuilder();
nvinfer1::IRuntime* CreateRuntime();
nvinfer1::IRefitter* CreateRefitter(nvinfer1::ICudaEngine& engine);
// Throws TENSORRT_UNAVAILABLE naming libnvonnxparser.so.<major> and the paths searched when it is missing.
nvonnxparser::IParser* CreateOnnxParser(nvinfer1::INetworkDefinition& network);
// Opens lib<base>.so.<major> (from $TENSORRT_LIB_DIR when set, else beside libnvinfer, and nowhere else; once per
// base) and resolves
// `symbol` in it. nullptr when TensorRT, the library or the symbol is missing; `reason` then says which and where
// it looked. Used for optional parts (libnvparsers' UFF parser on TensorRT <= 8.6).
void* ResolveOptional(const std::string& base, const char* symbol, std::string* reason);
// Whether libnvonnxparser could be opened (opens it on first use). `reason` gets why not.
bool OnnxParserAvailable(std::string* reason);
#endif

}  // namespace tn::trt
