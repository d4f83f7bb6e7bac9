#!/usr/bin/env bash
# Development machine: downloads the pinned TensorRT runtime-only wheels (scripts/gpu/trt-wheels.txt) into the
# git-ignored cache .cache/trt-wheels (or $1), manylinux x86_64, without dependencies. Kept between runs: a wheel
# already there is not downloaded again. scripts/gpu/prepare.sh bundles their .so files (TN_GPU_TRT_WHEELS).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-$ROOT/.cache/trt-wheels}
mkdir -p "$DIR"
grep -v '^#' "$ROOT/scripts/gpu/trt-wheels.txt" | grep -v '^$' | while read -r pin; do
  name=${pin%%==*}; ver=${pin##*==}
  if ls "$DIR/${name//-/_}-$ver-"*.whl >/dev/null 2>&1; then echo "fetch-trt-wheels: have $pin"; continue; fi
  echo "fetch-trt-wheels: pip download $pin"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$DIR" "$pin"
done
ls -la "$DIR"
