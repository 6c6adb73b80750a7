#!/usr/bin/env bash
# Configures and builds dualclip into build/ (or build-asan/ with --sanitize).
# Extra arguments after the flags go to CMake, e.g. -DCMAKE_PREFIX_PATH=/path/to/libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  shift
  build_dir=build-asan
  cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DDUALCLIP_SANITIZE=ON)
fi

jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}" "$@" >/dev/null
ninja -C "$build_dir" -j "$jobs"
echo "build: $build_dir/dualclip"
