#!/usr/bin/env bash
# Installs dependencies (tools/setup.sh) and builds xbar in build/ (Release, 2 jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
