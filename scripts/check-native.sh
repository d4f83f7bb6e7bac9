#!/usr/bin/env bash
# Compiles every native/*.cc (syntax + semantics, no link) with our warning flags (-Wall -Wextra -Werror)
# once without TensorRT headers and once against each TensorRT include folder given:
#
#   scripts/check-native.sh /path/trt-10.0.0/include /path/trt-10.16/include /path/trt-11.1/include
#   (or TN_TRT_HEADER_SETS="dir1:dir2:..." scripts/check-native.sh)
#
# The headers stay outside the repository and are included with -isystem. Exit status 0 only when every
# combination compiles cleanly. Files given in TN_CHECK_FILES (space separated) restrict the check.
set -uo pipefail
cd "$(dirname "$0")/.."
sets=("$@")
if [ ${#sets[@]} -eq 0 ] && [ -n "${TN_TRT_HEADER_SETS:-}" ]; then IFS=: read -r -a sets <<< "$TN_TRT_HEADER_SETS"; fi
nodedir=$(node -e "console.log(require('./scripts/build-native').findNodeDir() || '')")
[ -n "$nodedir" ] || { echo "check-native: no Node headers"; exit 1; }
cuda_inc=$(node scripts/find-deps.js cuda-include) || exit 1
addon_inc=$(node scripts/find-deps.js addon-include)
files=${TN_CHECK_FILES:-$(ls native/*.cc)}
common=(-std=c++17 -fsyntax-only -fexceptions -Wall -Wextra -Werror -fvisibility=hidden
        -DNAPI_VERSION=8 -DNODE_ADDON_API_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
        -isystem "$nodedir/include/node" -isystem "$cuda_inc" -isystem "$addon_inc")
fail=0
run() {  # label, extra flags...
  local label=$1; shift
  local bad=0
  for f in $files; do
    if ! out=$(g++ "${common[@]}" "$@" "$f" 2>&1); then bad=1; fail=1; echo "--- $label: $f"; echo "$out" | head -40; fi
  done
  [ $bad -eq 0 ] && echo "check-native: OK   $label ($(echo $files | wc -w) files)" || echo "check-native: FAIL $label"
}
run "no TensorRT headers" -DTN_HAVE_TENSORRT=0
for d in "${sets[@]}"; do
  [ -f "$d/NvInfer.h" ] || { echo "check-native: $d has no NvInfer.h"; fail=1; continue; }
  v=$(node -e "console.log(require('./scripts/find-deps').readTrtVersion(process.argv[1]) || '?')" "$d")
  run "TensorRT $v headers ($d)" -DTN_HAVE_TENSORRT=1 -isystem "$d"
done
exit $fail
