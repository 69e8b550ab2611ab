#!/usr/bin/env bash
# Sets up, builds and runs the main job: one layer through the engine at several ADC resolutions
# and devices, printing the error table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
./build/xbar demo "$@"
