#!/usr/bin/env bash
# Release build of the npm tarball (docs/install.md, "Release"): the three prebuilt addons, the user-install check
# of the packed tarball, then `npm pack`. Needs the CUDA toolkit, a C++ compiler and the TensorRT headers of the
# OLDEST release of each major that the loader accepts (a library of the same major and an equal or newer minor):
#
#   TENSORRT10_INCLUDE=/path/to/TensorRT-10.0.0/include TENSORRT11_INCLUDE=/path/to/TensorRT-11.1/include \
#     bash scripts/release.sh            (or npm run release)
#
# The headers stay where they are (never copied into the repository); prebuilds/ is git-ignored and shipped.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "release: $*"; }
: "${TENSORRT10_INCLUDE:?set TENSORRT10_INCLUDE to the TensorRT 10 include dir (the oldest 10.x: 10.0)}"
: "${TENSORRT11_INCLUDE:?set TENSORRT11_INCLUDE to the TensorRT 11 include dir (the oldest 11.x available: 11.1)}"
for d in "$TENSORRT10_INCLUDE" "$TENSORRT11_INCLUDE"; do
  v=$(node -e 'console.log(require("./scripts/find-deps").readTrtVersion(process.argv[1]) || "")' "$d")
  [ -n "$v" ] || { say "ERROR: no TensorRT version readable in $d"; exit 1; }
  say "headers $d: TensorRT $v"
done
export ONNXRUNTIME_NODE_INSTALL=skip
npm run --silent build:ts
rm -rf prebuilds
node scripts/prebuild.js --tensorrt "$TENSORRT10_INCLUDE" --tensorrt "$TENSORRT11_INCLUDE"
node scripts/check-install.js
npm pack --ignore-scripts
