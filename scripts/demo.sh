#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds dualclip, and runs `dualclip demo` into
# demo_output/. Extra arguments go to the demo, e.g. --nproc_per_node 4; see
# `build/dualclip demo --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh
build/dualclip demo --output_dir demo_output "$@"
