#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (CTest over the doctest executables).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
ctest --test-dir build -j"$(nproc)" --output-on-failure
