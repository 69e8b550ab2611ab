#!/usr/bin/env bash
# Sets up, builds and runs the main job: the default accuracy-versus-precision study (the
# Fashion-MNIST ViT on emulated PCM / RRAM crossbars, ADC bits x ADC range x device x 3 chips).
# Prints the table, writes results/default_study.{csv,h5,png}. Running it again resumes / reprints.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
# LibTorch's OpenMP threads spin while waiting; passive waiting keeps 2 cores for useful work.
export OMP_WAIT_POLICY=PASSIVE
mkdir -p results
./build/xbar sweep data/studies/default.toml "$@"
/usr/bin/python3 tools/plot_study.py results/default_study.h5 --x adc.bits --out results/default_study.png
