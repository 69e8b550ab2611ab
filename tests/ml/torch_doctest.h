// Test support for Torch-using tests: Torch headers come first so that doctest's CHECK replaces
// glog's CHECK (Debian's LibTorch pulls in glog; the other order silently disables CHECKs).
#pragma once
#include <torch/script.h>
// keep this order
#include <doctest/doctest.h>
