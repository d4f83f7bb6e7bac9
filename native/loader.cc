// Finding and dlopen-ing TensorRT (see loader.h).
//
// Three libraries can serve (loader.h, Flavor): libnvinfer (full), libnvinfer_lean (lean runtime) and
// libnvinfer_dispatch (dispatch runtime). $TENSORRT_NODE_RUNTIME=full|lean|dispatch picks one; unset, libnvinfer is
// taken, or the lean and then the dispatch runtime when no libnvinfer.so.<major> file exists at all. A Runtime may
// name its own flavor (new Runtime({ flavor })), which opens that library too.
//
// Search order for lib<name>.so.<major> (and then libnvonnxparser.so.<major>, libnvinfer_plugin.so.<major>):
//   1. $TENSORRT_LIB_DIR (a directory, or several separated by ':')
//   2. each directory of $LD_LIBRARY_PATH
//   3. the system linker: dlopen("<soname>") (ld.so cache, RUNPATH, /lib, /usr/lib, ...)
//   4. the folder of pip-installed TensorRT: {site,dist}-packages/<folder> under /usr/lib/python3*,
//      /usr/local/lib/python3*, ~/.local/lib/python3*, $VIRTUAL_ENV/lib/python3*, $CONDA_PREFIX/lib/python3*, where
//      <folder> is tensorrt_libs (full), tensorrt_lean_libs (tensorrt-lean-cu*-libs) or tensorrt_dispatch_libs
// The parser and the plugin library (and libnvparsers) are companions of libnvinfer: they are taken from the folders
// of $TENSORRT_LIB_DIR when it is set, else from the folder of the libnvinfer that was opened, and nowhere else,
// so that they never come from another TensorRT install (defect #11). Where their file names carry a version
// (libnvonnxparser.so.10.16.0, the usual symlink targets), it must be libnvinfer's major.minor. The lean runtime's
// companion libnvinfer_vc_plugin.so.<major> (the plugins of version-compatible engines) is preloaded from its folder.
// A library older (major.minor) than the headers compiled in is refused (defect #2): the headers' inline methods
// call virtual functions that an older library does not have (getDeviceMemorySizeV2, getProfileTensorValuesV2...).
// A newer minor of the same major (an 11.4 library under 11.1 headers) is accepted: TensorRT only appends virtual
// functions within a major, so every function the older headers call exists there.
// Only factories and a few C functions are resolved (dlsym); nothing links against TensorRT.
#include "loader.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <glob.h>
#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "compat.h"
#include "errors.h"
#include "logger.h"

namespace tn::trt {

namespace {

bool IsFile(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> SplitPath(const char* v) {
  std::vector<std::string> out;
  if (!v) return out;
  std::string s(v), cur;
  for (char c : s) {
    if (c == ':') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Glob patterns of pip-installed TensorRT library folders (`folder`: tensorrt_libs, tensorrt_lean_libs, ...).
std::vector<std::string> PythonPatterns(const std::string& folder = "tensorrt_libs") {
  std::vector<std::string> prefixes = {"/usr/lib", "/usr/local/lib"};
  std::string home = Env("HOME");
  if (!home.empty()) prefixes.push_back(home + "/.local/lib");
  std::string venv = Env("VIRTUAL_ENV");
  if (!venv.empty()) prefixes.push_back(venv + "/lib");
  std::string conda = Env("CONDA_PREFIX");
  if (!conda.empty()) prefixes.push_back(conda + "/lib");
  std::vector<std::string> out;
  for (const auto& p : prefixes) {
    out.push_back(p + "/python3*/site-packages/" + folder);
    out.push_back(p + "/python3*/dist-packages/" + folder);
  }
  return out;
}

// Folders (dirs = true) or files matching a glob pattern.
std::vector<std::string> Glob(const std::string& pattern, bool dirs = true) {
  std::vector<std::string> out;
  glob_t g;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      if (dirs ? IsDir(g.gl_pathv[i]) : IsFile(g.gl_pathv[i])) out.push_back(g.gl_pathv[i]);
    }
  }
  globfree(&g);
  return out;
}

// One search for a library: tries every location in order, records what happened at each.
struct Found {
  void* handle = nullptr;
  std::string path;      // what was opened
  std::string searched;  // "where (outcome); ..." of every location looked at
};

void Note(std::string& s, const std::string& what) {
  if (!s.empty()) s += "; ";
  s += what;
}

// Where the library file `soname` is loaded from, for a handle opened by soname.
[[maybe_unused]] std::string HandlePath(void* h, const std::string& fallback) {
  // dladdr on a symbol would need one; dlinfo(RTLD_DI_ORIGIN) gives the folder.
  char origin[4096] = {0};
  if (dlinfo(h, RTLD_DI_ORIGIN, origin) == 0 && origin[0]) return std::string(origin) + "/" + fallback;
  return fallback;
}

[[maybe_unused]] Found OpenLibrary(const std::string& soname, const std::string& firstDir,
                                   const std::string& pipFolder = "tensorrt_libs") {
  Found f;
  auto tryDir = [&](const std::string& dir, const std::string& label) -> bool {
    std::string p = dir + "/" + soname;
    if (!IsFile(p)) {
      Note(f.searched, label + p + " (not found)");
      return false;
    }
    dlerror();
    void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      Note(f.searched, label + p + " (dlopen failed: " + (e ? e : "unknown error") + ")");
      return false;
    }
    f.handle = h;
    f.path = p;
    return true;
  };
  if (!firstDir.empty() && tryDir(firstDir, "")) return f;
  // 1. $TENSORRT_LIB_DIR
  auto trtDirs = SplitPath(std::getenv("TENSORRT_LIB_DIR"));
  if (trtDirs.empty()) Note(f.searched, "$TENSORRT_LIB_DIR (unset)");
  for (const auto& d : trtDirs) {
    if (tryDir(d, "$TENSORRT_LIB_DIR ")) return f;
  }
  // 2. $LD_LIBRARY_PATH
  auto ldDirs = SplitPath(std::getenv("LD_LIBRARY_PATH"));
  if (ldDirs.empty()) Note(f.searched, "$LD_LIBRARY_PATH (unset)");
  for (const auto& d : ldDirs) {
    if (tryDir(d, "$LD_LIBRARY_PATH ")) return f;
  }
  // 3. the system linker
  dlerror();
  void* h = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h) {
    f.handle = h;
    f.path = HandlePath(h, soname);
    return f;
  }
  {
    const char* e = dlerror();
    Note(f.searched, "the system linker: dlopen(\"" + soname + "\") (ld.so cache, /lib, /usr/lib, /lib64, /usr/lib64: " +
                         (e ? e : "not found") + ")");
  }
  // 4. pip-installed TensorRT
  if (Env("VIRTUAL_ENV").empty()) Note(f.searched, "$VIRTUAL_ENV (unset)");
  if (Env("CONDA_PREFIX").empty()) Note(f.searched, "$CONDA_PREFIX (unset)");
  for (const auto& pattern : PythonPatterns(pipFolder)) {
    auto dirs = Glob(pattern);
    if (dirs.empty()) {
      Note(f.searched, pattern + " (no such folder)");
      continue;
    }
    for (const auto& d : dirs) {
      if (tryDir(d, "")) return f;
    }
  }
  return f;
}

[[maybe_unused]] std::string Dirname(const std::string& p) {
  auto k = p.rfind('/');
  return k == std::string::npos ? std::string() : p.substr(0, k);
}

// The version in a library's real file name ("libnvonnxparser.so.10.16.0" after symlinks: "10.16.0"); "" when the
// name has no major.minor after ".so." (pip's tensorrt_libs ships plain "libnvonnxparser.so.10" files).
[[maybe_unused]] std::string FileVersion(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  std::string name = real ? std::string(real) : path;
  std::free(real);
  auto slash = name.rfind('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  auto so = name.find(".so.");
  if (so == std::string::npos) return "";
  std::string v = name.substr(so + 4);
  if (v.find('.') == std::string::npos) return "";
  for (char c : v) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return "";
  }
  return v;
}

// "10.16" of "10.16.0".
[[maybe_unused]] std::string MajorMinor(const std::string& v) {
  auto a = v.find('.');
  if (a == std::string::npos) return v;
  auto b = v.find('.', a + 1);
  return b == std::string::npos ? v : v.substr(0, b);
}

// Opens a companion library of libnvinfer (see the top of this file): from $TENSORRT_LIB_DIR when set, else from
// `nvinferPath`'s folder; its file-name version, when it has one, must match `nvinferVersion`'s major.minor.
[[maybe_unused]] Found OpenCompanion(const std::string& soname, const std::string& nvinferPath,
                                     const std::string& nvinferVersion) {
  Found f;
  std::vector<std::pair<std::string, std::string>> dirs;  // folder, label
  auto trtDirs = SplitPath(std::getenv("TENSORRT_LIB_DIR"));
  for (const auto& d : trtDirs) dirs.emplace_back(d, "$TENSORRT_LIB_DIR ");
  if (trtDirs.empty()) dirs.emplace_back(Dirname(nvinferPath), "beside libnvinfer: ");
  for (const auto& [dir, label] : dirs) {
    std::string p = dir + "/" + soname;
    if (!IsFile(p)) {
      Note(f.searched, label + p + " (not found)");
      continue;
    }
    std::string v = FileVersion(p);
    if (!v.empty() && !nvinferVersion.empty() && MajorMinor(v) != MajorMinor(nvinferVersion)) {
      Note(f.searched, label + p + " (TensorRT " + v + ", but libnvinfer " + nvinferPath + " is " + nvinferVersion +
                           ": not mixed)");
      continue;
    }
    dlerror();
    void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      Note(f.searched, label + p + " (dlopen failed: " + (e ? e : "unknown error") + ")");
      continue;
    }
    f.handle = h;
    f.path = p;
    return f;
  }
  if (trtDirs.empty()) {
    Note(f.searched, "(only the folder of libnvinfer is searched, so that it never comes from another TensorRT; set "
                     "TENSORRT_LIB_DIR to name its folder)");
  }
  return f;
}

}  // namespace

const char* FlavorName(Flavor f) {
  switch (f) {
    case Flavor::kLean: return "lean";
    case Flavor::kDispatch: return "dispatch";
    default: return "full";
  }
}

bool ParseFlavor(const std::string& name, Flavor* out) {
  for (Flavor f : {Flavor::kFull, Flavor::kLean, Flavor::kDispatch}) {
    if (name == FlavorName(f)) {
      *out = f;
      return true;
    }
  }
  return false;
}

std::string DescribeInstalledLibraries() {
  std::string found;
  try {
    for (int major : {11, 10, 9, 8})
    for (const char* base : {"libnvinfer", "libnvinfer_lean", "libnvinfer_dispatch"}) {
      std::string soname = std::string(base) + ".so." + std::to_string(major);
      std::string folder = std::string(base) == "libnvinfer" ? "tensorrt_libs"
                           : std::string(base) == "libnvinfer_lean" ? "tensorrt_lean_libs" : "tensorrt_dispatch_libs";
      std::vector<std::string> dirs = SplitPath(std::getenv("TENSORRT_LIB_DIR"));
      for (const auto& d : SplitPath(std::getenv("LD_LIBRARY_PATH"))) dirs.push_back(d);
      for (const auto& pattern : PythonPatterns(folder)) {
        for (const auto& d : Glob(pattern)) dirs.push_back(d);
      }
      for (const char* d : {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/lib64",
                            "/usr/local/lib", "/usr/local/tensorrt/lib"}) {
        dirs.push_back(d);
      }
      for (const auto& d : dirs) {
        std::string p = d + "/" + soname;
        if (IsFile(p)) {
          Note(found, p);
          break;
        }
      }
    }
  } catch (...) {
    return "";
  }
  return found;
}

#if !TN_HAVE_TENSORRT

const char* CompiledVersion() { return nullptr; }

Probe ProbeTensorRT() {
  Probe p;
  p.available = false;
  p.reason =
      "tensorrt-node was built without TensorRT headers (CUDA-only addon); rebuild it with "
      "TENSORRT_NODE_BUILD_FROM_SOURCE=1 TENSORRT_INCLUDE_DIR=/path/to/TensorRT/include npm rebuild tensorrt-node";
  std::string libs = DescribeInstalledLibraries();
  if (!libs.empty()) p.reason += " (TensorRT libraries present on this system: " + libs + ")";
  return p;
}

Probe ProbeFlavor(Flavor f) {
  Probe p = ProbeTensorRT();
  p.flavor = FlavorName(f);
  return p;
}

Flavor SelectedFlavor() { return Flavor::kFull; }

#else  // TN_HAVE_TENSORRT

namespace {

using CreateFn = void* (*)(void* logger, int32_t version);
using RefitterFn = void* (*)(void* engine, void* logger, int32_t version);
using ParserFn = void* (*)(void* network, void* logger, int version);
using VersionFn = int32_t (*)();
using PluginInitFn = bool (*)(void* logger, const char* libNamespace);

#define TN_STR2(x) #x
#define TN_STR(x) TN_STR2(x)
const char kCompiled[] = TN_STR(NV_TENSORRT_MAJOR) "." TN_STR(NV_TENSORRT_MINOR) "." TN_STR(NV_TENSORRT_PATCH);
const std::string kMajor = std::to_string(NV_TENSORRT_MAJOR);
const std::string kCudaMajor = std::to_string(CUDART_VERSION / 1000);

// Per flavor: the library's base name, its pip folder and pip package.
struct FlavorSpec {
  const char* base;
  const char* pipFolder;
  const char* pipPackage;  // "-cu<CUDA major>" appended
};
const FlavorSpec& Spec(Flavor f) {
  static const FlavorSpec specs[] = {
      {"libnvinfer", "tensorrt_libs", "tensorrt-cu"},
      {"libnvinfer_lean", "tensorrt_lean_libs", "tensorrt-lean-cu"},
      {"libnvinfer_dispatch", "tensorrt_dispatch_libs", "tensorrt-dispatch-cu"},
  };
  return specs[static_cast<int>(f)];
}
std::string Soname(Flavor f) { return std::string(Spec(f).base) + ".so." + kMajor; }
std::string PipPackage(Flavor f) {
  std::string p = std::string(Spec(f).pipPackage) + kCudaMajor;
  return f == Flavor::kFull ? p : p + "-libs";
}

// What the lean and dispatch runtimes cannot do (runtimeInfo().tensorrt.cannot), from TensorRT's documentation of
// them (developer guide, "Version Compatibility" / "Engine Compatibility").
std::vector<std::string> Cannot(Flavor f) {
  if (f == Flavor::kFull) return {};
  std::vector<std::string> c = {
      "build engines (no IBuilder: Builder, buildEngine, loadEngine of ONNX models)",
      "parse ONNX models (no libnvonnxparser)",
      "refit engines (IRefitter)",
      "deserialize engines that were not built version-compatible (BuilderFlag::kVERSION_COMPATIBLE)",
  };
  if (f == Flavor::kDispatch) {
    c.push_back(
        "deserialize plans without the lean runtime embedded (BuilderFlag::kEXCLUDE_LEAN_RUNTIME), nor any plan "
        "unless engine host code is allowed (Runtime option engineHostCodeAllowed: true)");
  }
  return c;
}

struct State {
  Probe probe;
  bool located = false;  // a file of the library's name was found (even if it could not be used)
  void* nvinfer = nullptr;
  CreateFn createBuilder = nullptr;
  CreateFn createRuntime = nullptr;
  RefitterFn createRefitter = nullptr;
  // ONNX parser: opened lazily (first CreateOnnxParser / OnnxParserAvailable), once.
  bool parserTried = false;
  void* nvonnxparser = nullptr;
  ParserFn createParser = nullptr;
  std::string parserReason;
  // Optional libraries by base name: handle (nullptr when missing) and why.
  std::map<std::string, std::pair<void*, std::string>> optional;
};

std::mutex g_mutex;
State* g_states[3] = {nullptr, nullptr, nullptr};  // never freed: TensorRT objects may outlive module teardown
bool g_selected = false;  // g_selection was decided
Flavor g_selection = Flavor::kFull;
std::string g_selectedBecause;
std::string g_selectionError;  // TENSORRT_NODE_RUNTIME has a value we do not know

void DecodeLibVersion(int32_t v, int* major, int* minor, int* patch) {
  if (v >= 100000) {  // 10.x+: M*10000 + m*100 + p
    *major = v / 10000;
    *minor = (v / 100) % 100;
    *patch = v % 100;
  } else {  // 8.x: M*1000 + m*100 + p
    *major = v / 1000;
    *minor = (v / 100) % 10;
    *patch = v % 100;
  }
}

State& Load(Flavor flavor) {
  // caller holds g_mutex
  State*& slot = g_states[static_cast<int>(flavor)];
  if (slot) return *slot;
  slot = new State();
  State& s = *slot;
  Probe& p = s.probe;
  p.flavor = FlavorName(flavor);
  p.cannot = Cannot(flavor);
  const std::string soname = Soname(flavor);
  Found f = OpenLibrary(soname, "", Spec(flavor).pipFolder);
  if (!f.handle) {
    s.located = f.searched.find("(dlopen failed") != std::string::npos;
    p.reason = soname + " (TensorRT " + kMajor + ".x" + (flavor == Flavor::kFull ? "" : std::string(", ") + FlavorName(flavor) + " runtime") +
               ", which tensorrt-node was compiled for: " + kCompiled + " headers) was not found. Searched: " +
               f.searched + ". Install TensorRT " + kMajor + " (" +
               (flavor == Flavor::kFull ? "tar/deb/rpm or " : "") + "`pip install " + PipPackage(flavor) + "==" + kMajor +
               ".*`) and/or set TENSORRT_LIB_DIR";
    std::string others = DescribeInstalledLibraries();
    if (!others.empty()) p.reason += ". Other TensorRT libraries present: " + others;
    return s;
  }
  s.located = true;
  p.libraryPath = f.path;
  auto sym = [&](const char* name) -> void* {
    dlerror();
    void* a = dlsym(f.handle, name);
    return a;
  };
  auto version = reinterpret_cast<VersionFn>(sym("getInferLibVersion"));
  auto build = reinterpret_cast<VersionFn>(sym("getInferLibBuildVersion"));
  s.createRuntime = reinterpret_cast<CreateFn>(sym("createInferRuntime_INTERNAL"));
  std::string missing;
  if (!version) Note(missing, "getInferLibVersion");
  if (!s.createRuntime) Note(missing, "createInferRuntime_INTERNAL");
  if (flavor == Flavor::kFull) {
    // The lean and dispatch libraries export createInferRefitter_INTERNAL too, but TensorRT documents that they
    // cannot refit: only the full library's is used. It is optional (review 2, #12): a library without it loads,
    // and only CreateRefitter() fails (TENSORRT_UNAVAILABLE naming the symbol).
    s.createBuilder = reinterpret_cast<CreateFn>(sym("createInferBuilder_INTERNAL"));
    s.createRefitter = reinterpret_cast<RefitterFn>(sym("createInferRefitter_INTERNAL"));
    if (!s.createBuilder) Note(missing, "createInferBuilder_INTERNAL");
  }
  auto refuse = [&](const std::string& why) -> State& {
    p.reason = why;
    s.createBuilder = nullptr;
    s.createRuntime = nullptr;
    s.createRefitter = nullptr;
    return s;
  };
  if (!missing.empty()) return refuse(f.path + " is not a usable TensorRT library: missing symbol(s) " + missing);
  int major = 0, minor = 0, patch = 0;
  DecodeLibVersion(version(), &major, &minor, &patch);
  p.version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (build) p.buildVersion = p.version + "." + std::to_string(build());
  if (major == NV_TENSORRT_MAJOR && minor < NV_TENSORRT_MINOR) {
    return refuse(f.path + " is TensorRT " + p.version + ", older than the TensorRT " + kCompiled +
                  " headers tensorrt-node was compiled against: the headers call functions that library does not "
                  "have. Install TensorRT " + MajorMinor(kCompiled) + " or newer, or rebuild tensorrt-node against the "
                  "headers of " + p.version + " (TENSORRT_NODE_BUILD_FROM_SOURCE=1 TENSORRT_INCLUDE_DIR=... npm rebuild tensorrt-node)");
  }
  if (major != NV_TENSORRT_MAJOR) {
    return refuse(f.path + " is TensorRT " + p.version + " but tensorrt-node was compiled against TensorRT " +
                  kCompiled + " headers: the major versions must match (install TensorRT " + kMajor +
                  " or rebuild tensorrt-node against the headers of " + p.version + ")");
  }
  s.nvinfer = f.handle;
  p.available = true;
  if (flavor != Flavor::kFull) {
    // The lean runtime opens libnvinfer_vc_plugin.so.<major> by soname (the plugins of version-compatible engines);
    // preload the copy beside it, as pip's tensorrt_lean_libs/__init__.py does, so that a folder outside the
    // linker's path works.
    for (const auto& vc : Glob(Dirname(f.path) + "/libnvinfer_vc_plugin.so*", false)) {
      if (dlopen(vc.c_str(), RTLD_NOW | RTLD_LOCAL)) p.pluginPath = vc;
    }
    return s;
  }
  // libnvinfer dlopens its builder resource library by soname when building; preload the copies next to it so
  // that a folder outside the linker's path (TENSORRT_LIB_DIR, pip's tensorrt_libs) works like pip's own loader.
  for (const auto& res : Glob(Dirname(f.path) + "/libnvinfer_builder_resource*.so*", false)) {
    dlopen(res.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  // Plugins (optional): a companion of libnvinfer (see the top of this file).
  const std::string pluginName = "libnvinfer_plugin.so." + kMajor;
  Found pl = OpenCompanion(pluginName, f.path, p.version);
  if (pl.handle) {
    dlerror();
    auto init = reinterpret_cast<PluginInitFn>(dlsym(pl.handle, "initLibNvInferPlugins"));
    if (!init) {
      p.reason = "note: " + pl.path + " has no symbol initLibNvInferPlugins: TensorRT's plugins are not registered";
    } else if (!init(static_cast<void*>(&Logger()), "")) {
      p.reason = "note: initLibNvInferPlugins (" + pl.path +
                 ") returned false: TensorRT's plugins are not registered (see the TensorRT log)";
    } else {
      p.pluginPath = pl.path;
    }
  }
  return s;
}

// The process's flavor (loader.h, ProbeTensorRT), decided once. Caller holds g_mutex.
State& Selected() {
  if (g_selected) return Load(g_selection);
  g_selected = true;
  std::string env = Env("TENSORRT_NODE_RUNTIME");
  Flavor f = Flavor::kFull;
  if (!env.empty() && env != "auto") {
    if (!ParseFlavor(env, &f)) {
      g_selectionError = "TENSORRT_NODE_RUNTIME='" + env + "' is not one of full, lean, dispatch (or auto, the default)";
      g_selection = Flavor::kFull;
      return Load(Flavor::kFull);
    }
    g_selection = f;
    g_selectedBecause = std::string("TENSORRT_NODE_RUNTIME=") + env;
    return Load(f);
  }
  State& full = Load(Flavor::kFull);
  if (full.probe.available || full.located) {
    g_selection = Flavor::kFull;
    g_selectedBecause = full.probe.available ? "libnvinfer.so." + kMajor + " was found (TENSORRT_NODE_RUNTIME unset)" : "";
    return full;
  }
  std::string tried;
  for (Flavor alt : {Flavor::kLean, Flavor::kDispatch}) {
    State& s = Load(alt);
    if (s.probe.available) {
      g_selection = alt;
      g_selectedBecause = "no " + Soname(Flavor::kFull) + " (the full TensorRT library) was found, and TENSORRT_NODE_RUNTIME " +
                          "is unset: the " + FlavorName(alt) + " runtime " + Soname(alt) + " serves" +
                          (tried.empty() ? "" : " (" + tried + ")");
      return s;
    }
    Note(tried, Soname(alt) + ": " + s.probe.reason);
  }
  g_selection = Flavor::kFull;
  return full;
}

// The probe of the selected flavor, with the selection's own error or explanation folded in.
Probe SelectedProbe() {
  State& s = Selected();
  Probe p = s.probe;
  if (!g_selectionError.empty()) {
    p.available = false;
    p.reason = g_selectionError;
    return p;
  }
  p.selectedBecause = g_selectedBecause;
  if (!p.available && g_selection == Flavor::kFull && g_selectedBecause.empty() && !s.located) {
    // nothing loads: say that the runtime-only libraries were looked for too
    for (Flavor alt : {Flavor::kLean, Flavor::kDispatch}) {
      const State* a = g_states[static_cast<int>(alt)];
      if (a) p.reason += ". Neither does the " + std::string(FlavorName(alt)) + " runtime load: " + a->probe.reason;
    }
  }
  return p;
}

// "the lean runtime libnvinfer_lean.so.10 (/path, TensorRT 10.16.1), selected because ...": for messages.
std::string DescribeSelected(const State& s) {
  std::string d = std::string("the ") + FlavorName(g_selection) + " runtime " + Soname(g_selection);
  if (!s.probe.libraryPath.empty()) d += " (" + s.probe.libraryPath + ", TensorRT " + s.probe.version + ")";
  if (!g_selectedBecause.empty()) d += ", selected because " + g_selectedBecause;
  return d;
}

// TENSORRT_UNAVAILABLE for `what` (the builder, the ONNX parser, refit) on a runtime-only process. Caller holds g_mutex.
[[noreturn]] void RuntimeOnly(const State& s, const std::string& what) {
  throw NativeError("TENSORRT_UNAVAILABLE",
                    what + " is not available: tensorrt-node is using " + DescribeSelected(s) + ", which only " +
                        "deserializes and runs version-compatible engines. " + what + " needs the full TensorRT " +
                        "library " + Soname(Flavor::kFull) + ": install it (`pip install " + PipPackage(Flavor::kFull) +
                        "==" + kMajor + ".*`, or TensorRT's tar/deb/rpm packages) and unset TENSORRT_NODE_RUNTIME " +
                        "(or set it to full)");
}

[[noreturn]] void Unavailable(const Probe& p) {
  throw NativeError("TENSORRT_UNAVAILABLE", "TensorRT " + std::string(kCompiled) +
                                                (p.flavor.empty() || p.flavor == "full" ? "" : " (" + p.flavor + " runtime)") +
                                                " (compiled in) cannot be loaded: " +
                                                (p.reason.empty() ? "unknown reason" : p.reason));
}

// The selected state, usable for building / parsing / refitting (full flavor, available); throws otherwise.
State& FullOrThrow(const std::string& what) {
  // caller holds g_mutex
  State& s = Selected();
  Probe p = SelectedProbe();
  if (!p.available) Unavailable(p);
  if (g_selection != Flavor::kFull) RuntimeOnly(s, what);
  return s;
}

void LoadParser(State& s) {
  // caller holds g_mutex
  if (s.parserTried) return;
  s.parserTried = true;
  if (!s.probe.available) {
    s.parserReason = s.probe.reason;
    return;
  }
  const std::string soname = "libnvonnxparser.so." + kMajor;
  Found f = OpenCompanion(soname, s.probe.libraryPath, s.probe.version);
  if (!f.handle) {
    s.parserReason = soname + " (the TensorRT ONNX parser) was not found. Searched: " + f.searched;
    return;
  }
  dlerror();
  s.createParser = reinterpret_cast<ParserFn>(dlsym(f.handle, "createNvOnnxParser_INTERNAL"));
  if (!s.createParser) {
    s.parserReason = f.path + " has no symbol createNvOnnxParser_INTERNAL";
    return;
  }
  s.nvonnxparser = f.handle;
  s.probe.onnxParserPath = f.path;
}

[[noreturn]] void FactoryFailed(const char* what) {
  throw NativeError("TENSORRT_ERROR", std::string(what) + " returned null (see the TensorRT log for why)");
}

nvinfer1::IRuntime* NewRuntime(CreateFn create) {
  LogCapture capture;
  void* r = create(static_cast<void*>(&Logger()), NV_TENSORRT_VERSION);
  if (!r) {
    std::string said = capture.Take();
    if (!said.empty()) throw NativeError("TENSORRT_ERROR", "createInferRuntime failed: " + said);
    FactoryFailed("createInferRuntime");
  }
  return static_cast<nvinfer1::IRuntime*>(r);
}

}  // namespace

const char* CompiledVersion() { return kCompiled; }

Probe ProbeTensorRT() {
  try {
    std::lock_guard<std::mutex> lock(g_mutex);
    State& s = Selected();
    if (s.probe.available && g_selection == Flavor::kFull) LoadParser(s);  // report the parser path too
    return SelectedProbe();
  } catch (const std::exception& e) {
    Probe p;
    p.reason = std::string("probing TensorRT failed: ") + e.what();
    return p;
  }
}

Probe ProbeFlavor(Flavor f) {
  try {
    std::lock_guard<std::mutex> lock(g_mutex);
    State& s = Load(f);
    if (s.probe.available && f == Flavor::kFull) LoadParser(s);
    Probe p = s.probe;
    if (g_selected && g_selection == f && g_selectionError.empty()) p.selectedBecause = g_selectedBecause;
    return p;
  } catch (const std::exception& e) {
    Probe p;
    p.flavor = FlavorName(f);
    p.reason = std::string("probing TensorRT failed: ") + e.what();
    return p;
  }
}

Flavor SelectedFlavor() {
  std::lock_guard<std::mutex> lock(g_mutex);
  Selected();
  return g_selection;
}

void RequireFullLibrary(const char* what) {
  std::lock_guard<std::mutex> lock(g_mutex);
  FullOrThrow(what);
}

nvinfer1::IBuilder* CreateBuilder() {
  CreateFn create = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    create = FullOrThrow("The TensorRT builder").createBuilder;
  }
  LogCapture capture;
  void* b = create(static_cast<void*>(&Logger()), NV_TENSORRT_VERSION);
  if (!b) {
    std::string said = capture.Take();
    if (!said.empty()) throw NativeError("TENSORRT_ERROR", "createInferBuilder failed: " + said);
    FactoryFailed("createInferBuilder");
  }
  return static_cast<nvinfer1::IBuilder*>(b);
}

nvinfer1::IRuntime* CreateRuntime() {
  CreateFn create = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    Selected();
    Probe p = SelectedProbe();
    if (!p.available) Unavailable(p);
    create = Load(g_selection).createRuntime;
  }
  return NewRuntime(create);
}

nvinfer1::IRuntime* CreateRuntime(Flavor f) {
  CreateFn create = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    State& s = Load(f);
    if (!s.probe.available) Unavailable(s.probe);
    create = s.createRuntime;
  }
  return NewRuntime(create);
}

nvinfer1::IRefitter* CreateRefitter(nvinfer1::ICudaEngine& engine) {
  RefitterFn create = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    State& s = FullOrThrow("Refitting engines");
    create = s.createRefitter;
    if (!create) {
      throw NativeError("TENSORRT_UNAVAILABLE", "Refitting engines is not available: " + s.probe.libraryPath +
                                                    " does not export createInferRefitter_INTERNAL");
    }
  }
  LogCapture capture;
  void* r = create(static_cast<void*>(&engine), static_cast<void*>(&Logger()), NV_TENSORRT_VERSION);
  if (!r) {
    std::string said = capture.Take();
    if (!said.empty()) throw NativeError("TENSORRT_ERROR", "createInferRefitter failed: " + said);
    FactoryFailed("createInferRefitter");
  }
  return static_cast<nvinfer1::IRefitter*>(r);
}

void* ResolveOptional(const std::string& base, const char* symbol, std::string* reason) {
  std::lock_guard<std::mutex> lock(g_mutex);
  State& s = Selected();
  if (!s.probe.available || !g_selectionError.empty()) {
    if (reason) *reason = SelectedProbe().reason;
    return nullptr;
  }
  if (g_selection != Flavor::kFull) {
    if (reason) {
      *reason = base + ".so." + kMajor + " is a companion of the full TensorRT library, but tensorrt-node is using " +
                DescribeSelected(s);
    }
    return nullptr;
  }
  auto it = s.optional.find(base);
  if (it == s.optional.end()) {
    const std::string soname = base + ".so." + kMajor;
    Found f = OpenCompanion(soname, s.probe.libraryPath, s.probe.version);
    std::string why = f.handle ? "" : soname + " was not found. Searched: " + f.searched;
    it = s.optional.emplace(base, std::make_pair(f.handle, why)).first;
  }
  if (!it->second.first) {
    if (reason) *reason = it->second.second;
    return nullptr;
  }
  dlerror();
  void* sym = dlsym(it->second.first, symbol);
  if (!sym && reason) *reason = base + ".so." + kMajor + " has no symbol " + symbol;
  return sym;
}

bool OnnxParserAvailable(std::string* reason) {
  std::lock_guard<std::mutex> lock(g_mutex);
  State& s = Selected();
  if (g_selection != Flavor::kFull && s.probe.available && g_selectionError.empty()) {
    if (reason) {
      *reason = "the ONNX parser (libnvonnxparser.so." + kMajor + ") is a companion of the full TensorRT library, but " +
                "tensorrt-node is using " + DescribeSelected(s);
    }
    return false;
  }
  if (!g_selectionError.empty()) {
    if (reason) *reason = g_selectionError;
    return false;
  }
  LoadParser(s);
  if (s.createParser) return true;
  if (reason) *reason = s.parserReason;
  return false;
}

nvonnxparser::IParser* CreateOnnxParser(nvinfer1::INetworkDefinition& network) {
  ParserFn create = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    State& s = FullOrThrow("The ONNX parser");
    LoadParser(s);
    if (!s.createParser) throw NativeError("TENSORRT_UNAVAILABLE", s.parserReason);
    create = s.createParser;
  }
  LogCapture capture;
  void* p = create(static_cast<void*>(&network), static_cast<void*>(&Logger()), NV_ONNX_PARSER_VERSION);
  if (!p) {
    std::string said = capture.Take();
    if (!said.empty()) throw NativeError("TENSORRT_ERROR", "createNvOnnxParser failed: " + said);
    FactoryFailed("createNvOnnxParser");
  }
  return static_cast<nvonnxparser::IParser*>(p);
}

#endif  // TN_HAVE_TENSORRT

}  // namespace tn::trt
