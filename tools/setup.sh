#!/usr/bin/env bash
# Installs every Debian package xbar needs. Idempotent: skips apt when all are present.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libtorch-dev libeigen3-dev libhdf5-dev hdf5-tools libcxxopts-dev doctest-dev libomp-dev
      libtomlplusplus-dev libopenblas0-pthread
      python3-torch python3-torchvision python3-h5py python3-numpy python3-matplotlib
      ngspice dataset-fashion-mnist fortunes
      openmpi-bin libopenmpi-dev
      clang libclang-rt-14-dev)  # clang: libFuzzer targets (tools/test.sh fuzz stage)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
