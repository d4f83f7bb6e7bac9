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

#include <vector>

namespace tn::trt {

// Which TensorRT library serves the process (or one Runtime):
//   kFull      libnvinfer.so.<major>: builder, refitter, ONNX parser and plugins beside it, every engine
//   kLean      libnvinfer_lean.so.<major> (pip: tensorrt-lean-cu13-libs): deserializes and runs version-compatible
//              engines only (BuilderFlag::kVERSION_COMPATIBLE); no builder, no refit, no parser
//   kDispatch  libnvinfer_dispatch.so.<major> (pip: tensorrt-dispatch-cu13-libs): deserializes version-compatible
//              plans that embed the lean runtime (host code: setEngineHostCodeAllowed(true)); no builder, refit, parser
enum class Flavor : int { kFull = 0, kLean = 1, kDispatch = 2 };
const char* FlavorName(Flavor f);  // "full", "lean", "dispatch"
// "full" / "lean" / "dispatch" -> true and *out; anything else -> false.
bool ParseFlavor(const std::string& name, Flavor* out);

struct Probe {
  bool available = false;
  std::string flavor;       // "full" / "lean" / "dispatch": the library this probe is about
  std::string selectedBecause;  // why this flavor serves the process (TENSORRT_NODE_RUNTIME, or what was absent)
  std::string version;      // e.g. "10.16.0" (of the library found)
  std::string buildVersion; // e.g. "10.16.1.11" (getInferLibBuildVersion appended), when the library tells
  std::vector<std::string> cannot;  // what this flavor cannot do (empty for full)
  std::string libraryPath;  // the libnvinfer / libnvinfer_lean / libnvinfer_dispatch that was opened
  std::string onnxParserPath;  // libnvonnxparser, when found
  std::string pluginPath;      // libnvinfer_plugin, when found (plugins initialised)
  std::string reason;       // why it is not available: what was missing and every path searched
};

// Locates and opens the process's TensorRT library (once; later calls return the cached result). Never throws.
// Thread-safe. Which one: $TENSORRT_NODE_RUNTIME=full|lean|dispatch names it (no fallback); unset (or "auto"):
// libnvinfer, else, when no libnvinfer.so.<major> file is found at all, libnvinfer_lean, else libnvinfer_dispatch.
// A library of another major version, or older (major.minor) than the headers compiled in, is not available
// (reason names both versions); a newer minor of the same major is (TensorRT keeps its ABI within a major).
// Companions of libnvinfer (parser, plugins) come from $TENSORRT_LIB_DIR or its own folder.
Probe ProbeTensorRT();
// The same for one flavor's library, whatever the process's selection (opens it on first use).
Probe ProbeFlavor(Flavor f);
// The flavor ProbeTensorRT() is about (kFull when nothing loads).
Flavor SelectedFlavor();

// The TensorRT version of the headers compiled in ("10.16.0"), or nullptr when built without TensorRT.
const char* CompiledVersion();

// Names and addresses of every libnvinfer found in the search path, for diagnostics of a CUDA-only build
// ("built without TensorRT headers; libnvinfer.so.10 exists at ..."). Never throws.
std::string DescribeInstalledLibraries();

#if TN_HAVE_TENSORRT
// Each of these opens the library on first use and throws tn::NativeError("TENSORRT_UNAVAILABLE", <probe
// reason>) when it cannot. The returned objects use tn::trt::Logger() (native/logger.h). Thread-safe.
nvinfer1::IBuilder* CreateBuilder();
// Throws TENSORRT_UNAVAILABLE ("<what> is not available: tensorrt-node is using the lean runtime ...") unless the
// process's library is the full one; the Builder calls it before it looks for CUDA.
void RequireFullLibrary(const char* what);
// CreateBuilder, CreateRefitter, CreateOnnxParser and ResolveOptional throw TENSORRT_UNAVAILABLE naming the flavor
// and what to install when the process's library is the lean or dispatch runtime.
nvinfer1::IRuntime* CreateRuntime();
// An IRuntime of that flavor's library (TENSORRT_UNAVAILABLE when it cannot be loaded).
nvinfer1::IRuntime* CreateRuntime(Flavor f);
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
