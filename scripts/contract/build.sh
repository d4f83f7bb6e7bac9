#!/usr/bin/env bash
# Builds the CONTRACT-TEST addon (test doubles of our own contracts with TensorRT; never a release build):
#
#   bash scripts/contract/build.sh [TensorRT include dir]     (default: $TENSORRT_INCLUDE_DIR)
#
# It compiles every native/*.cc except addon.cc, plus test/contract/native/*.cc (its own module entry, with the
# calibrator driver), with -DTN_HAVE_TENSORRT=1 -DTN_CONTRACT_TESTS=1 against the given TensorRT headers (outside
# the repository, -isystem), with the project's warning flags (-Wall -Wextra -Werror, C++17), into
#   build-contract/tensorrt_node_contract.node      (+ build-contract/info.json: the headers it was built against)
# Nothing is downloaded; nothing links TensorRT (it is dlopen'ed, and the tests give it stand-in libraries).
# Objects are kept per header version in build-contract/obj-<version>/ and rebuilt when a source or header changed.
# Then: node --test test/contract/
set -euo pipefail
cd "$(dirname "$0")/../.."
inc=${1:-${TENSORRT_INCLUDE_DIR:-}}
[ -n "$inc" ] || { echo "contract build: give the TensorRT include folder (or set TENSORRT_INCLUDE_DIR)"; exit 2; }
[ -f "$inc/NvInfer.h" ] || { echo "contract build: $inc has no NvInfer.h"; exit 2; }
inc=$(cd "$inc" && pwd)
version=$(node -e "console.log(require('./scripts/find-deps').readTrtVersion(process.argv[1]) || 'unknown')" "$inc")
nodedir=$(node -e "console.log(require('./scripts/build-native').findNodeDir() || '')")
[ -n "$nodedir" ] || { echo "contract build: no Node headers"; exit 1; }
cuda_inc=$(node scripts/find-deps.js cuda-include)
addon_inc=$(node scripts/find-deps.js addon-include)
libs=$(node scripts/find-deps.js libs)
out=${TN_CONTRACT_OUT:-build-contract}  # another folder: TN_CONTRACT_OUT (then TN_CONTRACT_ADDON for the tests)
obj=$out/obj-$version
mkdir -p "$obj"
flags=(-std=c++17 -fPIC -O1 -g -fexceptions -Wall -Wextra -Werror -fvisibility=hidden
       -DTN_HAVE_TENSORRT=1 -DTN_CONTRACT_TESTS=1 -DNAPI_VERSION=8 -DNODE_ADDON_API_CPP_EXCEPTIONS
       -DNODE_ADDON_API_DISABLE_DEPRECATED
       -isystem "$nodedir/include/node" -isystem "$cuda_inc" -isystem "$addon_inc" -isystem "$inc" -Inative)
# TN_CONTRACT_CXXFLAGS: extra flags, e.g. "-fsanitize=address" (then run node with LD_PRELOAD=$(g++
# -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 and a separate TN_CONTRACT_OUT)
# shellcheck disable=SC2206
extra=(${TN_CONTRACT_CXXFLAGS:-})
flags+=("${extra[@]}")
sources=$(ls native/*.cc | grep -v '^native/addon.cc$'; ls test/contract/native/*.cc)
newest_header=$(ls -t native/*.h | head -1)
todo=()
for f in $sources; do
  o=$obj/$(basename "${f%.cc}").o
  if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ "$newest_header" -nt "$o" ] || [ "$0" -nt "$o" ]; then todo+=("$f"); fi
done
echo "contract build: TensorRT $version headers ($inc): compiling ${#todo[@]} of $(echo $sources | wc -w) files"
export obj
if [ ${#todo[@]} -gt 0 ]; then
  printf '%s\n' "${todo[@]}" | xargs -P "${TN_JOBS:-2}" -I{} sh -c 'g++ "$@" -c {} -o "$obj/$(basename {} .cc).o"' _ "${flags[@]}"
fi
objs=()
for f in $sources; do objs+=("$obj/$(basename "${f%.cc}").o"); done
# shellcheck disable=SC2086
g++ -shared "${extra[@]}" -o "$out/tensorrt_node_contract.node" "${objs[@]}" $libs -Wl,--exclude-libs,ALL
printf '{ "tensorrtInclude": "%s", "tensorrtVersion": "%s" }\n' "$inc" "$version" > "$out/info.json"
echo "contract build: built $out/tensorrt_node_contract.node (TensorRT $version headers); run: node --test test/contract/"
