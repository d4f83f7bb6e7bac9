// Run-time loading of the TensorRT libraries (dlopen). Declarations per the team contract; implemented in
// native/loader.cc (engineer B). Compiles with and without TensorRT headers (TN_HAVE_TENSORRT 0 / 1).
#pragma once

#include <string>

namespace tn::trt {

struct Probe {
  bool available = false;
  std::string version;      // e.g. "10.16.0" (of the library found)
  std::string libraryPath;  // the libnvinfer that was opened
  std::string reason;       // why it is not available: what was missing and every path searched
};

// Locates and opens libnvinfer (once; later calls return the cached result). Never throws.
Probe ProbeTensorRT();

// The TensorRT version of the headers compiled in ("10.16.0"), or nullptr when built without TensorRT.
const char* CompiledVersion();

}  // namespace tn::trt
