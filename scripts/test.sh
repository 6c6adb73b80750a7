#!/usr/bin/env bash
# Sets up the machine, builds dualclip and runs the whole test suite under CTest.
# --sanitize builds with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/
# and runs the same tests there.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh "$@"

build_dir=build
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build-asan
  # libtorch and OpenMP keep allocations alive until exit; leak reports there are not ours.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

build/dualclip --version 2>/dev/null || "$build_dir"/dualclip --version
# The machine has few cores: tests run one at a time, each using all of them.
ctest --test-dir "$build_dir" --output-on-failure
