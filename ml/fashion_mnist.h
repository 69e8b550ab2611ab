// Fashion-MNIST from Debian's dataset-fashion-mnist package (idx files, gzip-compressed).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xbar::data {

// Per-pixel normalisation applied by the loader: x = (byte / 255 - kMean) / kStd, the mean and std
// of all training pixels (so inputs are roughly zero-mean, unit-variance for every model).
constexpr float kFashionMean = 0.2860f;
constexpr float kFashionStd = 0.3530f;

struct FashionMnist {
  at::Tensor images;  // [N, 1, 28, 28] float32, normalised as above
  at::Tensor labels;  // [N] int64 in 0..9
};

// $XBAR_FASHION_MNIST if set, else /usr/share/datasets/fashion-mnist.
std::string fashion_mnist_dir();

// split: "train" (60000 images) or "test" (10000). Throws FileError naming the file when it is
// missing (with the apt-get command), truncated or has a bad idx header.
FashionMnist load_fashion_mnist(const std::string& split, const std::string& dir = fashion_mnist_dir());

// The decompressed bytes of a gzip file (throws FileError naming the file).
std::vector<uint8_t> read_gzip(const std::string& path);

}  // namespace xbar::data
